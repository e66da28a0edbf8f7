//! `gen check` as the tests run it: the real kubernetes-validate (`make tools` installs it
//! into `.venv`; `KUBERNETES_VALIDATE` overrides the path), kubeconform left out.

#![allow(dead_code)] // each test binary uses its own share of these

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository's root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The upstream CRDs, in the shared folder beside the repository.
pub fn shared_crds() -> PathBuf {
    let dir = root().join("../shared/crds");
    assert!(
        dir.join("postgresql.cnpg.io_clusters.yaml").is_file(),
        "the upstream CRDs are expected in {} (the shared folder beside the repository)",
        dir.display()
    );
    dir
}

/// The kubernetes-validate to run; fails with how to install it when it is missing.
pub fn kubernetes_validate() -> PathBuf {
    let path = std::env::var_os("KUBERNETES_VALIDATE").map_or_else(
        || root().join(".venv/bin/kubernetes-validate"),
        PathBuf::from,
    );
    assert!(
        Command::new(&path).arg("--version").output().is_ok(),
        "kubernetes-validate not found at {}: run `make tools` or `pip install kubernetes-validate` and set KUBERNETES_VALIDATE",
        path.display()
    );
    path
}

/// Runs `gen check` with `args` from the repository's root; its output, and stdout and
/// stderr as one text.
pub fn gen_check<I, S>(args: I) -> (Output, String)
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let out = Command::new(env!("CARGO_BIN_EXE_gen"))
        .arg("check")
        .args(args)
        .current_dir(root())
        .env("KUBERNETES_VALIDATE", kubernetes_validate())
        .env("KUBECONFORM", "/nonexistent/kubeconform")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out, text)
}

/// Loads `yaml` and asserts it is refused with a message that names `setting` and says
/// `says`.
pub fn assert_refused(yaml: &str, setting: &str, says: &str) {
    let err = match akidb_gen::pipeline::load_str(yaml, "a.yaml") {
        Ok(_) => panic!("accepted, but `{setting}` should be refused:\n{yaml}"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains(setting) && err.contains(says),
        "expected `{setting}` and {says:?} in:\n{err}\nfor:\n{yaml}"
    );
}

/// [`assert_refused`] for `base` with its first `from` replaced by `to` (which must change
/// it).
pub fn assert_refused_after(base: &str, from: &str, to: &str, setting: &str, says: &str) {
    let bad = base.replacen(from, to, 1);
    assert_ne!(bad, base, "`{from}` is not in the base");
    assert_refused(&bad, setting, says);
}
