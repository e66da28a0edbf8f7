//! Where a model is assembled before it appears, and how it appears: a staging folder beside
//! the model folder (so on the same volume), published by renames, under a lock so that
//! pods pulling into one shared claim download each model once.
//!
//! ```text
//! <model_dir>/
//!   .<id>.lock                    lock file (never removed: removing it would race)
//!   .<id>.<commit>.partial/       staging: `<file>.part` while downloading, `<file>` once verified
//!   <id>/                         published: every file verified, marker written last
//! ```
//!
//! The lock is an advisory `flock` on the lock file; on NFS, Linux maps it to a byte-range
//! lock the server keeps. Where the volume refuses locks, each puller stages in a private
//! folder instead: pullers then download in parallel, and the rename race at the end is
//! harmless because every contender publishes a complete, verified folder of the same
//! commit, and a loser whose rename fails finds the winner's marker and stops.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::ModelId;

/// A held lock; released when dropped (and by the kernel when the process dies).
#[derive(Debug)]
pub struct Lock(#[allow(dead_code)] File);

/// Takes the lock of `id` in `model_dir`, waiting while another puller holds it.
/// `Ok(None)` when the volume does not support locks.
///
/// # Errors
/// The lock file cannot be created.
pub fn lock(model_dir: &Path, id: &ModelId) -> io::Result<Option<Lock>> {
    let path = model_dir.join(format!(".{id}.lock"));
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)?;
    let started = Instant::now();
    let mut told = Duration::ZERO;
    loop {
        // Spelled out: from Rust 1.89 on, std's own `File::try_lock` would shadow the trait's.
        match fs4::FileExt::try_lock(&file) {
            Ok(()) => return Ok(Some(Lock(file))),
            Err(fs4::TryLockError::WouldBlock) => {
                let waited = started.elapsed();
                if waited >= told {
                    tracing::info!(
                        model = %id,
                        lock = %path.display(),
                        waited_secs = waited.as_secs(),
                        "another puller holds the lock; waiting for it"
                    );
                    told = waited + Duration::from_secs(30);
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(fs4::TryLockError::Error(e)) => {
                tracing::warn!(
                    model = %id,
                    lock = %path.display(),
                    error = %e,
                    "the volume refuses file locks; staging in a private folder"
                );
                return Ok(None);
            }
        }
    }
}

/// The staging folder of `id` at `revision`: shared (and so resumable by the next puller)
/// under the lock, private to this process without it.
#[must_use]
pub fn staging(model_dir: &Path, id: &ModelId, revision: &str, private: bool) -> PathBuf {
    let short = &revision[..revision.len().min(12)];
    if private {
        model_dir.join(format!(".{id}.{short}.{}.partial", unique()))
    } else {
        model_dir.join(format!(".{id}.{short}.partial"))
    }
}

fn unique() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{}-{nanos}", std::process::id())
}

/// How a publish ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Published {
    /// Our staging folder is now the model folder.
    Ours,
    /// Another puller published first; ours was discarded.
    Theirs,
}

/// Makes `staging` the folder `dest`. An older `dest` (another commit, or files put there by
/// hand) is moved aside first and removed after: `rename` cannot replace a folder that is not
/// empty. `already_done` tells whether a `dest` that appeared meanwhile is an equal model.
///
/// # Errors
/// A rename or sync that fails.
pub fn publish(
    staging: &Path,
    dest: &Path,
    already_done: impl Fn() -> bool,
) -> io::Result<Published> {
    let parent = dest.parent().unwrap_or(Path::new("."));
    let mut aside = None;
    if dest.exists() {
        if already_done() {
            std::fs::remove_dir_all(staging)?;
            return Ok(Published::Theirs);
        }
        let name = dest
            .file_name()
            .map_or_else(|| "model".into(), |n| n.to_string_lossy().into_owned());
        let old = parent.join(format!(".{name}.replaced.{}", unique()));
        std::fs::rename(dest, &old)?;
        aside = Some(old);
    }
    match std::fs::rename(staging, dest) {
        Ok(()) => {}
        // Another puller without a lock renamed its folder first.
        Err(e) if dest.exists() && already_done() => {
            tracing::debug!(error = %e, "another puller published first");
            std::fs::remove_dir_all(staging)?;
            return Ok(Published::Theirs);
        }
        Err(e) => return Err(e),
    }
    sync_dir(parent)?;
    if let Some(old) = aside
        && let Err(e) = std::fs::remove_dir_all(&old)
    {
        tracing::warn!(folder = %old.display(), error = %e, "could not remove the replaced folder");
    }
    Ok(Published::Ours)
}

/// Makes a folder's entries (new names, renames) durable.
///
/// # Errors
/// The folder cannot be opened or synced.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_waits_for_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let first = lock(dir.path(), &crate::KnownModel::E5SmallV2.id())
            .unwrap()
            .unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let path = dir.path().to_owned();
        let t = std::thread::spawn(move || {
            let l = lock(&path, &crate::KnownModel::E5SmallV2.id()).unwrap();
            tx.send(()).unwrap();
            l
        });
        assert!(rx.recv_timeout(Duration::from_millis(500)).is_err());
        drop(first);
        rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert!(t.join().unwrap().is_some());
    }

    #[test]
    fn publish_replaces_an_older_folder_and_yields_to_an_equal_one() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("m");
        std::fs::create_dir(&dest).unwrap();
        std::fs::write(dest.join("old"), b"x").unwrap();

        let staging = dir.path().join(".m.partial");
        std::fs::create_dir(&staging).unwrap();
        std::fs::write(staging.join("new"), b"y").unwrap();
        assert_eq!(publish(&staging, &dest, || false).unwrap(), Published::Ours);
        assert!(dest.join("new").is_file() && !dest.join("old").exists());
        assert!(!staging.exists());
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "the replaced folder is removed");

        std::fs::create_dir(&staging).unwrap();
        assert_eq!(
            publish(&staging, &dest, || true).unwrap(),
            Published::Theirs
        );
        assert!(!staging.exists() && dest.join("new").is_file());
    }
}
