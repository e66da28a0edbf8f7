//! The container image that `make image` builds (`scripts/build-image.sh`), reached through
//! `scripts/podman`, the one definition of the image store that the build, these tests and
//! the publishing workflow share.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::root;

/// The image's local name: what `scripts/build-image.sh` tags it as.
#[must_use]
pub fn tag() -> String {
    format!("localhost/akidb-embed:{}", app::VERSION)
}

/// The `scripts/podman` wrapper.
#[must_use]
pub fn podman_script() -> PathBuf {
    root().join("scripts/podman")
}

/// `scripts/podman <args>`, run to completion.
///
/// # Panics
/// When the wrapper cannot be started at all.
#[must_use]
pub fn podman(args: &[&str]) -> Output {
    Command::new(podman_script())
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", podman_script().display()))
}

/// `scripts/podman <args>`, which must succeed; its standard output.
///
/// # Panics
/// When podman fails, with its message (which says how to install podman when it is
/// missing).
pub fn podman_ok(args: &[&str]) -> String {
    let out = podman(args);
    assert!(
        out.status.success(),
        "scripts/podman {}: {}\n{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `podman image inspect` of [`tag`]: the image's size, configuration and layers.
///
/// # Panics
/// When podman is missing (with how to install it) or the image was not built (with the
/// command that builds it).
#[must_use]
pub fn inspect() -> serde_json::Value {
    let out = podman(&["image", "inspect", &tag()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{stderr}\nthe image {} is not in scripts/podman's store: build it with `make image`",
        tag()
    );
    let mut all: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(all.len(), 1, "one image named {}", tag());
    all.remove(0)
}

/// A container of the image, removed (with anything it still runs) when dropped.
pub struct Container {
    /// Its name.
    pub name: String,
}

impl Container {
    /// A new name for a container of this process, `<prefix>-<pid>-<n>` (tests run in
    /// threads), with no container left of that name by an earlier run.
    #[must_use]
    pub fn named(prefix: &str) -> Container {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("{prefix}-{}-{n}", std::process::id());
        let _ = podman(&["rm", "--force", "--ignore", &name]);
        Container { name }
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = podman(&["rm", "--force", "--ignore", &self.name]);
    }
}

/// Every path in the image's filesystem (`podman export` of a container created from it,
/// listed by `tar`), without the leading `/`; folders end in `/`.
///
/// # Panics
/// When podman or tar fails.
#[must_use]
pub fn files() -> Vec<String> {
    let c = Container::named("akidb-image-files");
    podman_ok(&["create", "--name", &c.name, &tag()]);
    let tar = root().join("target/image").join(format!("{}.tar", c.name));
    podman_ok(&[
        "export",
        "--output",
        tar.to_str().expect("a UTF-8 path"),
        &c.name,
    ]);
    let out = Command::new("tar")
        .arg("-tf")
        .arg(&tar)
        .output()
        .unwrap_or_else(|e| panic!("tar: {e}"));
    let _ = std::fs::remove_file(&tar);
    assert!(out.status.success(), "tar -tf {}", tar.display());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.trim_start_matches("./").to_owned())
        .filter(|l| !l.is_empty())
        .collect()
}
