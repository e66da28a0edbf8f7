//! Start-up, configuration errors and the graceful drain, on the real binary.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use app::metrics;
use common::{BIN, Builder, require_minilm};
use serde_json::json;

fn inflight(s: &common::Server) -> u64 {
    s.metrics()
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{} ", metrics::INFLIGHT_REQUESTS.series())))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn sigterm_drains_every_admitted_request_then_exits_0() {
    let s = Builder::new(&require_minilm())
        .config("[server]\ndrain_timeout_secs = 600\nrequest_timeout_secs = 600\n")
        .start();
    // About 5,000 tokens in all: a few seconds of compute on two cores, long enough to
    // watch the drain, short enough for the test.
    let text = "graceful drain keeps every admitted request; nothing is lost ".repeat(5);
    let clients = 12;
    let per_request = 8;
    let started = Instant::now();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..clients)
            .map(|c| {
                let s = &s;
                let texts: Vec<String> = (0..per_request)
                    .map(|i| format!("{c} {i} {text}"))
                    .collect();
                scope.spawn(move || s.post_json("/api/v1/embed", &json!({ "texts": texts })))
            })
            .collect();

        // Wait until every request is admitted (queued or computing), then SIGTERM.
        while inflight(&s) < clients as u64 {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "requests never queued"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        s.signal("TERM");

        // Readiness turns 503 as soon as the signal is handled, and new work is refused,
        // while the queue drains.
        let signalled = Instant::now();
        while s.get("/health/ready").status != 503 {
            assert!(
                signalled.elapsed() < Duration::from_secs(5),
                "still ready after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        s.get("/health/ready").expect_error(503, "draining");
        assert_eq!(
            s.get("/health/startup").status,
            200,
            "startup stays 200 while draining"
        );
        s.get("/health/live")
            .status
            .eq(&200)
            .then_some(())
            .expect("live while draining");
        s.post_json("/api/v1/embed", &json!({ "texts": ["late"] }))
            .expect_error(503, "draining");
        assert!(
            inflight(&s) > 0,
            "the drain test finished before it could observe the drain"
        );

        for h in handles {
            let r = h.join().unwrap();
            assert_eq!(r.status, 200, "an admitted request was lost: {}", r.body);
            assert_eq!(
                r.json()["embeddings"].as_array().unwrap().len(),
                per_request
            );
        }
    });
    let mut s = s;
    let status = s.wait_exit(Duration::from_secs(20));
    assert_eq!(status.code(), Some(0), "{}", s.output());
    assert!(s.output().contains("draining"), "{}", s.output());
}

#[test]
fn sigint_on_an_idle_server_exits_0_quickly() {
    let mut s = Builder::new(&require_minilm()).start();
    s.signal("INT");
    let t = Instant::now();
    let status = s.wait_exit(Duration::from_secs(5));
    assert_eq!(status.code(), Some(0));
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "idle drain took {:?}",
        t.elapsed()
    );
}

fn run_expecting_failure(args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .current_dir(dir.path())
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("RAYON_NUM_THREADS", "1")
        .env("AKIDB_HOST", "127.0.0.1")
        .env("AKIDB_REST_PORT", common::free_port().to_string())
        .env("AKIDB_METRICS_ENABLED", "false")
        .args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    // Never a hang: every failure below must end well within this bound.
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("{BIN} {args:?} {env:?} hung");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let code = out.status.code().unwrap_or(-1);
    assert_ne!(code, 0, "{BIN} {args:?} {env:?} succeeded:\n{stderr}");
    (
        code,
        format!("{BIN} {args:?} {env:?}\n--- stderr ---\n{stderr}"),
    )
}

#[test]
fn configuration_errors_exit_2_naming_the_key_or_variable() {
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    type Case<'a> = (Vec<String>, Vec<(&'a str, &'a str)>, &'a [&'a str]);
    let cases: Vec<Case> = vec![
        (
            vec![
                "--config".into(),
                file("unknown.toml", "[server]\nprot = 1\n"),
            ],
            vec![],
            &["prot", "unknown.toml"],
        ),
        (
            vec![
                "--config".into(),
                file("type.toml", "[server]\nport = \"http\"\n"),
            ],
            vec![],
            &["port"],
        ),
        (
            vec![
                "--config".into(),
                file("bad.toml", "[embedding]\nmax_texts_per_request = 0\n"),
            ],
            vec![],
            &["embedding.max_texts_per_request"],
        ),
        (
            vec![
                "--config".into(),
                file("model.toml", "[embedding]\npreload_models = [\"bert\"]\n"),
            ],
            vec![],
            &["bert", "all-MiniLM-L6-v2"],
        ),
        (
            vec![
                "--config".into(),
                dir.path().join("missing.toml").display().to_string(),
            ],
            vec![],
            &["missing.toml"],
        ),
        (
            vec![],
            vec![("AKIDB_REST_PORT", "80a")],
            &["AKIDB_REST_PORT", "80a"],
        ),
        (
            vec![],
            vec![("AKIDB_PRELOAD_MODELS", "gpt")],
            &["AKIDB_PRELOAD_MODELS"],
        ),
        (
            vec![],
            vec![("AKIDB_METRICS_ENABLED", "maybe")],
            &["AKIDB_METRICS_ENABLED"],
        ),
        (vec![], vec![("RUST_LOG", "info,[")], &["RUST_LOG"]),
        (
            vec![],
            vec![(
                "AKIDB_CONFIG",
                dir.path().join("via-env.toml").display().to_string().leak(),
            )],
            &["via-env.toml"],
        ),
    ];
    for (args, env, needles) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, out) = run_expecting_failure(&args, &env);
        assert_eq!(code, 2, "{out}");
        for n in needles {
            assert!(out.contains(n), "stderr does not name {n:?}:\n{out}");
        }
    }
}

#[test]
fn print_config_shows_file_plus_environment() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, "[server]\nport = 7000\n[embedding]\nmax_models = 3\n").unwrap();
    let out = Command::new(BIN)
        .env_clear()
        .args(["--print-config", "--config", cfg.to_str().unwrap()])
        .env("AKIDB_REST_PORT", "7100")
        .env("AKIDB_PRELOAD_MODELS", "e5-small-v2")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let c = app::Config::from_toml_str(&text).unwrap();
    assert_eq!(c.server.port, 7100);
    assert_eq!(c.embedding.max_models, 3);
    assert_eq!(
        c.embedding.preload_models,
        vec![app::KnownModel::E5SmallV2.id()]
    );
}

#[test]
fn missing_or_corrupt_models_fail_start_up_with_exit_1() {
    let empty = tempfile::tempdir().unwrap();
    let dir = empty.path().display().to_string();
    let (code, out) = run_expecting_failure(&[], &[("AKIDB_MODEL_DIR", &dir)]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("all-MiniLM-L6-v2") && out.contains("does not exist"),
        "{out}"
    );

    // A copy of the real model with its weights cut short.
    let real = require_minilm().join("all-MiniLM-L6-v2");
    let broken = tempfile::tempdir().unwrap();
    let m = broken.path().join("all-MiniLM-L6-v2");
    copy_all_but_weights(&real, &m);
    let weights = std::fs::read(real.join("model.safetensors")).unwrap();
    std::fs::write(m.join("model.safetensors"), &weights[..weights.len() / 2]).unwrap();
    let dir = broken.path().display().to_string();
    let (code, out) = run_expecting_failure(&[], &[("AKIDB_MODEL_DIR", &dir)]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("model.safetensors"), "{out}");

    // Garbage config.json.
    std::fs::write(m.join("model.safetensors"), &weights).unwrap();
    std::fs::write(m.join("config.json"), "{\"hidden_size\": ").unwrap();
    let (code, out) = run_expecting_failure(&[], &[("AKIDB_MODEL_DIR", &dir)]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("config.json"), "{out}");

    // A tokenizer.json that is not one.
    std::fs::copy(real.join("config.json"), m.join("config.json")).unwrap();
    std::fs::write(m.join("tokenizer.json"), "{\"model\": 1}").unwrap();
    let (code, out) = run_expecting_failure(&[], &[("AKIDB_MODEL_DIR", &dir)]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("invalid tokenizer") && out.contains("tokenizer.json"),
        "{out}"
    );
}

#[test]
fn a_port_in_use_is_a_start_up_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let models = require_minilm().display().to_string();
    let (code, out) = run_expecting_failure(
        &[],
        &[("AKIDB_REST_PORT", &port), ("AKIDB_MODEL_DIR", &models)],
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&port), "{out}");
}

/// Copies every file of the model at `real` into `to`, except `model.safetensors`.
fn copy_all_but_weights(real: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to.join("1_Pooling")).unwrap();
    for f in [
        "config.json",
        "tokenizer.json",
        "sentence_bert_config.json",
        "1_Pooling/config.json",
    ] {
        std::fs::copy(real.join(f), to.join(f)).unwrap();
    }
}

/// A model folder whose `model.safetensors` is a named pipe: loading blocks until the test
/// writes the weights into it, so the "still loading" state can be observed.
fn model_behind_a_fifo() -> (tempfile::TempDir, std::path::PathBuf, Vec<u8>) {
    let real = require_minilm().join("all-MiniLM-L6-v2");
    let root = tempfile::tempdir().unwrap();
    let m = root.path().join("all-MiniLM-L6-v2");
    copy_all_but_weights(&real, &m);
    let fifo = m.join("model.safetensors");
    let ok = Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success();
    assert!(ok, "mkfifo failed");
    let weights = std::fs::read(real.join("model.safetensors")).unwrap();
    (root, fifo, weights)
}

#[test]
fn while_models_load_the_server_is_live_but_not_started_nor_ready() {
    let (root, fifo, weights) = model_behind_a_fifo();
    let mut s = Builder::new(root.path()).spawn();
    let start = Instant::now();
    while s.try_request("GET", "/health/live", None, &[]).is_err() {
        assert!(start.elapsed() < Duration::from_secs(30), "never listened");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(s.get("/health/live").status, 200);
    let msg = s.get("/health/ready").expect_error(503, "not_ready");
    assert!(msg.contains("all-MiniLM-L6-v2"), "{msg}");
    s.get("/health/startup").expect_error(503, "not_ready");
    s.post_json("/api/v1/embed", &json!({ "texts": ["too early"] }))
        .expect_error(503, "not_ready");
    assert_eq!(s.get("/info").json()["models"][0]["loaded"], false);
    assert!(
        s.metrics()
            .contains(&format!("{} 0", metrics::READY.series()))
    );

    std::fs::write(&fifo, &weights).unwrap();
    s.wait_ready(Duration::from_secs(60));
    assert_eq!(s.get("/health/startup").status, 200);
    let (v, _) = s.embed(&json!({ "texts": ["now"] }));
    assert_eq!(v[0].len(), 384);
}

#[test]
fn sigterm_while_loading_exits_0_without_waiting_for_the_model() {
    let (root, _fifo, _) = model_behind_a_fifo();
    let mut s = Builder::new(root.path()).spawn();
    let start = Instant::now();
    while s.try_request("GET", "/health/live", None, &[]).is_err() {
        assert!(start.elapsed() < Duration::from_secs(30), "never listened");
        std::thread::sleep(Duration::from_millis(10));
    }
    s.signal("TERM");
    let status = s.wait_exit(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "{}", s.output());
}

#[test]
fn without_rayon_num_threads_the_cgroup_quota_sets_the_thread_count() {
    let host = std::thread::available_parallelism().unwrap().get();
    let quota = std::fs::read_to_string("/sys/fs/cgroup/cpu.max")
        .ok()
        .and_then(|t| {
            let mut p = t.split_whitespace();
            let (q, period) = (p.next()?, p.next()?);
            Some(q.parse::<f64>().ok()? / period.parse::<f64>().ok()?)
        });
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let expected = quota.map_or(host, |q| (q.ceil() as usize).clamp(1, host));

    let mut s = Builder::new(&require_minilm()).without_thread_env().start();
    let pid = s.pid();
    assert_eq!(s.get("/info").json()["compute_threads"], expected);
    let out = s.output();
    let source = if quota.is_some() {
        "cgroup cpu quota"
    } else {
        "host cores"
    };
    assert!(out.contains(source), "log does not say {source:?}:\n{out}");
    // The re-execution kept the process id: the signal reaches the server.
    s.signal("TERM");
    assert_eq!(s.wait_exit(Duration::from_secs(10)).code(), Some(0));
    assert_eq!(s.pid(), pid);
}

#[test]
fn a_second_signal_while_draining_stops_at_once_with_exit_1() {
    let s = Builder::new(&require_minilm())
        .config("[server]\ndrain_timeout_secs = 120\nrequest_timeout_secs = 120\n")
        .start();
    let long = "a second Ctrl-C means stop now ".repeat(40);
    std::thread::scope(|scope| {
        let s = &s;
        let client = scope.spawn(move || {
            s.try_request(
                "POST",
                "/api/v1/embed",
                Some(json!({ "texts": vec![long; 128] }).to_string().as_bytes()),
                &[("Content-Type", "application/json")],
            )
        });
        let started = Instant::now();
        while inflight(s) < 1 {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "never admitted"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        s.signal("INT");
        while s.get("/health/ready").status != 503 {
            std::thread::sleep(Duration::from_millis(2));
        }
        s.signal("INT");
        // The client's request is abandoned: the connection closes without an answer.
        assert!(client.join().unwrap().is_err(), "the request was answered");
    });
    let mut s = s;
    let t = Instant::now();
    let status = s.wait_exit(Duration::from_secs(10));
    assert_eq!(status.code(), Some(1), "{}", s.output());
    assert!(t.elapsed() < Duration::from_secs(5));
    assert!(s.output().contains("received again"), "{}", s.output());
}
