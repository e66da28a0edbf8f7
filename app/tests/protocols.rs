//! The TEI and OpenAI front ends and the OpenAPI document, over real HTTP to the real
//! binary with the real all-MiniLM-L6-v2.

mod common;

use common::{Builder, Server, max_abs_diff, require_minilm};
use serde_json::{Value, json};

/// Asserts a TEI-shaped error (`{"error", "error_type"}`); returns the message.
fn tei_error(s: &Server, path: &str, body: &Value, status: u16, error_type: &str) -> String {
    let r = s.post_json(path, body);
    assert_eq!(r.status, status, "{body}: {}", r.body);
    let v = r.json();
    assert_eq!(v["error_type"], error_type, "{}", r.body);
    v["error"].as_str().expect("error is a string").to_owned()
}

/// Asserts an OpenAI-shaped error; returns the `error` object.
fn openai_error(r: &common::Resp, status: u16) -> Value {
    assert_eq!(r.status, status, "{}", r.body);
    let e = r.json()["error"].clone();
    for field in ["message", "type", "param", "code"] {
        assert!(e.get(field).is_some(), "no error.{field}: {}", r.body);
    }
    e
}

#[test]
fn tei_routes_embed_tokenize_and_refuse_as_tei_does() {
    let s = Builder::new(&require_minilm())
        .config("[embedding]\nmax_texts_per_request = 4\n")
        .start();
    let (native, _) = s.embed(&json!({ "texts": ["Hello world", "a second text"] }));

    // POST /embed and POST / take a string or a list and answer a list of vectors.
    for path in ["/embed", "/"] {
        let r = s.post_json(path, &json!({ "inputs": "Hello world" }));
        assert_eq!(r.status, 200, "{}", r.body);
        let v: Vec<Vec<f32>> = serde_json::from_str(&r.body).unwrap();
        assert_eq!(v.len(), 1);
        assert!(max_abs_diff(&v[0], &native[0]) <= 1e-6, "{path}");
        let r = s.post_json(path, &json!({ "inputs": ["Hello world", "a second text"] }));
        let v: Vec<Vec<f32>> = serde_json::from_str(&r.body).unwrap();
        assert!(max_abs_diff(&v[1], &native[1]) <= 1e-6, "{path}");
    }
    // normalize: false gives the raw pooled vector.
    let r = s.post_json(
        "/embed",
        &json!({ "inputs": "Hello world", "normalize": false }),
    );
    let raw: Vec<Vec<f32>> = serde_json::from_str(&r.body).unwrap();
    let norm = raw[0].iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!(
        (norm - 1.0).abs() > 1e-3,
        "normalize=false gave a unit vector"
    );
    // truncation_direction: left keeps the end of an over-long input.
    let long = format!("{}galaxy", "word ".repeat(300));
    let cut = |dir: &str| -> Vec<f32> {
        let r = s.post_json(
            "/embed",
            &json!({ "inputs": long, "truncate": true, "truncation_direction": dir }),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        serde_json::from_str::<Vec<Vec<f32>>>(&r.body).unwrap()[0].clone()
    };
    assert!(max_abs_diff(&cut("left"), &cut("right")) > 1e-3);
    assert!(max_abs_diff(&cut("Left"), &cut("left")) <= 1e-6);

    // TEI's errors and statuses.
    tei_error(&s, "/embed", &json!({ "inputs": [] }), 400, "empty");
    let msg = tei_error(
        &s,
        "/embed",
        &json!({ "inputs": long, "truncate": false }),
        413,
        "validation",
    );
    assert!(msg.contains("303 tokens") && msg.contains("256"), "{msg}");
    let msg = tei_error(
        &s,
        "/embed",
        &json!({ "inputs": ["a", "b", "c", "d", "e"] }),
        413,
        "validation",
    );
    assert!(msg.contains("max_texts_per_request"), "{msg}");
    let msg = tei_error(
        &s,
        "/",
        &json!({ "inputs": "a", "prompt_name": "query" }),
        413,
        "validation",
    );
    assert!(
        msg.contains("prompt `query`") && msg.contains("none"),
        "{msg}"
    );
    let msg = tei_error(
        &s,
        "/embed",
        &json!({ "inputs": [7592, 2088] }),
        422,
        "validation",
    );
    assert!(msg.contains("token ids"), "{msg}");
    let msg = tei_error(
        &s,
        "/embed",
        &json!({ "inputs": ["a", 3] }),
        422,
        "validation",
    );
    assert_eq!(msg, "inputs[1] must be a string, got a number");
    let msg = tei_error(&s, "/embed", &json!({ "text": "a" }), 422, "validation");
    assert!(msg.contains("inputs"), "{msg}");
    let r = s.post_raw("/embed", br#"{"inputs": "a"}"#, "text/plain");
    assert_eq!(r.status, 415, "{}", r.body);
    assert_eq!(r.json()["error_type"], "validation");

    // POST /tokenize: ids, pieces of the input by character offsets, special tokens.
    let r = s.post_json("/tokenize", &json!({ "inputs": "Héllo world" }));
    assert_eq!(r.status, 200, "{}", r.body);
    let t = r.json();
    let tokens = t[0].as_array().unwrap();
    let texts: Vec<&str> = tokens.iter().map(|t| t["text"].as_str().unwrap()).collect();
    assert_eq!(texts.first(), Some(&"[CLS]"));
    assert_eq!(texts.last(), Some(&"[SEP]"));
    assert!(texts.contains(&"world"), "{texts:?}");
    assert_eq!(tokens[0]["special"], true);
    assert_eq!(tokens[0]["start"], Value::Null);
    assert_eq!(tokens[0]["id"], 101);
    let world = tokens.iter().find(|t| t["text"] == "world").unwrap();
    assert_eq!(
        (world["start"].clone(), world["stop"].clone()),
        (json!(6), json!(11))
    );
    assert_eq!(world["id"], 2088);
    let r = s.post_json(
        "/tokenize",
        &json!({ "inputs": ["world", "world"], "add_special_tokens": false }),
    );
    assert_eq!(
        r.json(),
        json!([
            [{ "id": 2088, "text": "world", "special": false, "start": 0, "stop": 5 }],
            [{ "id": 2088, "text": "world", "special": false, "start": 0, "stop": 5 }]
        ])
    );
}

#[test]
fn openai_models_dimensions_and_token_ids() {
    let s = Builder::new(&require_minilm()).start();
    let list = s.get("/v1/models");
    assert_eq!(list.status, 200, "{}", list.body);
    // e5-small-v2 has no folder here, so it is not listed.
    assert_eq!(
        list.json(),
        json!({ "object": "list", "data": [
            { "id": "all-MiniLM-L6-v2", "object": "model", "created": 0, "owned_by": "akidb" }
        ]})
    );
    let one = s.get("/v1/models/all-MiniLM-L6-v2");
    assert_eq!(one.json()["id"], "all-MiniLM-L6-v2");
    let e = openai_error(&s.get("/v1/models/e5-small-v2"), 404);
    assert_eq!(e["code"], "model_not_found");
    assert_eq!(e["param"], "model");
    let e = openai_error(&s.get("/v1/models/gpt-4"), 404);
    assert!(e["message"].as_str().unwrap().contains("gpt-4"), "{e}");

    // dimensions: the model's own length is accepted; a Matryoshka cut is refused.
    let r = s.post_json(
        "/v1/embeddings",
        &json!({ "input": "a", "dimensions": 384 }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let e = openai_error(
        &s.post_json("/v1/embeddings", &json!({ "input": "a", "dimensions": 64 })),
        400,
    );
    assert_eq!(e["param"], "dimensions");
    let msg = e["message"].as_str().unwrap();
    assert!(msg.contains("Matryoshka") && msg.contains("384"), "{msg}");

    // Token ids (what LangChain sends by default) are refused with what to set.
    for ids in [json!([101, 7592, 102]), json!([[101, 7592, 102]])] {
        let e = openai_error(
            &s.post_json("/v1/embeddings", &json!({ "input": ids })),
            400,
        );
        assert_eq!(e["param"], "input");
        assert!(
            e["message"]
                .as_str()
                .unwrap()
                .contains("check_embedding_ctx_length=False"),
            "{e}"
        );
    }
    // A body error is OpenAI-shaped too.
    openai_error(&s.post_raw("/v1/embeddings", b"{", "application/json"), 400);
}

#[test]
fn the_openapi_document_is_served_committed_fresh_and_covers_every_route() {
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/openapi.json"))
            .unwrap_or_default();
    let generated = app::server::openapi::json();
    assert!(
        committed == generated,
        "docs/openapi.json is stale or missing; regenerate it with:\n\n    make openapi\n"
    );
    let doc: Value = serde_json::from_str(&generated).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for (route, method) in [
        (app::routes::EMBED, "post"),
        (app::routes::OPENAI_EMBEDDINGS, "post"),
        (app::routes::OPENAI_MODELS, "get"),
        (app::routes::OPENAI_MODEL, "get"),
        (app::routes::TEI_EMBED, "post"),
        (app::routes::TEI_ROOT, "post"),
        (app::routes::TEI_TOKENIZE, "post"),
        (app::routes::HEALTH_LIVE, "get"),
        (app::routes::HEALTH_STARTUP, "get"),
        (app::routes::HEALTH_READY, "get"),
        (app::routes::INFO, "get"),
    ] {
        assert!(
            doc["paths"][route][method].is_object(),
            "{method} {route} is not in the document"
        );
    }

    let s = Builder::new(&require_minilm()).start();
    let r = s.get(app::routes::OPENAPI);
    assert_eq!(r.status, 200);
    assert!(r.headers.to_ascii_lowercase().contains("application/json"));
    assert_eq!(r.body, generated);
}
