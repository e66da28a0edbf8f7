//! One file into its `.part`, resuming: each attempt asks for the bytes after those already
//! on disk (`Range: bytes=<len>-`), so a cut connection costs only what was in flight, both
//! within one run (the retries) and across runs (a restarted init container finds the
//! `.part` in the shared staging folder).

use std::fs::OpenOptions;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use super::client::{Announced, Hub, HubError};

/// Why an attempt failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The hub refused or failed.
    #[error(transparent)]
    Hub(#[from] HubError),
    /// The connection broke (or went silent) in the middle of the body.
    #[error("the connection was cut after {at} bytes: {source}")]
    Cut {
        /// Bytes of the file on disk when it broke.
        at: u64,
        /// What the client saw.
        #[source]
        source: io::Error,
    },
    /// The range answered does not start where it was asked to.
    #[error("asked for the bytes from {asked}, the hub answered from {got}")]
    WrongRange {
        /// Offset asked.
        asked: u64,
        /// Offset answered.
        got: u64,
    },
    /// Writing to the local `.part` failed.
    #[error(transparent)]
    Io(io::Error),
}

impl FetchError {
    fn is_transient(&self) -> bool {
        match self {
            FetchError::Hub(h) => h.is_transient() || is_unsatisfiable(h),
            FetchError::Cut { .. } | FetchError::WrongRange { .. } => true,
            FetchError::Io(_) => false,
        }
    }
}

/// 416: the `.part` is not a prefix the hub can continue (a file shorter than it).
fn is_unsatisfiable(h: &HubError) -> bool {
    matches!(h, HubError::Status { status: 416, .. })
}

/// What a finished download brought.
#[derive(Debug, Clone, Default)]
pub struct Fetched {
    /// The hub's headers of the last attempt (none when the `.part` was already whole).
    pub announced: Announced,
    /// Bytes received over the network, all attempts together.
    pub received: u64,
    /// Length of the `.part` found on disk before the first attempt.
    pub resumed_from: u64,
}

/// Downloads `path` into `part` with up to `max_retries` further attempts after the first,
/// each resuming where the last stopped.
///
/// # Errors
/// The number of attempts made and the last failure.
pub fn to_part(
    hub: &Hub,
    repo: &str,
    revision: &str,
    path: &str,
    size: Option<u64>,
    part: &Path,
    max_retries: u32,
) -> Result<Fetched, (u32, FetchError)> {
    let len = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
    let mut fetched = Fetched {
        resumed_from: len(part),
        ..Fetched::default()
    };
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let mut have = len(part);
        if let Some(size) = size {
            if have > size {
                truncate(part).map_err(|e| (attempt, FetchError::Io(e)))?;
                have = 0;
            }
            if have == size && size > 0 {
                return Ok(fetched);
            }
        }
        let result = one_attempt(hub, repo, revision, path, part, have, &mut fetched);
        let err = match result {
            Ok(()) => return Ok(fetched),
            Err(e) => e,
        };
        if let FetchError::Hub(h) = &err
            && is_unsatisfiable(h)
        {
            truncate(part).map_err(|e| (attempt, FetchError::Io(e)))?;
        }
        if !err.is_transient() || attempt > max_retries {
            return Err((attempt, err));
        }
        let wait = backoff(attempt);
        tracing::warn!(
            file = path,
            attempt,
            max_retries,
            wait_secs = wait.as_secs_f64(),
            error = %err,
            "download interrupted; resuming"
        );
        std::thread::sleep(wait);
    }
}

/// Pause before attempt `attempt + 1`: 0.5 s, 1 s, 2 s, ... up to 8 s.
pub(crate) fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(500u64 << attempt.saturating_sub(1).min(4))
}

fn truncate(part: &Path) -> io::Result<()> {
    match std::fs::remove_file(part) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

fn one_attempt(
    hub: &Hub,
    repo: &str,
    revision: &str,
    path: &str,
    part: &Path,
    have: u64,
    fetched: &mut Fetched,
) -> Result<(), FetchError> {
    let mut dl = hub.download(repo, revision, path, have)?;
    fetched.announced = dl.announced.clone();
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(part)
        .map_err(FetchError::Io)?;
    if dl.start != 0 && dl.start != have {
        return Err(FetchError::WrongRange {
            asked: have,
            got: dl.start,
        });
    }
    // A full answer (the range was ignored, or nothing was on disk) starts the file over.
    file.set_len(dl.start).map_err(FetchError::Io)?;
    file.seek(SeekFrom::Start(dl.start))
        .map_err(FetchError::Io)?;
    let mut at = dl.start;
    let mut buf = vec![0u8; 1 << 20];
    let mut last_report = Instant::now();
    loop {
        let n = match dl.body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(source) => {
                // Keep what arrived: the next attempt resumes after it.
                file.sync_data().map_err(FetchError::Io)?;
                return Err(FetchError::Cut { at, source });
            }
        };
        file.write_all(&buf[..n]).map_err(FetchError::Io)?;
        at += n as u64;
        fetched.received += n as u64;
        if last_report.elapsed() >= Duration::from_secs(10) {
            tracing::info!(file = path, bytes = at, "downloading");
            last_report = Instant::now();
        }
    }
    file.sync_all().map_err(FetchError::Io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_eight_seconds() {
        let secs: Vec<f64> = (1..=7).map(|a| backoff(a).as_secs_f64()).collect();
        assert_eq!(secs, [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]);
    }
}
