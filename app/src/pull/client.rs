//! The hub's HTTP protocol, as `huggingface_hub` speaks it: a revision's file listing
//! (`/api/models/{repo}/revision/{rev}?blobs=true`) and file downloads
//! (`/{repo}/resolve/{rev}/{path}`), whose redirect to a storage host carries the digest
//! (`X-Linked-Etag`), the size (`X-Linked-Size`) and the commit (`X-Repo-Commit`).
//!
//! Redirects are followed by hand so those headers are read from the hub's own response,
//! and so the token goes to the hub's host only, never to the storage host it redirects to.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use ureq::Agent;
use ureq::http::{HeaderMap, Response, StatusCode};

/// Most redirects followed for one download (the hub answers with one, a renamed
/// repository with two).
const MAX_REDIRECTS: usize = 5;

/// A hub access token. Its `Debug` never shows it, and nothing displays it.
#[derive(Clone)]
pub struct Token(String);

impl Token {
    /// Wraps a token; `None` when empty.
    #[must_use]
    pub fn new(value: String) -> Option<Token> {
        let v = value.trim().to_owned();
        (!v.is_empty()).then_some(Token(v))
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// Why a request to the hub failed. URLs carry no secret: the token travels in a header.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// The hub does not have what was asked for (repository, revision or file).
    #[error("{url} answered 404 Not Found{}", code_suffix(.code))]
    NotFound {
        /// URL asked.
        url: String,
        /// The hub's `X-Error-Code` (`RepoNotFound`, `RevisionNotFound`, `EntryNotFound`).
        code: Option<String>,
    },
    /// The hub refused access: a gated or private model needs a token with access.
    #[error(
        "{url} answered {status}: the model is gated or private; set HF_TOKEN to a token \
         that has access"
    )]
    Denied {
        /// URL asked.
        url: String,
        /// 401 or 403.
        status: u16,
    },
    /// Any other unexpected status.
    #[error("{url} answered {status}")]
    Status {
        /// URL asked.
        url: String,
        /// Status received.
        status: u16,
    },
    /// No answer, a cut connection or a timeout.
    #[error("{url}: {source}")]
    Transport {
        /// URL asked.
        url: String,
        /// What the client saw (boxed: it is large, and failures are rare).
        #[source]
        source: Box<ureq::Error>,
    },
    /// An answer that breaks the protocol (bad JSON, a redirect without a location, ...).
    #[error("{url}: {reason}")]
    BadResponse {
        /// URL asked.
        url: String,
        /// What was wrong.
        reason: String,
    },
}

fn code_suffix(code: &Option<String>) -> String {
    code.as_ref().map(|c| format!(" ({c})")).unwrap_or_default()
}

impl HubError {
    /// Whether trying again may succeed: a network failure, a timeout, 408, 429 or a 5xx.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        match self {
            HubError::Transport { .. } => true,
            HubError::Status { status, .. } => {
                *status == 408 || *status == 429 || (500..600).contains(status)
            }
            _ => false,
        }
    }
}

/// One file of a revision, as the listing describes it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Sibling {
    /// Path inside the repository.
    #[serde(rename = "rfilename")]
    pub path: String,
    /// Size in bytes (listing with `blobs=true`).
    #[serde(default)]
    pub size: Option<u64>,
    /// Git blob id (sha1 of `blob <len>\0<content>`).
    #[serde(default, rename = "blobId")]
    pub blob_id: Option<String>,
    /// Present for files stored in LFS: their sha256 and size.
    #[serde(default)]
    pub lfs: Option<Lfs>,
}

/// The LFS part of a listing entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Lfs {
    /// sha256 of the file's content.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
}

/// A revision: its commit and its files.
#[derive(Debug, Clone, Deserialize)]
pub struct RevisionInfo {
    /// The commit the revision resolved to.
    pub sha: String,
    /// Every file of the commit.
    #[serde(default)]
    pub siblings: Vec<Sibling>,
}

/// What the hub's own response said about a file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Announced {
    /// `X-Linked-Etag` (LFS files: their sha256), quotes removed.
    pub linked_etag: Option<String>,
    /// `ETag` of the hub's response, quotes and `W/` removed.
    pub etag: Option<String>,
    /// `X-Linked-Size`, or the `Content-Length` of a full answer from the hub itself.
    pub size: Option<u64>,
    /// `X-Repo-Commit`.
    pub commit: Option<String>,
}

/// An open download.
pub struct Download {
    /// What the hub announced.
    pub announced: Announced,
    /// Offset of the first byte of `body` in the file (non-zero only when the range was
    /// honoured).
    pub start: u64,
    /// The body.
    pub body: ureq::BodyReader<'static>,
}

/// A client of one hub.
pub struct Hub {
    agent: Agent,
    endpoint: String,
    token: Option<Token>,
}

impl fmt::Debug for Hub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hub")
            .field("endpoint", &self.endpoint)
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

impl Hub {
    /// A client of `endpoint` (already checked by [`super::Endpoint::parse`]).
    #[must_use]
    pub fn new(endpoint: &str, token: Option<Token>, timeout: Duration) -> Hub {
        let agent = Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_connect(Some(timeout))
            .timeout_recv_response(Some(timeout))
            .timeout_per_read(Some(timeout))
            .user_agent(format!("akidb-embed/{}", crate::VERSION))
            .build()
            .new_agent();
        Hub {
            agent,
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            token,
        }
    }

    /// The endpoint, for messages.
    #[must_use]
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    fn get(
        &self,
        url: &str,
        range_from: Option<u64>,
        with_token: bool,
    ) -> Result<Response<ureq::Body>, HubError> {
        let mut req = self.agent.get(url);
        if let (true, Some(Token(t))) = (with_token, &self.token) {
            req = req.header("Authorization", &format!("Bearer {t}"));
        }
        if let Some(from) = range_from.filter(|f| *f > 0) {
            req = req.header("Range", &format!("bytes={from}-"));
        }
        req.call().map_err(|source| HubError::Transport {
            url: url.to_owned(),
            source: Box::new(source),
        })
    }

    /// The listing of `repo` at `revision`.
    ///
    /// # Errors
    /// An unknown repository or revision, a refusal, a network failure or bad JSON.
    pub fn revision(&self, repo: &str, revision: &str) -> Result<RevisionInfo, HubError> {
        let url = format!(
            "{}/api/models/{repo}/revision/{revision}?blobs=true",
            self.endpoint
        );
        let mut resp = self.get(&url, None, true)?;
        check(&url, &resp)?;
        let bytes = resp
            .body_mut()
            .with_config()
            .limit(16 * 1024 * 1024)
            .read_to_vec()
            .map_err(|source| HubError::Transport {
                url: url.clone(),
                source: Box::new(source),
            })?;
        serde_json::from_slice(&bytes).map_err(|e| HubError::BadResponse {
            url,
            reason: format!("the revision listing is not the hub's JSON: {e}"),
        })
    }

    /// Starts downloading `path` of `repo` at `revision` from byte `from`.
    ///
    /// # Errors
    /// A missing file, a refusal, a network failure or a broken redirect.
    pub fn download(
        &self,
        repo: &str,
        revision: &str,
        path: &str,
        from: u64,
    ) -> Result<Download, HubError> {
        let first = format!("{}/{repo}/resolve/{revision}/{path}", self.endpoint);
        let hub_origin = origin(&first).to_owned();
        let mut url = first;
        let mut announced = Announced::default();
        for _ in 0..=MAX_REDIRECTS {
            let same_host = origin(&url) == hub_origin;
            let resp = self.get(&url, Some(from), same_host)?;
            if same_host {
                announced.absorb(resp.headers());
            }
            if resp.status().is_redirection() {
                url = next_location(&url, resp.headers())?;
                continue;
            }
            check(&url, &resp)?;
            let start = match resp.status() {
                StatusCode::PARTIAL_CONTENT => content_range_start(&url, resp.headers())?,
                _ => {
                    if same_host && announced.size.is_none() {
                        announced.size = header_u64(resp.headers(), "content-length");
                    }
                    0
                }
            };
            return Ok(Download {
                announced,
                start,
                body: resp.into_body().into_reader(),
            });
        }
        Err(HubError::BadResponse {
            url,
            reason: format!("more than {MAX_REDIRECTS} redirects"),
        })
    }
}

impl Announced {
    fn absorb(&mut self, headers: &HeaderMap) {
        let text = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|s| s.trim().to_owned())
        };
        if let Some(v) = text("x-linked-etag") {
            self.linked_etag = Some(unquote(&v));
        }
        if let Some(v) = text("etag") {
            self.etag = Some(unquote(&v));
        }
        if let Some(v) = header_u64(headers, "x-linked-size") {
            self.size = Some(v);
        }
        if let Some(v) = text("x-repo-commit") {
            self.commit = Some(v);
        }
    }
}

/// `W/"abc"` and `"abc"` to `abc`.
fn unquote(etag: &str) -> String {
    etag.trim_start_matches("W/").trim_matches('"').to_owned()
}

fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// `scheme://authority` of a URL.
fn origin(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let end = url[after_scheme..]
        .find('/')
        .map_or(url.len(), |i| after_scheme + i);
    &url[..end]
}

fn next_location(url: &str, headers: &HeaderMap) -> Result<String, HubError> {
    let bad = |reason: &str| HubError::BadResponse {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    let location = headers
        .get("location")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| bad("a redirect without a Location header"))?;
    if location.starts_with("https://") || location.starts_with("http://") {
        Ok(location.to_owned())
    } else if location.starts_with('/') {
        Ok(format!("{}{location}", origin(url)))
    } else {
        Err(bad("a redirect to a relative location"))
    }
}

/// The first byte of a 206 answer, from `Content-Range: bytes <start>-<end>/<total>`.
fn content_range_start(url: &str, headers: &HeaderMap) -> Result<u64, HubError> {
    headers
        .get("content-range")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().strip_prefix("bytes "))
        .and_then(|v| v.split('-').next())
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| HubError::BadResponse {
            url: url.to_owned(),
            reason: "206 Partial Content without a valid Content-Range".into(),
        })
}

fn check(url: &str, resp: &Response<ureq::Body>) -> Result<(), HubError> {
    let status = resp.status().as_u16();
    let url = url.to_owned();
    match status {
        200..=299 => Ok(()),
        401 | 403 => Err(HubError::Denied { url, status }),
        404 => Err(HubError::NotFound {
            url,
            code: resp
                .headers()
                .get("x-error-code")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        }),
        _ => Err(HubError::Status { url, status }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_and_locations() {
        assert_eq!(
            origin("https://hub.example:8443/a/b?c"),
            "https://hub.example:8443"
        );
        assert_eq!(origin("http://h"), "http://h");
        let mut h = HeaderMap::new();
        h.insert("location", "/api/x".parse().unwrap());
        assert_eq!(
            next_location("http://h:1/a/resolve/x", &h).unwrap(),
            "http://h:1/api/x"
        );
        h.insert(
            "location",
            "https://cdn.example/blob?sig=1".parse().unwrap(),
        );
        assert_eq!(
            next_location("http://h:1/a", &h).unwrap(),
            "https://cdn.example/blob?sig=1"
        );
        h.insert("location", "blob".parse().unwrap());
        assert!(next_location("http://h:1/a", &h).is_err());
    }

    #[test]
    fn announced_headers_lose_their_quotes() {
        let mut h = HeaderMap::new();
        h.insert("x-linked-etag", "\"abc\"".parse().unwrap());
        h.insert("etag", "W/\"def\"".parse().unwrap());
        h.insert("x-linked-size", "42".parse().unwrap());
        h.insert("x-repo-commit", "c0ffee".parse().unwrap());
        let mut a = Announced::default();
        a.absorb(&h);
        assert_eq!(
            a,
            Announced {
                linked_etag: Some("abc".into()),
                etag: Some("def".into()),
                size: Some(42),
                commit: Some("c0ffee".into()),
            }
        );
    }

    #[test]
    fn content_range_gives_the_start() {
        let mut h = HeaderMap::new();
        h.insert("content-range", "bytes 100-199/200".parse().unwrap());
        assert_eq!(content_range_start("u", &h).unwrap(), 100);
        h.insert("content-range", "items 1-2".parse().unwrap());
        assert!(content_range_start("u", &h).is_err());
    }

    #[test]
    fn tokens_never_show_in_debug() {
        let t = Token::new("hf_secret".into()).unwrap();
        assert!(!format!("{t:?}").contains("hf_secret"));
        let hub = Hub::new("http://h", Some(t), Duration::from_secs(1));
        assert!(!format!("{hub:?}").contains("hf_secret"));
        assert!(Token::new("  ".into()).is_none());
    }
}
