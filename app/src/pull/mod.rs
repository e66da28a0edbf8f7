//! `akidb-embed models pull`: fetches each configured model from a Hugging Face-compatible
//! hub into `embedding.model_dir`, so the same image serves as the pod's init container.
//!
//! For each model: a folder whose marker matches the configured commit is left alone
//! ([`marker`]); otherwise, under the model's lock ([`folder`]), the revision's listing names
//! the files and their digests, each file is downloaded into a staging folder on the same
//! volume (resuming a `.part` with a `Range` request, [`fetch`]), checked against the digest
//! the hub announced and any pin ([`digest`]), and the folder is published by a rename only
//! once every file passed. A mismatch, a 404 or a cut connection never leaves a model
//! folder half-written.

pub mod client;
pub mod digest;
pub mod fetch;
pub mod folder;
pub mod marker;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use client::{Hub, HubError, Sibling, Token};
use digest::HubDigest;
use folder::Published;
use marker::{FileRecord, Marker};

use crate::hub::{DEFAULT_ENDPOINT, ModelSource};
use crate::models::MODEL_FILES;
use crate::{Config, ModelId, env_vars};

/// Why a pull failed. The process exits 1 on these and leaves no model folder half-written.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    /// `HF_ENDPOINT` is not a usable URL.
    #[error("environment variable HF_ENDPOINT={value:?}: {reason}")]
    Endpoint {
        /// Value it held.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A model with no built-in source and no `[hub.models.<id>]` entry.
    #[error(
        "{model}: no hub source; set hub.models.{model}.repo and .revision in the \
         configuration (only all-MiniLM-L6-v2 and e5-small-v2 have built-in ones)"
    )]
    NoSource {
        /// Model asked for.
        model: ModelId,
    },
    /// The revision listing could not be had.
    #[error("{model}: cannot list revision {revision} of {repo}: {source}")]
    Listing {
        /// Model pulled.
        model: ModelId,
        /// Repository.
        repo: String,
        /// Commit asked for.
        revision: String,
        /// What the hub answered.
        #[source]
        source: HubError,
    },
    /// The hub resolved the revision to another commit.
    #[error("{model}: the hub resolved revision {revision} of {repo} to commit {got}")]
    OtherCommit {
        /// Model pulled.
        model: ModelId,
        /// Repository.
        repo: String,
        /// Commit asked for.
        revision: String,
        /// Commit answered.
        got: String,
    },
    /// A file the server needs is not in the revision.
    #[error(
        "{model}: {repo} at {revision} has no {file}, which the server needs; pin a commit \
         that has it (hub.models.{model}.revision)"
    )]
    MissingFile {
        /// Model pulled.
        model: ModelId,
        /// Repository.
        repo: String,
        /// Commit.
        revision: String,
        /// Missing path.
        file: &'static str,
    },
    /// A pinned digest names a file the revision does not have: the pin could never be
    /// checked, so the model would never count as pulled.
    #[error(
        "{model}: hub.models.{model}.sha256 pins {file}, which {repo} at {revision} does not \
         have; remove the pin or pin another commit"
    )]
    PinWithoutFile {
        /// Model pulled.
        model: ModelId,
        /// Repository.
        repo: String,
        /// Commit.
        revision: String,
        /// Pinned path.
        file: String,
    },
    /// A download failed for good (after the retries, or at once for a 404 or a refusal).
    #[error("{model}: downloading {file} failed{}: {source}", attempts_suffix(*.attempts))]
    Download {
        /// Model pulled.
        model: ModelId,
        /// File.
        file: String,
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        #[source]
        source: fetch::FetchError,
    },
    /// A file's content does not match a digest; the download was deleted.
    #[error(
        "{model}: {file} does not match its {what}: expected {expected}, got {actual}; \
         the download was deleted"
    )]
    Mismatch {
        /// Model pulled.
        model: ModelId,
        /// File.
        file: String,
        /// Which digest (`sha256 announced by the hub`, `pinned sha256 (hub.models...)`).
        what: String,
        /// Expected value.
        expected: String,
        /// Value of the downloaded content.
        actual: String,
    },
    /// Neither the hub nor the configuration gives a digest to check a file against.
    #[error(
        "{model}: the hub announced no digest for {file} and none is pinned \
         (hub.models.{model}.sha256); refusing an unverifiable file"
    )]
    NoDigest {
        /// Model pulled.
        model: ModelId,
        /// File.
        file: String,
    },
    /// The hub's listing and its download headers disagree about a file.
    #[error(
        "{model}: the hub announced two digests for {file}: {listed} in the listing, {sent} with the download"
    )]
    HubDisagrees {
        /// Model pulled.
        model: ModelId,
        /// File.
        file: String,
        /// From the listing.
        listed: String,
        /// From the download's headers.
        sent: String,
    },
    /// A local file or folder operation failed.
    #[error("{model}: cannot {action} {}: {source}", path.display())]
    Io {
        /// Model pulled.
        model: ModelId,
        /// What was being done.
        action: &'static str,
        /// Path involved.
        path: PathBuf,
        /// Underlying error.
        #[source]
        source: std::io::Error,
    },
}

fn attempts_suffix(attempts: u32) -> String {
    if attempts > 1 {
        format!(" after {attempts} attempts")
    } else {
        String::new()
    }
}

/// The hub to pull from: `HF_ENDPOINT` (default `https://huggingface.co`) and `HF_TOKEN`.
#[derive(Debug)]
pub struct Endpoint {
    /// Base URL without a trailing slash.
    pub url: String,
    /// Token for gated or private models.
    pub token: Option<Token>,
}

impl Endpoint {
    /// Reads `HF_ENDPOINT` and `HF_TOKEN` through `lookup`.
    ///
    /// # Errors
    /// An endpoint that is not an `http(s)://` URL, or one with credentials in it.
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Result<Endpoint, PullError> {
        let value = lookup(env_vars::HF_ENDPOINT)
            .filter(|v| !v.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_ENDPOINT.to_owned());
        let url = value.trim().trim_end_matches('/').to_owned();
        let bad = |reason| PullError::Endpoint {
            value: value.clone(),
            reason,
        };
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))
            .ok_or_else(|| bad("it must start with https:// (or http:// for a local mirror)"))?;
        let authority = rest.split('/').next().unwrap_or("");
        if authority.is_empty() {
            return Err(bad("it names no host"));
        }
        if authority.contains('@') {
            return Err(bad(
                "credentials do not belong in the URL; put the token in HF_TOKEN",
            ));
        }
        Ok(Endpoint {
            url,
            token: lookup(env_vars::HF_TOKEN).and_then(Token::new),
        })
    }
}

/// What happened to one model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Its folder already held the configured commit, verified.
    Present,
    /// It was downloaded, verified and published.
    Pulled {
        /// Bytes received over the network.
        bytes: u64,
    },
    /// Another puller published it while this one waited or worked.
    PulledByAnother,
}

/// Pulls `models` (in order) as `config` says, from `endpoint`.
///
/// # Errors
/// The first model that could not be pulled; models before it stay published.
pub fn pull(
    config: &Config,
    models: &[ModelId],
    endpoint: &Endpoint,
) -> Result<Vec<(ModelId, Outcome)>, PullError> {
    let hub = Hub::new(
        &endpoint.url,
        endpoint.token.clone(),
        Duration::from_secs(u64::from(config.hub.timeout_secs)),
    );
    if endpoint.token.is_some() && endpoint.url.starts_with("http://") {
        tracing::warn!(endpoint = %endpoint.url, "HF_TOKEN is sent over plain http");
    }
    let dir = &config.embedding.model_dir;
    models
        .iter()
        .map(|id| {
            let source = config
                .hub
                .source(id)
                .ok_or_else(|| PullError::NoSource { model: id.clone() })?;
            pull_model(&hub, config.hub.max_retries, dir, id, &source).map(|o| (id.clone(), o))
        })
        .collect()
}

/// Pulls one model into `<model_dir>/<id>/`.
///
/// # Errors
/// See [`PullError`].
pub fn pull_model(
    hub: &Hub,
    max_retries: u32,
    model_dir: &Path,
    id: &ModelId,
    source: &ModelSource,
) -> Result<Outcome, PullError> {
    let dest = model_dir.join(id.as_str());
    let done = || Marker::read(&dest).is_some_and(|m| m.matches(source, &dest));
    if done() {
        tracing::info!(model = %id, revision = %source.revision, dir = %dest.display(), "already pulled and verified");
        return Ok(Outcome::Present);
    }
    let io = |action, path: &Path| io_error(id, action, path);
    std::fs::create_dir_all(model_dir).map_err(io("create", model_dir))?;
    let lock = folder::lock(model_dir, id).map_err(io("lock", model_dir))?;
    if done() {
        tracing::info!(model = %id, revision = %source.revision, "another puller published it");
        return Ok(Outcome::PulledByAnother);
    }

    let started = Instant::now();
    tracing::info!(model = %id, repo = %source.repo, revision = %source.revision, endpoint = %hub.endpoint(), "pulling");
    let plan = plan(hub, max_retries, id, source)?;
    let staging = folder::staging(model_dir, id, &source.revision, lock.is_none());
    std::fs::create_dir_all(&staging).map_err(io("create", &staging))?;

    let mut bytes = 0;
    let mut files = BTreeMap::new();
    for file in &plan {
        let (received, record) = fetch_verified(hub, max_retries, id, source, &staging, file)?;
        bytes += received;
        files.insert(file.path.to_owned(), record);
    }
    let marker = Marker {
        repo: source.repo.clone(),
        revision: source.revision.clone(),
        files,
    };
    marker
        .write(&staging)
        .map_err(io("write the marker in", &staging))?;
    folder::sync_dir(&staging).map_err(io("sync", &staging))?;
    let published = folder::publish(&staging, &dest, done).map_err(io("publish", &dest))?;
    drop(lock);
    Ok(match published {
        Published::Ours => {
            tracing::info!(
                model = %id,
                revision = %source.revision,
                dir = %dest.display(),
                bytes,
                seconds = started.elapsed().as_secs_f64(),
                "pulled and verified"
            );
            Outcome::Pulled { bytes }
        }
        Published::Theirs => Outcome::PulledByAnother,
    })
}

/// One file to fetch and what it must match.
#[derive(Debug, Clone)]
struct Planned {
    path: &'static str,
    size: Option<u64>,
    listed: Option<HubDigest>,
    pin: Option<String>,
}

/// The model's files present at the revision, with their listed digests.
fn plan(
    hub: &Hub,
    max_retries: u32,
    id: &ModelId,
    source: &ModelSource,
) -> Result<Vec<Planned>, PullError> {
    let mut attempt = 0;
    let info = loop {
        attempt += 1;
        match hub.revision(&source.repo, &source.revision) {
            Ok(info) => break info,
            Err(e) if e.is_transient() && attempt <= max_retries => {
                let wait = fetch::backoff(attempt);
                tracing::warn!(model = %id, attempt, max_retries, wait_secs = wait.as_secs_f64(), error = %e, "listing failed; retrying");
                std::thread::sleep(wait);
            }
            Err(e) => {
                return Err(PullError::Listing {
                    model: id.clone(),
                    repo: source.repo.clone(),
                    revision: source.revision.clone(),
                    source: e,
                });
            }
        }
    };
    if !info.sha.eq_ignore_ascii_case(&source.revision) {
        return Err(PullError::OtherCommit {
            model: id.clone(),
            repo: source.repo.clone(),
            revision: source.revision.clone(),
            got: info.sha,
        });
    }
    let mut planned = Vec::new();
    for f in MODEL_FILES {
        let Some(s) = info.siblings.iter().find(|s| s.path == f.path) else {
            if f.required {
                return Err(PullError::MissingFile {
                    model: id.clone(),
                    repo: source.repo.clone(),
                    revision: source.revision.clone(),
                    file: f.path,
                });
            }
            continue;
        };
        planned.push(Planned {
            path: f.path,
            size: s.lfs.as_ref().map(|l| l.size).or(s.size),
            listed: listed_digest(s),
            pin: source.sha256.get(f.path).cloned(),
        });
    }
    if let Some(file) = source
        .sha256
        .keys()
        .find(|f| !planned.iter().any(|p| p.path == f.as_str()))
    {
        return Err(PullError::PinWithoutFile {
            model: id.clone(),
            repo: source.repo.clone(),
            revision: source.revision.clone(),
            file: file.clone(),
        });
    }
    Ok(planned)
}

fn listed_digest(s: &Sibling) -> Option<HubDigest> {
    match (&s.lfs, &s.blob_id) {
        (Some(lfs), _) => HubDigest::from_hex(&lfs.sha256),
        (None, Some(blob)) => HubDigest::from_hex(blob),
        (None, None) => None,
    }
}

/// Downloads one file into `staging` and checks it; returns the bytes received and the
/// record for the marker. A verified file already in `staging` (a previous run's) is kept.
fn fetch_verified(
    hub: &Hub,
    max_retries: u32,
    id: &ModelId,
    source: &ModelSource,
    staging: &Path,
    file: &Planned,
) -> Result<(u64, FileRecord), PullError> {
    let io = |action, path: &Path| io_error(id, action, path);
    let done = staging.join(file.path);
    if let Some(parent) = done.parent() {
        std::fs::create_dir_all(parent).map_err(io("create", parent))?;
    }
    // A file verified by an earlier, interrupted run: check it again, it is cheap here.
    if done.is_file() {
        let d = digest::of_file(&done).map_err(io("read", &done))?;
        if let Some(listed) = &file.listed
            && listed.check(&d).0
            && file.pin.as_ref().is_none_or(|p| *p == d.sha256)
        {
            return Ok((0, record(&d)));
        }
        std::fs::remove_file(&done).map_err(io("remove", &done))?;
    }
    let part = staging.join(format!("{}.part", file.path));
    let fetched = fetch::to_part(
        hub,
        &source.repo,
        &source.revision,
        file.path,
        file.size,
        &part,
        max_retries,
    )
    .map_err(|(attempts, e)| match e {
        fetch::FetchError::Io(source) => PullError::Io {
            model: id.clone(),
            action: "write",
            path: part.clone(),
            source,
        },
        e => PullError::Download {
            model: id.clone(),
            file: file.path.to_owned(),
            attempts,
            source: e,
        },
    })?;
    let d = digest::of_file(&part).map_err(io("read", &part))?;
    let mismatch = |what: String, expected: String, actual: String| PullError::Mismatch {
        model: id.clone(),
        file: file.path.to_owned(),
        what,
        expected,
        actual,
    };
    let verdict = check(id, file, &fetched.announced, &d, mismatch);
    if let Err(e) = verdict {
        // Never resume from bytes that failed a check.
        let _ = std::fs::remove_file(&part);
        return Err(e);
    }
    std::fs::rename(&part, &done).map_err(io("rename", &part))?;
    tracing::info!(
        model = %id,
        file = file.path,
        size = d.size,
        received = fetched.received,
        resumed_from = fetched.resumed_from,
        sha256 = %d.sha256,
        "verified"
    );
    Ok((fetched.received, record(&d)))
}

/// Maps a local I/O failure on `path` to [`PullError::Io`].
fn io_error(
    model: &ModelId,
    action: &'static str,
    path: &Path,
) -> impl FnOnce(std::io::Error) -> PullError + use<> {
    let path = path.to_owned();
    let model = model.clone();
    move |source| PullError::Io {
        model,
        action,
        path,
        source,
    }
}

fn record(d: &digest::Digests) -> FileRecord {
    FileRecord {
        size: d.size,
        sha256: d.sha256.clone(),
    }
}

/// Checks a downloaded file against everything announced and pinned for it.
fn check(
    id: &ModelId,
    file: &Planned,
    announced: &client::Announced,
    d: &digest::Digests,
    mismatch: impl Fn(String, String, String) -> PullError,
) -> Result<(), PullError> {
    // The download's own headers: X-Linked-Etag for LFS files, else the hub's ETag.
    let sent = announced
        .linked_etag
        .as_deref()
        .or(announced.etag.as_deref())
        .and_then(HubDigest::from_hex);
    let hub_digest = match (&file.listed, sent) {
        (Some(l), Some(s)) if *l != s => {
            return Err(PullError::HubDisagrees {
                model: id.clone(),
                file: file.path.to_owned(),
                listed: format!("{l:?}"),
                sent: format!("{s:?}"),
            });
        }
        (Some(l), _) => Some(l.clone()),
        (None, s) => s,
    };
    if hub_digest.is_none() && file.pin.is_none() {
        return Err(PullError::NoDigest {
            model: id.clone(),
            file: file.path.to_owned(),
        });
    }
    if let Some(h) = &hub_digest {
        let (ok, kind, want, got) = h.check(d);
        if !ok {
            return Err(mismatch(format!("{kind} announced by the hub"), want, got));
        }
    }
    if let Some(pin) = &file.pin
        && *pin != d.sha256
    {
        return Err(mismatch(
            format!("pinned sha256 (hub.models.{id}.sha256)"),
            pin.clone(),
            d.sha256.clone(),
        ));
    }
    for size in [file.size, announced.size].into_iter().flatten() {
        if size != d.size {
            return Err(mismatch(
                "size announced by the hub".into(),
                size.to_string(),
                d.size.to_string(),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn endpoint_defaults_to_the_public_hub_and_refuses_bad_urls() {
        let e = Endpoint::from_env(env(&[])).unwrap();
        assert_eq!(e.url, "https://huggingface.co");
        assert!(e.token.is_none());
        let e = Endpoint::from_env(env(&[
            ("HF_ENDPOINT", "http://127.0.0.1:9/mirror/"),
            ("HF_TOKEN", "hf_x"),
        ]))
        .unwrap();
        assert_eq!(e.url, "http://127.0.0.1:9/mirror");
        assert!(e.token.is_some());
        for bad in ["huggingface.co", "ftp://h", "https://", "https://u:p@h"] {
            let err = Endpoint::from_env(env(&[("HF_ENDPOINT", bad)]))
                .unwrap_err()
                .to_string();
            assert!(
                err.starts_with("environment variable HF_ENDPOINT="),
                "{err}"
            );
        }
    }

    #[test]
    fn a_file_is_checked_against_every_digest_it_has() {
        let d = digest::Digests {
            size: 3,
            sha256: "a".repeat(64),
            git_blob: "b".repeat(40),
        };
        let planned = |listed: Option<HubDigest>, pin: Option<String>| Planned {
            path: "config.json",
            size: Some(3),
            listed,
            pin,
        };
        let none = client::Announced::default();
        let run = |p: &Planned, a: &client::Announced| {
            check(
                &crate::KnownModel::E5SmallV2.id(),
                p,
                a,
                &d,
                |what, _, _| PullError::Mismatch {
                    model: crate::KnownModel::E5SmallV2.id(),
                    file: p.path.to_owned(),
                    what,
                    expected: String::new(),
                    actual: String::new(),
                },
            )
            .map_err(|e| e.to_string())
        };
        assert!(
            run(
                &planned(Some(HubDigest::GitBlob("b".repeat(40))), None),
                &none
            )
            .is_ok()
        );
        let err = run(
            &planned(Some(HubDigest::GitBlob("c".repeat(40))), None),
            &none,
        )
        .unwrap_err();
        assert!(err.contains("git blob id announced by the hub"), "{err}");
        let err = run(
            &planned(
                Some(HubDigest::Sha256("a".repeat(64))),
                Some("f".repeat(64)),
            ),
            &none,
        )
        .unwrap_err();
        assert!(
            err.contains("pinned sha256 (hub.models.e5-small-v2.sha256)"),
            "{err}"
        );
        let err = run(&planned(None, None), &none).unwrap_err();
        assert!(err.contains("refusing an unverifiable file"), "{err}");
        // Only the headers announce it: they are used.
        let headers = client::Announced {
            etag: Some("b".repeat(40)),
            ..Default::default()
        };
        assert!(run(&planned(None, None), &headers).is_ok());
        // Listing and headers disagree.
        let err = run(
            &planned(Some(HubDigest::GitBlob("c".repeat(40))), None),
            &headers,
        )
        .unwrap_err();
        assert!(err.contains("two digests"), "{err}");
    }
}
