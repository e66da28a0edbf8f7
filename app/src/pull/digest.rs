//! Digests of a downloaded file, and what it must match.
//!
//! The hub announces a sha256 for files stored in LFS (the weights). For small files kept in
//! git itself (config.json, tokenizer.json) it announces only their git blob id: the sha1 of
//! `blob <len>\0<content>`. Both are computed in one pass, so every file is checked against
//! what the hub announced for it; the sha256 is also what pins in `config.toml` and the
//! marker file record.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use sha1::Sha1;
use sha2::{Digest, Sha256};

/// What one pass over a file gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digests {
    /// Bytes read.
    pub size: u64,
    /// sha256 of the content, lowercase hex.
    pub sha256: String,
    /// Git blob id of the content, lowercase hex.
    pub git_blob: String,
}

/// The digest the hub announced for a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HubDigest {
    /// sha256 of the content (LFS files).
    Sha256(String),
    /// Git blob id (files kept in git).
    GitBlob(String),
}

impl HubDigest {
    /// Reads an announced value by its length: 64 hex digits are a sha256, 40 a git blob id.
    #[must_use]
    pub fn from_hex(value: &str) -> Option<HubDigest> {
        let v = value.to_ascii_lowercase();
        if !v.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        match v.len() {
            64 => Some(HubDigest::Sha256(v)),
            40 => Some(HubDigest::GitBlob(v)),
            _ => None,
        }
    }

    /// Whether `d` matches, and the announced and actual values for a message.
    #[must_use]
    pub fn check(&self, d: &Digests) -> (bool, &'static str, String, String) {
        match self {
            HubDigest::Sha256(want) => {
                (*want == d.sha256, "sha256", want.clone(), d.sha256.clone())
            }
            HubDigest::GitBlob(want) => (
                *want == d.git_blob,
                "git blob id",
                want.clone(),
                d.git_blob.clone(),
            ),
        }
    }
}

/// Hashes `path` in one pass.
///
/// # Errors
/// The file cannot be read, or changed length while being read.
pub fn of_file(path: &Path) -> io::Result<Digests> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    let mut sha256 = Sha256::new();
    let mut git = Sha1::new();
    git.update(format!("blob {len}\0").as_bytes());
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        sha256.update(&buf[..n]);
        git.update(&buf[..n]);
        size += n as u64;
    }
    if size != len {
        return Err(io::Error::other(format!(
            "{} changed while it was hashed ({len} bytes, then {size})",
            path.display()
        )));
    }
    Ok(Digests {
        size,
        sha256: hex(&sha256.finalize()),
        git_blob: hex(&git.finalize()),
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_match_sha256sum_and_git_hash_object() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"hello\n").unwrap();
        let d = of_file(&p).unwrap();
        assert_eq!(d.size, 6);
        // `printf 'hello\n' | sha256sum` and `| git hash-object --stdin`.
        assert_eq!(
            d.sha256,
            "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
        );
        assert_eq!(d.git_blob, "ce013625030ba8dba906f756967f9e9ca394464a");
        assert!(HubDigest::GitBlob(d.git_blob.clone()).check(&d).0);
        assert!(!HubDigest::Sha256("0".repeat(64)).check(&d).0);
    }

    #[test]
    fn announced_values_are_told_apart_by_length() {
        assert_eq!(
            HubDigest::from_hex(&"A".repeat(64)),
            Some(HubDigest::Sha256("a".repeat(64)))
        );
        assert_eq!(
            HubDigest::from_hex(&"b".repeat(40)),
            Some(HubDigest::GitBlob("b".repeat(40)))
        );
        assert_eq!(HubDigest::from_hex("abc"), None);
        assert_eq!(HubDigest::from_hex(&"z".repeat(40)), None);
    }
}
