//! Runs the real `akidb-embed` binary in a temp folder and talks HTTP to it.
//!
//! On any failure the helpers print the command, folder, exit status, stdout and stderr.

#![allow(dead_code, missing_docs)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_akidb-embed");

/// Where the real models live: `AKIDB_TEST_MODEL_DIR`, else `<workspace>/.models`.
pub fn models_dir() -> PathBuf {
    std::env::var_os("AKIDB_TEST_MODEL_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../.models"),
        PathBuf::from,
    )
}

/// The real all-MiniLM-L6-v2 folder's parent; fails the test (never skips) when absent.
pub fn require_minilm() -> PathBuf {
    let dir = models_dir();
    let m = dir.join("all-MiniLM-L6-v2");
    for f in ["config.json", "tokenizer.json", "model.safetensors"] {
        assert!(
            m.join(f).is_file(),
            "the real all-MiniLM-L6-v2 model is missing ({} not found).\n\
             Fetch it with:\n\n    bash scripts/fetch-models.sh\n\n\
             (or set AKIDB_TEST_MODEL_DIR to a folder holding all-MiniLM-L6-v2/)",
            m.join(f).display()
        );
    }
    dir
}

/// Vectors sentence-transformers computed for a handful of sentences (models.md).
#[derive(serde::Deserialize)]
pub struct Reference {
    pub sentences: Vec<String>,
    pub tokens: Vec<u64>,
    pub embeddings: Vec<Vec<f32>>,
}

pub fn reference() -> Reference {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/minilm_reference.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub struct Server {
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub metrics_port: u16,
    child: Option<Child>,
    command: String,
}

pub struct Resp {
    pub status: u16,
    pub headers: String,
    pub body: String,
}

impl Resp {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.body))
    }

    /// Asserts an error response of `status` with `error.type == kind`; returns the message.
    pub fn expect_error(&self, status: u16, kind: &str) -> String {
        assert_eq!(self.status, status, "body: {}", self.body);
        let v = self.json();
        assert_eq!(v["error"]["type"], kind, "body: {}", self.body);
        v["error"]["message"]
            .as_str()
            .unwrap_or_else(|| panic!("no error.message: {}", self.body))
            .to_owned()
    }
}

/// Builds a server: config text, environment, and where the models are.
#[derive(Clone)]
pub struct Builder {
    config: String,
    env: Vec<(String, String)>,
    model_dir: PathBuf,
    separate_metrics: bool,
    thread_env: bool,
}

impl Builder {
    pub fn new(model_dir: &Path) -> Builder {
        Builder {
            config: String::new(),
            env: Vec::new(),
            model_dir: model_dir.to_owned(),
            separate_metrics: false,
            thread_env: true,
        }
    }

    /// Leaves `RAYON_NUM_THREADS` unset, so the server derives it from the cgroup.
    pub fn without_thread_env(mut self) -> Builder {
        self.thread_env = false;
        self
    }

    /// Extra TOML appended to the generated `[server]`… sections (use whole sections).
    pub fn config(mut self, toml: &str) -> Builder {
        self.config = toml.to_owned();
        self
    }

    pub fn env(mut self, k: &str, v: &str) -> Builder {
        self.env.push((k.to_owned(), v.to_owned()));
        self
    }

    pub fn separate_metrics(mut self) -> Builder {
        self.separate_metrics = true;
        self
    }

    /// Starts the binary without waiting for it.
    pub fn spawn(self) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let metrics_port = if self.separate_metrics {
            free_port()
        } else {
            port
        };
        let config = dir.path().join("config.toml");
        std::fs::write(&config, &self.config).unwrap();
        let mut cmd = Command::new(BIN);
        cmd.env_clear()
            .current_dir(dir.path())
            .arg("--config")
            .arg(&config)
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("AKIDB_HOST", "127.0.0.1")
            .env("AKIDB_REST_PORT", port.to_string())
            .env("AKIDB_MODEL_DIR", &self.model_dir)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(dir.path().join("stdout")).unwrap())
            .stderr(std::fs::File::create(dir.path().join("stderr")).unwrap());
        if !self.config.contains("metrics_port") {
            // Each test gets its own metrics port so parallel servers never collide.
            let text = format!(
                "{}\n[observability]\nmetrics_port = {metrics_port}\nlog_format = \"text\"\n",
                self.config
            );
            std::fs::write(&config, text).unwrap();
        }
        if self.thread_env {
            cmd.env("RAYON_NUM_THREADS", "2");
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let command = format!(
            "{BIN} --config {} (env: {:?}, config:\n{})",
            config.display(),
            self.env,
            std::fs::read_to_string(&config).unwrap()
        );
        let child = cmd.spawn().expect("spawn akidb-embed");
        Server {
            dir,
            port,
            metrics_port,
            child: Some(child),
            command,
        }
    }

    /// Starts the binary and waits until `/health/ready` answers 200. A port taken
    /// between picking and binding (another test got it) is retried with fresh ports.
    pub fn start(self) -> Server {
        for _ in 0..3 {
            let mut s = self.clone().spawn();
            let start = Instant::now();
            loop {
                if let Some(status) = s.try_exit() {
                    if s.output().contains("failed to listen") {
                        break;
                    }
                    s.fail(&format!("the server exited before it was ready: {status}"));
                }
                if let Ok(r) = s.try_request("GET", "/health/ready", None, &[]) {
                    if r.status == 200 {
                        return s;
                    }
                }
                if start.elapsed() > Duration::from_secs(120) {
                    s.fail("not ready within 120 s");
                }
                std::thread::sleep(Duration::from_millis(25));
            }
        }
        panic!("no free port after 3 tries");
    }
}

impl Server {
    pub fn output(&self) -> String {
        let read = |f: &str| std::fs::read_to_string(self.dir.path().join(f)).unwrap_or_default();
        format!(
            "command: {}\nfolder: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.command,
            self.dir.path().display(),
            read("stdout"),
            read("stderr")
        )
    }

    /// What the process itself wrote (stdout, then stderr), without the command line.
    pub fn logs(&self) -> String {
        let read = |f: &str| std::fs::read_to_string(self.dir.path().join(f)).unwrap_or_default();
        format!("{}{}", read("stdout"), read("stderr"))
    }

    pub fn fail(&self, msg: &str) -> ! {
        panic!("{msg}\n{}", self.output());
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    pub fn try_exit(&mut self) -> Option<ExitStatus> {
        self.child.as_mut().unwrap().try_wait().unwrap()
    }

    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(s) = self.try_exit() {
                return s;
            }
            if start.elapsed() > timeout {
                self.fail(&format!("the server did not exit within {timeout:?}"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn wait_ready(&mut self, timeout: Duration) {
        let start = Instant::now();
        loop {
            if let Some(status) = self.try_exit() {
                self.fail(&format!("the server exited before it was ready: {status}"));
            }
            if let Ok(r) = self.try_request("GET", "/health/ready", None, &[]) {
                if r.status == 200 {
                    return;
                }
            }
            if start.elapsed() > timeout {
                self.fail(&format!("not ready within {timeout:?}"));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    pub fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{sig} failed");
    }

    pub fn try_request(
        &self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
        headers: &[(&str, &str)],
    ) -> std::io::Result<Resp> {
        request(self.port, method, path, body, headers)
    }

    pub fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
        headers: &[(&str, &str)],
    ) -> Resp {
        self.try_request(method, path, body, headers)
            .unwrap_or_else(|e| self.fail(&format!("{method} {path} failed: {e}")))
    }

    pub fn get(&self, path: &str) -> Resp {
        self.request("GET", path, None, &[])
    }

    pub fn post_json(&self, path: &str, body: &serde_json::Value) -> Resp {
        self.post_raw(path, body.to_string().as_bytes(), "application/json")
    }

    pub fn post_raw(&self, path: &str, body: &[u8], content_type: &str) -> Resp {
        self.request("POST", path, Some(body), &[("Content-Type", content_type)])
    }

    /// `/api/v1/embed` with `texts`; asserts 200 and returns the vectors and usage.tokens.
    pub fn embed(&self, body: &serde_json::Value) -> (Vec<Vec<f32>>, u64) {
        let r = self.post_json("/api/v1/embed", body);
        if r.status != 200 {
            self.fail(&format!("embed gave {}: {}", r.status, r.body));
        }
        let v = r.json();
        let vectors = serde_json::from_value(v["embeddings"].clone()).unwrap();
        (vectors, v["usage"]["tokens"].as_u64().unwrap())
    }

    pub fn metrics(&self) -> String {
        let r = request(self.metrics_port, "GET", "/metrics", None, &[])
            .unwrap_or_else(|e| self.fail(&format!("GET /metrics failed: {e}")));
        assert_eq!(r.status, 200, "{}", r.body);
        r.body
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if std::thread::panicking() {
            eprintln!("{}", self.output());
        }
    }
}

/// A minimal HTTP/1.1 client: one request per connection.
pub fn request(
    port: u16,
    method: &str,
    path: &str,
    body: Option<&[u8]>,
    headers: &[(&str, &str)],
) -> std::io::Result<Resp> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(120)))?;
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        head.push_str(&format!("Content-Length: {}\r\n", b.len()));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes())?;
    if let Some(b) = body {
        // The server may answer (413) and close before reading everything.
        let _ = s.write_all(b);
    }
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, rest) = text.split_once("\r\n\r\n").ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("no header end: {text:?}"),
        )
    })?;
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, head.to_owned()))?;
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        e2e::http::dechunk(rest)
    } else {
        rest.to_owned()
    };
    Ok(Resp {
        status,
        headers: head.to_owned(),
        body,
    })
}

pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "vector lengths differ");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// The venv's Python (`AKIDB_TEST_PYTHON`, else `<workspace>/.venv/bin/python`), checked to
/// import `modules`; fails the test with how to install them, never skips.
pub fn python(modules: &[&str]) -> PathBuf {
    let py = std::env::var_os("AKIDB_TEST_PYTHON").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python"),
        PathBuf::from,
    );
    let probe = Command::new(&py)
        .args(["-c", &format!("import {}", modules.join(", "))])
        .output();
    let ok = probe.as_ref().is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "Python packages are missing from {} ({}).\nInstall them with:\n\n    make tools\n\n\
         (or set AKIDB_TEST_PYTHON to a Python that can import {})",
        py.display(),
        probe.map_or_else(
            |e| e.to_string(),
            |o| String::from_utf8_lossy(&o.stderr).into_owned()
        ),
        modules.join(", ")
    );
    py
}

/// Ids `GET /v1/models` lists, in its order.
pub fn listed_models(s: &Server) -> Vec<String> {
    s.get("/v1/models").json()["data"]
        .as_array()
        .unwrap_or_else(|| s.fail("GET /v1/models has no data list"))
        .iter()
        .map(|m| m["id"].as_str().unwrap_or_default().to_owned())
        .collect()
}
