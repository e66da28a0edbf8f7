//! A local stand-in for the Hugging Face hub, speaking its protocol over real HTTP and
//! serving the real all-MiniLM-L6-v2 files at one commit:
//!
//! - `GET /api/models/{owner}/{name}/revision/{rev}?blobs=true`: the listing (`sha`,
//!   `siblings` with `rfilename`, `size`, `blobId`, and `lfs.sha256` for LFS files);
//! - `GET /{owner}/{name}/resolve/{rev}/{path}`: files kept in git answer 200 with their git
//!   blob id as `ETag`; LFS files (`*.safetensors`) answer 302 to a second listener (the
//!   "CDN", another origin) with `X-Linked-Etag` (their sha256), `X-Linked-Size` and
//!   `X-Repo-Commit`, as the hub does;
//! - every file answer honours `Range: bytes=N-` with 206 and `Content-Range`;
//! - unknown repositories, revisions and files answer 404 with the hub's `X-Error-Code`.
//!
//! Faults on demand: cut a file's body after N bytes, serve a corrupted copy, require a
//! token, slow the CDN down. Every request is logged for the tests to assert on.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// The commit the stand-in serves: the contract's default for all-MiniLM-L6-v2, so the
/// default configuration pulls from it unchanged.
pub fn commit() -> String {
    app::hub::ModelSource::default_for(app::KnownModel::AllMiniLmL6V2).revision
}

/// The repository the stand-in serves.
pub const REPO: &str = "sentence-transformers/all-MiniLM-L6-v2";

/// One file of the repository.
pub struct RepoFile {
    /// Contents.
    pub bytes: Bytes,
    /// sha256, hex.
    pub sha256: String,
    /// git blob id (sha1 of `blob <len>\0` and the contents), hex.
    pub git_blob: String,
    /// Whether the hub keeps it in LFS (served through the CDN).
    pub lfs: bool,
}

/// The real model's files, read and hashed once per test binary.
pub fn files() -> &'static BTreeMap<String, RepoFile> {
    minilm_files()
}

fn minilm_files() -> &'static Arc<BTreeMap<String, RepoFile>> {
    static FILES: OnceLock<Arc<BTreeMap<String, RepoFile>>> = OnceLock::new();
    FILES.get_or_init(|| Arc::new(read_folder(&crate::minilm_dir())))
}

/// Every file under `root`, keyed by its path inside it, hashed as the hub would.
#[must_use]
pub fn read_folder(root: &Path) -> BTreeMap<String, RepoFile> {
    let mut out = BTreeMap::new();
    collect(root, root, &mut out);
    out
}

/// One repository at one commit.
struct Repo {
    revision: String,
    files: Arc<BTreeMap<String, RepoFile>>,
}

fn collect(root: &Path, dir: &Path, out: &mut BTreeMap<String, RepoFile>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(root, &path, out);
            continue;
        }
        let rel = path
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let bytes = std::fs::read(&path).unwrap();
        let mut git = Sha1::new();
        git.update(format!("blob {}\0", bytes.len()).as_bytes());
        git.update(&bytes);
        out.insert(
            rel.clone(),
            RepoFile {
                sha256: hex(&Sha256::digest(&bytes)),
                git_blob: hex(&git.finalize()),
                lfs: rel.ends_with(".safetensors"),
                bytes: Bytes::from(bytes),
            },
        );
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// One request the stand-in received.
#[derive(Debug, Clone)]
pub struct Hit {
    /// `hub` or `cdn`.
    pub host: &'static str,
    /// Request path.
    pub path: String,
    /// `Range` header.
    pub range: Option<String>,
    /// `Authorization` header.
    pub authorization: Option<String>,
    /// Status answered.
    pub status: u16,
}

#[derive(Default)]
struct Faults {
    /// Path -> (bytes sent before the cut, how many more answers to cut).
    cut: HashMap<String, (usize, u32)>,
    corrupt: HashSet<String>,
    token: Option<String>,
    /// Pause after each 1 MiB of a CDN body.
    throttle: Option<Duration>,
    /// How many more listings answer 503.
    unavailable: u32,
    /// Files the commit does not have.
    hidden: HashSet<String>,
}

struct Shared {
    /// Repository (`owner/name`) to its one commit.
    repos: Mutex<BTreeMap<String, Repo>>,
    faults: Mutex<Faults>,
    log: Mutex<Vec<Hit>>,
    cdn_url: String,
}

/// A running stand-in; stops when dropped.
pub struct TestHub {
    /// Base URL of the hub, for `HF_ENDPOINT`.
    pub url: String,
    /// Base URL of the CDN the hub redirects LFS files to.
    pub cdn_url: String,
    shared: Arc<Shared>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl TestHub {
    /// Starts the hub and its CDN on loopback ports of their own.
    #[must_use]
    pub fn start() -> TestHub {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (hub_listener, cdn_listener) = runtime.block_on(async {
            (
                tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
                tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
            )
        });
        let url = format!("http://{}", hub_listener.local_addr().unwrap());
        let cdn_url = format!("http://{}", cdn_listener.local_addr().unwrap());
        let minilm = Repo {
            revision: commit(),
            files: minilm_files().clone(),
        };
        let shared = Arc::new(Shared {
            repos: Mutex::new(BTreeMap::from([(REPO.to_owned(), minilm)])),
            faults: Mutex::new(Faults::default()),
            log: Mutex::new(Vec::new()),
            cdn_url: cdn_url.clone(),
        });
        let hub = Router::new()
            .route("/api/models/{owner}/{name}/revision/{rev}", get(listing))
            .route("/{owner}/{name}/resolve/{rev}/{*path}", get(resolve))
            .with_state(shared.clone());
        let cdn = Router::new()
            .route("/cdn/{sha256}", get(cdn_blob))
            .with_state(shared.clone());
        runtime.spawn(async move { axum::serve(hub_listener, hub).await });
        runtime.spawn(async move { axum::serve(cdn_listener, cdn).await });
        TestHub {
            url,
            cdn_url,
            shared,
            runtime: Some(runtime),
        }
    }

    /// Serves the files under `folder` as `repo` at `revision` too.
    pub fn add_repo(&self, repo: &str, revision: &str, folder: &Path) {
        self.shared.repos.lock().unwrap().insert(
            repo.to_owned(),
            Repo {
                revision: revision.to_owned(),
                files: Arc::new(read_folder(folder)),
            },
        );
    }

    /// Cuts the body of `path` after `after` bytes, for the next `times` answers.
    pub fn cut(&self, path: &str, after: usize, times: u32) {
        self.faults().cut.insert(path.to_owned(), (after, times));
    }

    /// Serves `path` with one byte changed while announcing the true digest.
    pub fn corrupt(&self, path: &str) {
        self.faults().corrupt.insert(path.to_owned());
    }

    /// Answers 401 to hub requests without `Authorization: Bearer <token>`.
    pub fn require_token(&self, token: &str) {
        self.faults().token = Some(token.to_owned());
    }

    /// Leaves `path` out of the commit (listing and downloads).
    pub fn hide(&self, path: &str) {
        self.faults().hidden.insert(path.to_owned());
    }

    /// Answers the next `times` listings with 503 Service Unavailable.
    pub fn unavailable(&self, times: u32) {
        self.faults().unavailable = times;
    }

    /// Pauses after each MiB of a CDN body.
    pub fn throttle(&self, pause: Duration) {
        self.faults().throttle = Some(pause);
    }

    /// Every request so far.
    #[must_use]
    pub fn log(&self) -> Vec<Hit> {
        self.shared.log.lock().unwrap().clone()
    }

    fn faults(&self) -> std::sync::MutexGuard<'_, Faults> {
        self.shared.faults.lock().unwrap()
    }
}

impl Drop for TestHub {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl Shared {
    fn record(&self, host: &'static str, path: &str, headers: &HeaderMap, status: StatusCode) {
        let text = |name| {
            headers
                .get(name)
                .and_then(|v: &HeaderValue| v.to_str().ok())
                .map(str::to_owned)
        };
        self.log.lock().unwrap().push(Hit {
            host,
            path: path.to_owned(),
            range: text(header::RANGE),
            authorization: text(header::AUTHORIZATION),
            status: status.as_u16(),
        });
    }

    /// 401 when a token is required and not given.
    fn denied(&self, headers: &HeaderMap) -> bool {
        let want = self.faults.lock().unwrap().token.clone();
        want.is_some_and(|t| {
            headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                != Some(&format!("Bearer {t}"))
        })
    }
}

fn not_found(code: &str, message: String) -> Response {
    (
        StatusCode::NOT_FOUND,
        [("x-error-code", code.to_owned())],
        axum::Json(serde_json::json!({ "error": message })),
    )
        .into_response()
}

/// The repository's files at `rev`; 401 without the required token, 404 for an unknown
/// repository or commit.
fn lookup(
    s: &Shared,
    headers: &HeaderMap,
    owner: &str,
    name: &str,
    rev: &str,
) -> Result<Arc<BTreeMap<String, RepoFile>>, Box<Response>> {
    if s.denied(headers) {
        return Err(Box::new(StatusCode::UNAUTHORIZED.into_response()));
    }
    let repos = s.repos.lock().unwrap();
    let Some(repo) = repos.get(&format!("{owner}/{name}")) else {
        return Err(Box::new(not_found(
            "RepoNotFound",
            format!("Repository not found: {owner}/{name}"),
        )));
    };
    if rev != repo.revision {
        return Err(Box::new(not_found(
            "RevisionNotFound",
            format!("Invalid rev id: {rev}"),
        )));
    }
    Ok(repo.files.clone())
}

async fn listing(
    State(s): State<Arc<Shared>>,
    UrlPath((owner, name, rev)): UrlPath<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let path = format!("/api/models/{owner}/{name}/revision/{rev}");
    let unavailable = {
        let mut f = s.faults.lock().unwrap();
        let down = f.unavailable > 0;
        f.unavailable = f.unavailable.saturating_sub(1);
        down
    };
    let resp = if unavailable {
        StatusCode::SERVICE_UNAVAILABLE.into_response()
    } else {
        match lookup(&s, &headers, &owner, &name, &rev) {
            Err(refused) => *refused,
            Ok(files) => listing_body(&s, &format!("{owner}/{name}"), &rev, &files),
        }
    };
    s.record("hub", &path, &headers, resp.status());
    resp
}

fn listing_body(s: &Shared, repo: &str, rev: &str, files: &BTreeMap<String, RepoFile>) -> Response {
    {
        let hidden = s.faults.lock().unwrap().hidden.clone();
        let siblings: Vec<serde_json::Value> = files
            .iter()
            .filter(|(p, _)| !hidden.contains(*p))
            .map(|(p, f)| {
                let mut v = serde_json::json!({
                    "rfilename": p,
                    "size": f.bytes.len(),
                    "blobId": f.git_blob,
                });
                if f.lfs {
                    v["lfs"] = serde_json::json!({
                        "sha256": f.sha256, "size": f.bytes.len(), "pointerSize": 134
                    });
                }
                v
            })
            .collect();
        axum::Json(serde_json::json!({
            "id": repo, "modelId": repo, "sha": rev, "siblings": siblings
        }))
        .into_response()
    }
}

async fn resolve(
    State(s): State<Arc<Shared>>,
    UrlPath((owner, name, rev, file)): UrlPath<(String, String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let path = format!("/{owner}/{name}/resolve/{rev}/{file}");
    let resp = match lookup(&s, &headers, &owner, &name, &rev) {
        Err(refused) => *refused,
        Ok(files) => {
            let hidden = s.faults.lock().unwrap().hidden.contains(&file);
            match files.get(&file).filter(|_| !hidden) {
                None => not_found("EntryNotFound", format!("{file} does not exist")),
                Some(f) if f.lfs => {
                    let mut r = StatusCode::FOUND.into_response();
                    let h = r.headers_mut();
                    let quoted = HeaderValue::from_str(&format!("\"{}\"", f.sha256)).unwrap();
                    h.insert(
                        header::LOCATION,
                        HeaderValue::from_str(&format!("{}/cdn/{}", s.cdn_url, f.sha256)).unwrap(),
                    );
                    h.insert("x-linked-etag", quoted.clone());
                    h.insert(header::ETAG, quoted);
                    h.insert("x-linked-size", f.bytes.len().into());
                    h.insert("x-repo-commit", HeaderValue::from_str(&rev).unwrap());
                    r
                }
                Some(f) => {
                    let mut r = serve_bytes(&s, &file, f, &headers, None);
                    let h = r.headers_mut();
                    h.insert(
                        header::ETAG,
                        HeaderValue::from_str(&format!("\"{}\"", f.git_blob)).unwrap(),
                    );
                    h.insert("x-repo-commit", HeaderValue::from_str(&rev).unwrap());
                    r
                }
            }
        }
    };
    s.record("hub", &path, &headers, resp.status());
    resp
}

async fn cdn_blob(
    State(s): State<Arc<Shared>>,
    UrlPath(sha256): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    let path = format!("/cdn/{sha256}");
    let throttle = s.faults.lock().unwrap().throttle;
    let found = s.repos.lock().unwrap().values().find_map(|r| {
        r.files
            .iter()
            .find(|(_, f)| f.sha256 == sha256)
            .map(|(name, _)| (r.files.clone(), name.clone()))
    });
    let resp = match found {
        Some((files, name)) => serve_bytes(&s, &name, &files[&name], &headers, throttle),
        None => StatusCode::NOT_FOUND.into_response(),
    };
    s.record("cdn", &path, &headers, resp.status());
    resp
}

/// 200 or 206 (from `Range: bytes=N-`), with the faults armed for `name`.
fn serve_bytes(
    s: &Shared,
    name: &str,
    f: &RepoFile,
    headers: &HeaderMap,
    throttle: Option<Duration>,
) -> Response {
    let total = f.bytes.len();
    let start = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("bytes="))
        .and_then(|v| v.strip_suffix('-'))
        .and_then(|v| v.parse::<usize>().ok());
    if start.is_some_and(|st| st >= total) {
        return (
            StatusCode::RANGE_NOT_SATISFIABLE,
            [(header::CONTENT_RANGE, format!("bytes */{total}"))],
        )
            .into_response();
    }
    let from = start.unwrap_or(0);
    let mut bytes = f.bytes.clone();
    let (cut, corrupt) = {
        let mut faults = s.faults.lock().unwrap();
        let cut = match faults.cut.get_mut(name) {
            Some((after, times)) if *times > 0 => {
                *times -= 1;
                Some(*after)
            }
            _ => None,
        };
        (cut, faults.corrupt.contains(name))
    };
    if corrupt {
        let mut v = bytes.to_vec();
        let mid = v.len() / 2;
        v[mid] ^= 0x01;
        bytes = Bytes::from(v);
    }
    let body = bytes.slice(from..);
    let len = body.len();
    let chunks: Vec<Result<Bytes, std::io::Error>> = {
        let keep = cut.map_or(len, |c| c.min(len));
        let mut out: Vec<Result<Bytes, std::io::Error>> = (0..keep)
            .step_by(1 << 20)
            .map(|i| Ok(body.slice(i..(i + (1 << 20)).min(keep))))
            .collect();
        if cut.is_some() {
            out.push(Err(std::io::Error::other("connection cut by the test hub")));
        }
        out
    };
    let stream = chunk_stream(chunks, throttle);
    let mut r = Response::new(Body::from_stream(stream));
    let h = r.headers_mut();
    h.insert(header::CONTENT_LENGTH, len.into());
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if start.is_some() {
        *r.status_mut() = StatusCode::PARTIAL_CONTENT;
        r.headers_mut().insert(
            header::CONTENT_RANGE,
            HeaderValue::from_str(&format!("bytes {from}-{}/{total}", total - 1)).unwrap(),
        );
    }
    r
}

/// The chunks as a stream, pausing after each when throttled.
fn chunk_stream(
    chunks: Vec<Result<Bytes, std::io::Error>>,
    pause: Option<Duration>,
) -> impl futures_core::Stream<Item = Result<Bytes, std::io::Error>> + Send {
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    tokio::spawn(async move {
        for c in chunks {
            if tx.send(c).await.is_err() {
                return;
            }
            if let Some(p) = pause {
                tokio::time::sleep(p).await;
            }
        }
    });
    ReceiverStream(rx)
}

struct ReceiverStream<T>(tokio::sync::mpsc::Receiver<T>);

impl<T> futures_core::Stream for ReceiverStream<T> {
    type Item = T;
    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<T>> {
        self.0.poll_recv(cx)
    }
}
