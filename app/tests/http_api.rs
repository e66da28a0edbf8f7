//! The HTTP API against the real all-MiniLM-L6-v2, over real HTTP to the real binary.

mod common;

use app::metrics;
use common::{Builder, max_abs_diff, reference, require_minilm};
use serde_json::json;

#[test]
fn vectors_match_sentence_transformers_and_batching_changes_nothing() {
    let models = require_minilm();
    let s = Builder::new(&models).start();
    let r = reference();

    let (batched, tokens) = s.embed(&json!({ "texts": r.sentences }));
    assert_eq!(batched.len(), r.sentences.len());
    assert_eq!(tokens, r.tokens.iter().sum::<u64>(), "usage.tokens");
    for (i, (got, want)) in batched.iter().zip(&r.embeddings).enumerate() {
        assert_eq!(got.len(), 384);
        let d = max_abs_diff(got, want);
        assert!(
            d <= 1e-4,
            "sentence {i} {:?}: max abs diff {d}",
            r.sentences[i]
        );
    }

    // One text per request gives the same vectors as one request with all of them: only
    // float rounding from the padding of the batch may differ.
    for (i, text) in r.sentences.iter().enumerate() {
        let (single, t) = s.embed(&json!({ "texts": [text] }));
        assert_eq!(t, r.tokens[i]);
        let d = max_abs_diff(&single[0], &batched[i]);
        assert!(d <= 1e-6, "sentence {i}: single vs batched differ by {d}");
    }

    // Vectors are unit length by default and not when normalize is false.
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm(&batched[1]) - 1.0).abs() < 1e-5);
    let (raw, _) = s.embed(&json!({ "texts": [r.sentences[1]], "normalize": false }));
    assert!(
        (norm(&raw[0]) - 1.0).abs() > 1e-3,
        "normalize=false still unit length"
    );
    let d = max_abs_diff(
        &raw[0].iter().map(|x| x / norm(&raw[0])).collect::<Vec<_>>(),
        &batched[1],
    );
    assert!(d <= 1e-6);
}

#[test]
fn openai_endpoint_matches_native_in_float_and_base64() {
    let s = Builder::new(&require_minilm()).start();
    let texts = ["first sentence", "second, longer sentence about embeddings"];
    let (native, tokens) = s.embed(&json!({ "texts": texts }));

    let r = s.post_json(
        "/v1/embeddings",
        &json!({ "input": texts, "model": "all-MiniLM-L6-v2" }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(v["object"], "list");
    assert_eq!(v["model"], "all-MiniLM-L6-v2");
    assert_eq!(v["usage"]["prompt_tokens"], tokens);
    assert_eq!(v["usage"]["total_tokens"], tokens);
    for (i, item) in v["data"].as_array().unwrap().iter().enumerate() {
        assert_eq!(item["object"], "embedding");
        assert_eq!(item["index"], i);
        let e: Vec<f32> = serde_json::from_value(item["embedding"].clone()).unwrap();
        assert!(max_abs_diff(&e, &native[i]) <= 1e-6);
    }

    let r = s.post_json(
        "/v1/embeddings",
        &json!({ "input": texts[0], "encoding_format": "base64" }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let b64 = r.json()["data"][0]["embedding"]
        .as_str()
        .unwrap()
        .to_owned();
    let bytes = decode_base64(&b64);
    assert_eq!(bytes.len(), 384 * 4);
    let e: Vec<f32> = bytes
        .chunks(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    assert!(max_abs_diff(&e, &native[0]) <= 1e-6);
}

fn decode_base64(s: &str) -> Vec<u8> {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.bytes().filter(|c| *c != b'=') {
        let v = A.iter().position(|a| *a == c).expect("base64 alphabet") as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

#[test]
fn inputs_are_truncated_at_256_tokens_not_128() {
    let s = Builder::new(&require_minilm()).start();
    // "word" is one token: [CLS] + 300 words + [SEP] is 302 tokens.
    let words = |n: usize, last: &str| format!("{}{last}", "word ".repeat(n));
    let (v, tokens) = s.embed(&json!({ "texts": [words(300, "")] }));
    assert_eq!(tokens, 256, "a long input is cut to 256 tokens");
    assert_eq!(v.len(), 1);

    // A difference at token ~200 changes the vector (a 128 cut would hide it) ...
    let (a, _) = s.embed(&json!({ "texts": [words(200, " apple"), words(200, " galaxy")] }));
    assert!(max_abs_diff(&a[0], &a[1]) > 1e-3, "token 200 was ignored");
    // ... and one past token 256 does not.
    let (b, _) = s.embed(&json!({ "texts": [words(280, " apple"), words(280, " galaxy")] }));
    assert!(max_abs_diff(&b[0], &b[1]) <= 1e-6, "token 280 was used");

    // truncate=false refuses it with 422 naming the limit; the configured default applies
    // when the request does not say.
    let msg = s
        .post_json(
            "/api/v1/embed",
            &json!({ "texts": ["ok", words(300, "")], "truncate": false }),
        )
        .expect_error(422, "input_too_long");
    assert!(
        msg.contains("input 1") && msg.contains("302") && msg.contains("256"),
        "{msg}"
    );
    drop(s);

    let s = Builder::new(&require_minilm())
        .config("[embedding]\ntruncate = false\n")
        .start();
    s.post_json("/api/v1/embed", &json!({ "texts": [words(300, "")] }))
        .expect_error(422, "input_too_long");
    let (_, tokens) = s.embed(&json!({ "texts": [words(300, "")], "truncate": true }));
    assert_eq!(tokens, 256);
}

#[test]
fn every_error_has_its_status_and_json_body() {
    let s = Builder::new(&require_minilm())
        .config("[server]\nbody_limit_bytes = 4096\n[embedding]\nmax_texts_per_request = 4\n")
        .start();
    let embed = "/api/v1/embed";

    // 400: malformed JSON, empty list, null, non-strings, missing field, unknown field.
    for body in [
        "{\"texts\": [\"a\"",
        "not json",
        r#"{"texts": []}"#,
        r#"{"texts": [null]}"#,
        r#"{"texts": ["a", 3]}"#,
        r#"{"texts": "a"}"#,
        r#"{"text": ["a"]}"#,
        r#"{"texts": ["a"], "colour": 1}"#,
        r#"{"texts": ["a"], "input_type": "document"}"#,
        r#"{"texts": ["a"], "normalize": "yes"}"#,
    ] {
        let msg = s
            .post_raw(embed, body.as_bytes(), "application/json")
            .expect_error(400, "invalid_request");
        assert!(!msg.is_empty(), "{body}");
    }
    s.post_raw(embed, b"{\"texts\": [\"\xff\xfe\"]}", "application/json")
        .expect_error(400, "invalid_request");
    let deep = format!("{}{}", "[".repeat(2_000), "]".repeat(2_000));
    s.post_raw(embed, deep.as_bytes(), "application/json")
        .expect_error(400, "invalid_request");
    let msg = s
        .post_json("/v1/embeddings", &json!({ "input": ["a", null] }))
        .expect_error(400, "invalid_request");
    assert!(msg.contains("input[1]"), "{msg}");
    s.post_json("/v1/embeddings", &json!({ "input": [] }))
        .expect_error(400, "invalid_request");
    s.post_json("/v1/embeddings", &json!({ "input": "a", "dimensions": 10 }))
        .expect_error(400, "invalid_request");
    s.post_json(
        "/v1/embeddings",
        &json!({ "input": "a", "encoding_format": "int8" }),
    )
    .expect_error(400, "invalid_request");

    // 404: unknown model, a known model this server did not load, unknown route.
    let msg = s
        .post_json(embed, &json!({ "texts": ["a"], "model": "bert-base" }))
        .expect_error(404, "model_not_found");
    assert!(
        msg.contains("bert-base") && msg.contains("does not exist"),
        "{msg}"
    );
    let msg = s
        .post_json(embed, &json!({ "texts": ["a"], "model": "../models" }))
        .expect_error(404, "model_not_found");
    assert!(msg.contains("not a folder name"), "{msg}");
    let msg = s
        .post_json(
            "/v1/embeddings",
            &json!({ "input": "a", "model": "e5-small-v2" }),
        )
        .expect_error(404, "model_not_found");
    assert!(
        msg.contains("not available") && msg.contains("does not exist"),
        "{msg}"
    );
    s.get("/api/v2/embed").expect_error(404, "not_found");

    // 405: wrong method on real routes.
    s.get(embed).expect_error(405, "method_not_allowed");
    s.request("DELETE", "/v1/embeddings", None, &[])
        .expect_error(405, "method_not_allowed");
    s.post_raw("/health/ready", b"{}", "application/json")
        .expect_error(405, "method_not_allowed");

    // 413: body over server.body_limit_bytes, more texts than max_texts_per_request.
    let big = json!({ "texts": ["x".repeat(5000)] });
    s.post_json(embed, &big)
        .expect_error(413, "payload_too_large");
    let msg = s
        .post_json(embed, &json!({ "texts": ["a", "b", "c", "d", "e"] }))
        .expect_error(413, "payload_too_large");
    assert!(msg.contains("max_texts_per_request"), "{msg}");

    // 415: not JSON, or no content type.
    s.post_raw(embed, br#"{"texts": ["a"]}"#, "text/plain")
        .expect_error(415, "unsupported_media_type");
    s.request("POST", embed, Some(br#"{"texts": ["a"]}"#), &[])
        .expect_error(415, "unsupported_media_type");

    // 422: over the token limit without truncation.
    s.post_json(
        embed,
        &json!({ "texts": ["word ".repeat(300)], "truncate": false }),
    )
    .expect_error(422, "input_too_long");

    // Still serving after all of that.
    let (v, _) = s.embed(&json!({ "texts": ["still alive"] }));
    assert_eq!(v[0].len(), 384);

    // Every refusal was counted by route and status.
    let m = s.metrics();
    for (route, method, status, count) in [
        ("/api/v1/embed", "POST", 400, 12),
        ("/api/v1/embed", "POST", 413, 2),
        ("/api/v1/embed", "POST", 200, 1),
        (metrics::UNMATCHED_ROUTE, "GET", 404, 1),
    ] {
        let line = requests_line(route, method, status, count);
        assert!(m.contains(&line), "missing {line} in\n{m}");
    }
}

/// The exposition line of the request counter for one route, method and status.
fn requests_line(route: &str, method: &str, status: u16, count: u64) -> String {
    use metrics::labels::{METHOD, ROUTE, STATUS};
    format!(
        r#"{}{{{ROUTE}="{route}",{METHOD}="{method}",{STATUS}="{status}"}} {count}"#,
        metrics::HTTP_REQUESTS.total()
    )
}

#[test]
fn a_full_queue_answers_429_and_the_rest_succeed() {
    let s = Builder::new(&require_minilm())
        .config("[server]\nrequest_timeout_secs = 600\n[embedding]\nmax_queued_requests = 1\n")
        .start();
    let long = "an embedding server batches requests by their token budget ".repeat(30);
    let body = json!({ "texts": vec![long; 16] }).to_string();
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..6)
            .map(|_| {
                let body = body.as_bytes();
                let s = &s;
                scope.spawn(move || {
                    let r = s.post_raw("/api/v1/embed", body, "application/json");
                    if r.status == 429 {
                        r.expect_error(429, "queue_full");
                        assert!(r.headers.to_ascii_lowercase().contains("retry-after"));
                    }
                    r.status
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(statuses.contains(&429), "no 429 among {statuses:?}");
    assert!(statuses.contains(&200), "no 200 among {statuses:?}");
    assert!(
        statuses.iter().all(|c| *c == 200 || *c == 429),
        "{statuses:?}"
    );
    assert!(
        s.metrics().contains(&metrics::QUEUE_REJECTED.total()),
        "rejections not counted"
    );
}

#[test]
fn health_info_and_metrics_describe_the_server() {
    let s = Builder::new(&require_minilm()).separate_metrics().start();
    assert_eq!(s.get("/health/live").status, 200);
    assert_eq!(s.get("/health/startup").status, 200);
    assert_eq!(s.get("/health/ready").json()["status"], "ready");

    let info = s.get("/info").json();
    assert_eq!(info["default_model"], "all-MiniLM-L6-v2");
    assert_eq!(info["ready"], true);
    let m = &info["models"][0];
    assert_eq!(m["id"], "all-MiniLM-L6-v2");
    assert_eq!(m["dimensions"], 384);
    assert_eq!(m["max_tokens"], 256);
    assert_eq!(m["layers"], 6);
    assert_eq!(m["pooling"], "mean");
    assert_eq!(info["batching"]["max_batch_tokens"], 8192);
    assert_eq!(info["batching"]["max_texts_per_request"], 128);
    assert_eq!(info["compute_threads"], 2);
    assert_eq!(info["version"], env!("CARGO_PKG_VERSION"));

    s.embed(&json!({ "texts": ["one", "two", "three"] }));
    // /metrics lives on its own port, not on the API port.
    assert_ne!(s.port, s.metrics_port);
    s.get("/metrics").expect_error(404, "not_found");
    let m = s.metrics();
    let minilm = format!(r#"{{{}="all-MiniLM-L6-v2"}}"#, metrics::labels::MODEL);
    for needle in [
        requests_line("/api/v1/embed", "POST", 200, 1),
        metrics::HTTP_REQUEST_DURATION.bucket(),
        format!("{}{minilm} 1", metrics::QUEUE_WAIT.count()),
        format!("{}{minilm}", metrics::BATCH_SIZE.sum()),
        format!("{}{minilm}", metrics::BATCH_TOKENS.count()),
        format!("{}{minilm} 3", metrics::EMBEDDED_TEXTS.total()),
        format!("{}{minilm}", metrics::MODEL_LOAD_SECONDS.series()),
        format!("{} 0", metrics::INFLIGHT_REQUESTS.series()),
        format!("{} 1", metrics::READY.series()),
    ] {
        assert!(m.contains(&needle), "missing {needle} in\n{m}");
    }
}

#[test]
fn a_request_past_its_timeout_gets_503_and_the_server_goes_on() {
    let s = Builder::new(&require_minilm())
        .config("[server]\nrequest_timeout_secs = 1\n")
        .start();
    // 128 texts of 256 tokens: far more than two cores embed in one second.
    let long = "timeouts bound how long a client waits for its vectors ".repeat(40);
    let started = std::time::Instant::now();
    let msg = s
        .post_json("/api/v1/embed", &json!({ "texts": vec![long; 128] }))
        .expect_error(503, "timeout");
    assert!(msg.contains("1 s"), "{msg}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));

    // The server goes on: once the pass in progress ends, short requests succeed again.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    loop {
        let r = s.post_json("/api/v1/embed", &json!({ "texts": ["after the timeout"] }));
        if r.status == 200 {
            break;
        }
        r.expect_error(503, "timeout");
        assert!(std::time::Instant::now() < deadline, "never recovered");
    }
    // The abandoned request stopped costing compute after its first pass of at most
    // 8192 tokens: its 4 passes (32768 tokens) were not all run.
    let m = s.metrics();
    let sum_line = format!(
        r#"{}{{{}="all-MiniLM-L6-v2"}} "#,
        metrics::BATCH_TOKENS.sum(),
        metrics::labels::MODEL
    );
    let tokens: f64 = m
        .lines()
        .find_map(|l| l.strip_prefix(&sum_line))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no batch_tokens_sum in\n{m}"));
    assert!(
        tokens < 32768.0,
        "{tokens} tokens computed for an abandoned request"
    );
}

#[test]
fn a_client_that_never_sends_its_body_is_cut_off() {
    use std::io::{Read, Write};
    let s = Builder::new(&require_minilm())
        .config("[server]\nrequest_timeout_secs = 1\n")
        .start();
    let mut c = std::net::TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    c.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let started = std::time::Instant::now();
    c.write_all(
        b"POST /api/v1/embed HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
          Content-Length: 100\r\nConnection: close\r\n\r\n{\"texts\"",
    )
    .unwrap();
    let mut answer = String::new();
    let _ = c.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer:?}");
    assert!(answer.contains("\"timeout\""), "{answer:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

#[test]
fn json_logs_by_default_and_metrics_can_be_switched_off() {
    let s = Builder::new(&require_minilm())
        .config(
            "[observability]\nlog_format = \"json\"\nmetrics_enabled = false\nmetrics_port = 1\n",
        )
        .env("AKIDB_METRICS_ENABLED", "false")
        .start();
    // No /metrics on the API port, and nothing listens on a metrics port.
    s.get("/metrics").expect_error(404, "not_found");
    assert_eq!(s.get("/info").json()["ready"], true);
    let stderr = std::fs::read_to_string(s.dir.path().join("stderr")).unwrap();
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l["message"] == "ready" && l["level"] == "INFO"),
        "{stderr}"
    );
}

#[test]
fn a_client_announcing_a_huge_body_gets_413_at_once() {
    use std::io::{Read, Write};
    // The request timeout is long: only the early answer can make this fast.
    let s = Builder::new(&require_minilm())
        .config("[server]\nrequest_timeout_secs = 60\n")
        .start();
    for path in ["/api/v1/embed", "/v1/embeddings", "/embed"] {
        let mut c = std::net::TcpStream::connect(("127.0.0.1", s.port)).unwrap();
        c.set_read_timeout(Some(std::time::Duration::from_secs(20)))
            .unwrap();
        let started = std::time::Instant::now();
        c.write_all(
            format!(
                "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{{\"texts\"",
                64 << 20
            )
            .as_bytes(),
        )
        .unwrap();
        let mut answer = String::new();
        let _ = c.read_to_string(&mut answer);
        let took = started.elapsed();
        assert!(answer.starts_with("HTTP/1.1 413"), "{path}: {answer:?}");
        assert!(answer.contains("body_limit_bytes"), "{path}: {answer:?}");
        assert!(
            took < std::time::Duration::from_secs(1),
            "{path}: 413 after {took:?}"
        );
    }
}
