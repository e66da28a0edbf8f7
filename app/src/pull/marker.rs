//! The marker a verified model folder carries ([`crate::hub::MARKER_FILE`]): repository,
//! commit, and each file's size and sha256. It is written last, inside the staging folder,
//! so a folder with a marker is a folder whose every file was verified.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::hub::{MARKER_FILE, ModelSource};

/// One verified file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    /// Size in bytes.
    pub size: u64,
    /// sha256, lowercase hex.
    pub sha256: String,
}

/// The content of the marker file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Marker {
    /// Repository the files came from.
    pub repo: String,
    /// Commit they came from.
    pub revision: String,
    /// Every file pulled, by path inside the folder.
    pub files: BTreeMap<String, FileRecord>,
}

impl Marker {
    /// The marker of `dir`, if it has a readable one.
    #[must_use]
    pub fn read(dir: &Path) -> Option<Marker> {
        let text = std::fs::read(dir.join(MARKER_FILE)).ok()?;
        serde_json::from_slice(&text).ok()
    }

    /// Whether `dir` holds `source`'s files as verified: same repository and commit, every
    /// pin equal to the recorded digest, every file present with its recorded size. Sizes,
    /// not digests, are checked here: the digests were checked before the folder was
    /// published, and re-reading the weights at every pod start would double what a shared
    /// volume serves.
    #[must_use]
    pub fn matches(&self, source: &ModelSource, dir: &Path) -> bool {
        self.repo == source.repo
            && self.revision == source.revision
            && source
                .sha256
                .iter()
                .all(|(f, d)| self.files.get(f).is_some_and(|r| r.sha256 == *d))
            && self.files.iter().all(|(f, r)| {
                std::fs::metadata(dir.join(f)).is_ok_and(|m| m.is_file() && m.len() == r.size)
            })
    }

    /// Writes the marker into `dir` through a temporary file and a rename, then syncs it.
    ///
    /// # Errors
    /// The file cannot be written.
    pub fn write(&self, dir: &Path) -> io::Result<()> {
        let tmp = dir.join(format!("{MARKER_FILE}.tmp"));
        let mut f = std::fs::File::create(&tmp)?;
        let text = serde_json::to_vec_pretty(self).map_err(io::Error::other)?;
        f.write_all(&text)?;
        f.write_all(b"\n")?;
        f.sync_all()?;
        std::fs::rename(&tmp, dir.join(MARKER_FILE))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_marker_matches_only_its_source_and_intact_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.json"), b"{}").unwrap();
        let mut source = ModelSource::default_for(crate::KnownModel::E5SmallV2);
        let marker = Marker {
            repo: source.repo.clone(),
            revision: source.revision.clone(),
            files: BTreeMap::from([(
                "config.json".to_owned(),
                FileRecord {
                    size: 2,
                    sha256: "a".repeat(64),
                },
            )]),
        };
        marker.write(dir.path()).unwrap();
        let read = Marker::read(dir.path()).unwrap();
        assert_eq!(read, marker);
        assert!(read.matches(&source, dir.path()));

        source.sha256.insert("config.json".into(), "b".repeat(64));
        assert!(!read.matches(&source, dir.path()), "a pin that differs");
        source.sha256.insert("config.json".into(), "a".repeat(64));
        assert!(read.matches(&source, dir.path()));

        let mut other = source.clone();
        other.revision = "0".repeat(40);
        assert!(!read.matches(&other, dir.path()), "another commit");

        std::fs::write(dir.path().join("config.json"), b"{ }").unwrap();
        assert!(!read.matches(&source, dir.path()), "a file of another size");
        std::fs::remove_file(dir.path().join("config.json")).unwrap();
        assert!(!read.matches(&source, dir.path()), "a missing file");
    }
}
