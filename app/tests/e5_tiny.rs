//! The e5-small-v2 path (12 layers, 512 tokens, `query: ` / `passage: ` prefixes) on a
//! tiny random BERT that the test writes itself: no e5 weights exist here.

mod common;

use std::path::Path;

use common::{Builder, max_abs_diff};
use serde_json::json;

const HIDDEN: usize = e2e::tiny_bert::E5_SMALL_V2.hidden;
const LAYERS: usize = e2e::tiny_bert::E5_SMALL_V2.layers;

/// Writes a random 12-layer BERT in the Hugging Face layout under `<root>/e5-small-v2/`.
fn write_tiny_e5(root: &Path) {
    e2e::tiny_bert::write(root, "e5-small-v2", e2e::tiny_bert::E5_SMALL_V2);
}

#[test]
fn e5_uses_12_layers_512_tokens_and_prefixes_by_input_type() {
    let models = tempfile::tempdir().unwrap();
    write_tiny_e5(models.path());
    let s = Builder::new(models.path())
        .config("[embedding]\npreload_models = [\"e5-small-v2\"]\n")
        .start();

    let info = s.get("/info").json();
    let m = info["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == "e5-small-v2")
        .unwrap();
    assert_eq!(m["loaded"], true);
    assert_eq!(m["id"], "e5-small-v2");
    assert_eq!(m["layers"], LAYERS);
    assert_eq!(m["max_tokens"], 512);
    assert_eq!(m["dimensions"], HIDDEN);
    assert_eq!(m["prefixes"]["query"], "query: ");
    assert_eq!(m["prefixes"]["passage"], "passage: ");
    assert_eq!(info["default_model"], "e5-small-v2");

    // "query: hello" is [CLS] query : h ##e ##l ##l ##o [SEP] = 9 tokens.
    let embed = |body: serde_json::Value| {
        let r = s.post_json("/api/v1/embed", &body);
        assert_eq!(r.status, 200, "{}", r.body);
        let v = r.json();
        assert_eq!(v["model"], "e5-small-v2");
        assert_eq!(v["dimensions"], HIDDEN);
        let e: Vec<Vec<f32>> = serde_json::from_value(v["embeddings"].clone()).unwrap();
        (e, v["usage"]["tokens"].as_u64().unwrap())
    };
    let (default, t) = embed(json!({ "texts": ["hello"] }));
    assert_eq!(t, 9);
    let (query, _) = embed(json!({ "texts": ["hello"], "input_type": "query" }));
    let (passage, t) =
        embed(json!({ "texts": ["hello"], "input_type": "passage", "model": "e5-small-v2" }));
    assert_eq!(t, 9);
    assert!(
        max_abs_diff(&default[0], &query[0]) <= 1e-6,
        "the default is query"
    );
    assert!(
        max_abs_diff(&query[0], &passage[0]) > 1e-3,
        "the prefix made no difference"
    );
    // The prefix is really "query: ": sending it by hand as a passage-less text gives
    // [CLS] query : query : hello [SEP], which differs from the prefixed "hello".
    let (doubled, t) = embed(json!({ "texts": ["query: hello"] }));
    assert_eq!(t, 11);
    assert!(max_abs_diff(&doubled[0], &query[0]) > 1e-3);

    // The OpenAI endpoint takes the same input_type extension.
    let r = s.post_json(
        "/v1/embeddings",
        &json!({ "input": "hello", "input_type": "passage" }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let e: Vec<f32> = serde_json::from_value(r.json()["data"][0]["embedding"].clone()).unwrap();
    assert!(max_abs_diff(&e, &passage[0]) <= 1e-6);

    // TEI's prompt_name picks the same prefixes; without one no prefix is put, as in TEI.
    let tei = |body: serde_json::Value| -> Vec<f32> {
        let r = s.post_json("/embed", &body);
        assert_eq!(r.status, 200, "{}", r.body);
        serde_json::from_str::<Vec<Vec<f32>>>(&r.body).unwrap()[0].clone()
    };
    let named = tei(json!({ "inputs": "hello", "prompt_name": "passage" }));
    assert!(max_abs_diff(&named, &passage[0]) <= 1e-6);
    let named = tei(json!({ "inputs": "hello", "prompt_name": "query" }));
    assert!(max_abs_diff(&named, &query[0]) <= 1e-6);
    let bare = tei(json!({ "inputs": "query: hello" }));
    assert!(
        max_abs_diff(&bare, &query[0]) <= 1e-6,
        "no prompt by default"
    );
    let r = s.post_json(
        "/embed",
        &json!({ "inputs": "a", "prompt_name": "document" }),
    );
    assert_eq!(r.status, 413, "{}", r.body);
    assert!(r.body.contains("passage, query"), "{}", r.body);
    let r = s.post_json(
        "/tokenize",
        &json!({ "inputs": "hello", "prompt_name": "query", "add_special_tokens": false }),
    );
    let pieces: Vec<String> = r.json()[0]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["text"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        pieces.first().map(String::as_str),
        Some("query"),
        "{pieces:?}"
    );

    // 600 tokens of text: cut at 512 (not the tokenizer.json's 128), or 422 naming 512.
    let long = "ab ".repeat(300);
    let (_, t) = embed(json!({ "texts": [long.clone()] }));
    assert_eq!(t, 512);
    let (_, t) = embed(json!({ "texts": ["ab ".repeat(200)] }));
    assert_eq!(t, 2 + 2 + 400, "[CLS] query : + 400 + [SEP]");
    let msg = s
        .post_json(
            "/api/v1/embed",
            &json!({ "texts": [long], "truncate": false }),
        )
        .expect_error(422, "input_too_long");
    assert!(msg.contains("512") && msg.contains("e5-small-v2"), "{msg}");

    // A model that is not preloaded is not served.
    s.post_json(
        "/api/v1/embed",
        &json!({ "texts": ["a"], "model": "all-MiniLM-L6-v2" }),
    )
    .expect_error(404, "model_not_found");
}

/// A model folder with the tiny e5 and (by symlink) the real MiniLM.
fn both_models() -> tempfile::TempDir {
    let models = tempfile::tempdir().unwrap();
    write_tiny_e5(models.path());
    let minilm = common::require_minilm().join("all-MiniLM-L6-v2");
    std::os::unix::fs::symlink(
        minilm.canonicalize().unwrap(),
        models.path().join("all-MiniLM-L6-v2"),
    )
    .unwrap();
    models
}

#[test]
fn two_preloaded_models_are_served_side_by_side() {
    let models = both_models();
    let s = Builder::new(models.path())
        .env("AKIDB_PRELOAD_MODELS", "all-MiniLM-L6-v2,e5-small-v2")
        .start();
    let r = s.post_json("/api/v1/embed", &json!({ "texts": ["hi"] }));
    assert_eq!(r.json()["dimensions"], 384, "{}", r.body);
    let r = s.post_json(
        "/v1/embeddings",
        &json!({ "input": "hi", "model": "e5-small-v2" }),
    );
    assert_eq!(r.json()["model"], "e5-small-v2", "{}", r.body);
    assert_eq!(
        r.json()["data"][0]["embedding"].as_array().unwrap().len(),
        HIDDEN
    );
}

#[test]
fn a_model_not_preloaded_loads_on_demand_up_to_max_models() {
    let models = both_models();
    let s = Builder::new(models.path()).start();
    let loaded = |s: &common::Server| -> Vec<String> {
        s.get("/info").json()["models"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["loaded"] == true)
            .map(|m| m["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(loaded(&s), vec!["all-MiniLM-L6-v2"]);
    // Concurrent first requests share one load.
    let dims: Vec<serde_json::Value> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let s = &s;
                scope.spawn(move || {
                    let r = s.post_json(
                        "/api/v1/embed",
                        &json!({ "texts": ["x"], "model": "e5-small-v2" }),
                    );
                    assert_eq!(r.status, 200, "{}", r.body);
                    r.json()["dimensions"].clone()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(dims.iter().all(|d| *d == HIDDEN), "{dims:?}");
    assert_eq!(loaded(&s), vec!["all-MiniLM-L6-v2", "e5-small-v2"]);
    assert_eq!(
        s.output().matches("loading model on demand").count(),
        1,
        "{}",
        s.output()
    );
    drop(s);

    // With max_models = 1 the preloaded model fills the budget.
    let s = Builder::new(models.path())
        .config("[embedding]\nmax_models = 1\n")
        .start();
    let msg = s
        .post_json(
            "/api/v1/embed",
            &json!({ "texts": ["x"], "model": "e5-small-v2" }),
        )
        .expect_error(404, "model_not_found");
    assert!(msg.contains("max_models"), "{msg}");
}
