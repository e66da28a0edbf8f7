//! Any BERT-family sentence-transformers model, served by its folder name: the
//! architecture (BERT, XLM-RoBERTa), pooling, normalisation, token limit and prompts come
//! from the folder's own files. Tiny random models written by the test (a 12-layer BERT
//! and an XLM-RoBERTa with a Unigram tokenizer) are checked over HTTP, through all three
//! front ends, against an independent numpy forward pass
//! (`tests/python/reference_forward.py`), which is itself checked against
//! sentence-transformers' vectors for the real all-MiniLM-L6-v2.
//!
//! numpy and tokenizers come from `make tools` into `.venv`; without them these tests
//! fail and say how to install them.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{Builder, max_abs_diff, require_minilm};
use e2e::tiny_bert::{self, Family, SentenceFiles, Shape, Tiny};
use serde_json::{Value, json};

const TOLERANCE: f32 = 1e-4;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The venv's Python with numpy and tokenizers; fails the test with how to get them.
fn python() -> PathBuf {
    common::python(&["numpy", "tokenizers"])
}

/// One reference case: vectors and token counts.
#[derive(Debug, serde::Deserialize)]
struct Case {
    vectors: Vec<Vec<f32>>,
    tokens: Vec<u64>,
}

/// Runs the numpy reference on `folder` for each `(prompt, normalize)` over `texts`.
fn reference(folder: &Path, texts: &[String], cases: &[(Option<&str>, Option<bool>)]) -> Vec<Case> {
    let request = json!({
        "cases": cases.iter().map(|(prompt, normalize)| {
            json!({ "texts": texts, "prompt": prompt, "normalize": normalize })
        }).collect::<Vec<_>>()
    });
    let mut child = Command::new(python())
        .arg(root().join("app/tests/python/reference_forward.py"))
        .arg(folder)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    serde_json::to_writer(child.stdin.take().unwrap(), &request).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the reference failed on {}: {}",
        folder.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    serde_json::from_value(answer["cases"].clone()).unwrap()
}

fn assert_close(what: &str, got: &[Vec<f32>], want: &[Vec<f32>]) {
    assert_eq!(got.len(), want.len(), "{what}: vector count");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let d = max_abs_diff(g, w);
        assert!(
            d <= TOLERANCE,
            "{what}: text {i} differs by {d} (> {TOLERANCE})"
        );
    }
}

fn texts() -> Vec<String> {
    // Letters, prompt words and a text longer than the BERT's 64-token limit.
    let long: Vec<String> = (0..90)
        .map(|i| char::from(b'a' + (i % 26) as u8).to_string())
        .collect();
    ["hello world", "query", "a quick brown fox jumps", "z"]
        .map(String::from)
        .into_iter()
        .chain([long.join(" ")])
        .collect()
}

const BERT: &str = "tiny-bert-12";
const XLMR: &str = "tiny-xlm-roberta";

/// A 12-layer BERT (`bert.`-prefixed tensors, CLS pooling, Normalize, a `query` prompt,
/// 64 tokens) and a 4-layer XLM-RoBERTa (mean pooling, no Normalize, `query` and
/// `passage` prompts with `passage` the default, 256 tokens).
fn write_models(root: &Path) {
    tiny_bert::write_tiny(
        root,
        BERT,
        &Tiny {
            shape: Shape {
                hidden: 32,
                layers: 12,
                intermediate: 64,
                positions: 128,
            },
            family: Family::Bert,
            prefix: "bert.",
            seed: 12,
            random_norms: true,
            sentence: SentenceFiles {
                pooling: Some("cls_token"),
                normalize: Some(true),
                prompts: vec![("query", "query: ")],
                default_prompt: None,
                max_seq_length: Some(64),
            },
        },
    );
    tiny_bert::write_tiny(
        root,
        XLMR,
        &Tiny {
            shape: Shape {
                hidden: 32,
                layers: 4,
                intermediate: 48,
                positions: 256,
            },
            family: Family::XlmRoberta,
            prefix: "",
            seed: 514,
            random_norms: true,
            sentence: SentenceFiles {
                pooling: Some("mean_tokens"),
                normalize: Some(false),
                prompts: vec![("query", "query: "), ("passage", "passage: ")],
                default_prompt: Some("passage"),
                max_seq_length: None,
            },
        },
    );
}

const DECLARED: &str = "[embedding]\n\
    preload_models = [\"tiny-xlm-roberta\", \"tiny-bert-12\"]\n\
    [embedding.models.tiny-xlm-roberta]\nmax_tokens = 256\nweights_mib = 1\n\
    [embedding.models.tiny-bert-12]\nmax_tokens = 64\nweights_mib = 1\n\
    matryoshka_dimensions = [16, 8]\n";

fn vectors(v: &Value, key: &str) -> Vec<Vec<f32>> {
    match key {
        "embeddings" => serde_json::from_value(v[key].clone()).unwrap(),
        // OpenAI: data[i].embedding.
        _ => v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| serde_json::from_value(d["embedding"].clone()).unwrap())
            .collect(),
    }
}

#[test]
fn the_numpy_reference_agrees_with_sentence_transformers_on_minilm() {
    let r = common::reference();
    let got = reference(
        &require_minilm().join("all-MiniLM-L6-v2"),
        &r.sentences,
        &[(None, None)],
    );
    assert_eq!(got[0].tokens, r.tokens);
    assert_close(
        "numpy vs sentence-transformers",
        &got[0].vectors,
        &r.embeddings,
    );
}

#[test]
fn bert_and_xlm_roberta_folders_match_the_reference_through_every_front_end() {
    let models = tempfile::tempdir().unwrap();
    write_models(models.path());
    let texts = texts();
    let s = Builder::new(models.path()).config(DECLARED).start();

    // What the server read from the files.
    let info = s.get("/info").json();
    let by_id = |id: &str| {
        info["models"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"] == id)
            .unwrap_or_else(|| panic!("{id} not in /info: {info}"))
            .clone()
    };
    let x = by_id(XLMR);
    assert_eq!(
        (
            &x["architecture"],
            &x["pooling"],
            &x["normalize"],
            &x["layers"]
        ),
        (
            &json!("xlm-roberta"),
            &json!("mean"),
            &json!(false),
            &json!(4)
        )
    );
    assert_eq!(x["max_tokens"], 256);
    assert_eq!(x["default_prompt"], "passage");
    assert_eq!(x["prompts"]["passage"], "passage: ");
    let b = by_id(BERT);
    assert_eq!(
        (
            &b["architecture"],
            &b["pooling"],
            &b["normalize"],
            &b["layers"]
        ),
        (&json!("bert"), &json!("cls"), &json!(true), &json!(12))
    );
    assert_eq!(b["max_tokens"], 64);
    assert_eq!(info["default_model"], XLMR);
    assert_eq!(common::listed_models(&s), vec![BERT, XLMR]);

    let xlmr = reference(
        &models.path().join(XLMR),
        &texts,
        &[
            (Some("query"), None),
            (Some("passage"), None),
            (None, Some(false)),
            (Some("query"), Some(true)),
        ],
    );
    let bert = reference(
        &models.path().join(BERT),
        &texts,
        &[(Some("query"), None), (None, Some(false))],
    );
    // The long text is cut at each model's limit, as sentence-transformers cuts it.
    assert_eq!(bert[0].tokens.last(), Some(&64));
    assert!(xlmr[0].tokens.last().is_some_and(|&n| n > 64 && n <= 256));

    let post = |path: &str, body: Value| {
        let r = s.post_json(path, &body);
        assert_eq!(r.status, 200, "{path} {body}: {}", r.body);
        r.json()
    };

    // Native: input_type picks the prompt; the model's own normalisation by default.
    let v = post("/api/v1/embed", json!({ "texts": texts, "model": XLMR }));
    assert_close(
        "native xlm-r query",
        &vectors(&v, "embeddings"),
        &xlmr[0].vectors,
    );
    let tokens: u64 = xlmr[0].tokens.iter().sum();
    assert_eq!(v["usage"]["tokens"], tokens);
    let v = post(
        "/api/v1/embed",
        json!({ "texts": texts, "model": XLMR, "input_type": "passage" }),
    );
    assert_close(
        "native xlm-r passage",
        &vectors(&v, "embeddings"),
        &xlmr[1].vectors,
    );
    let v = post("/api/v1/embed", json!({ "texts": texts, "model": BERT }));
    assert_close(
        "native bert query",
        &vectors(&v, "embeddings"),
        &bert[0].vectors,
    );

    // TEI, on the default model: no prompt_name means the default prompt.
    let r = s.post_json("/embed", &json!({ "inputs": texts, "normalize": false }));
    assert_eq!(r.status, 200, "{}", r.body);
    let tei: Vec<Vec<f32>> = serde_json::from_str(&r.body).unwrap();
    assert_close("tei xlm-r default prompt", &tei, &xlmr[2].vectors);
    let r = s.post_json(
        "/embed",
        &json!({ "inputs": texts, "prompt_name": "query" }),
    );
    let tei: Vec<Vec<f32>> = serde_json::from_str(&r.body).unwrap();
    assert_close("tei xlm-r query", &tei, &xlmr[3].vectors);

    // OpenAI: unit vectors whatever the model; Matryoshka lengths as declared.
    let v = post(
        "/v1/embeddings",
        json!({ "input": texts, "model": BERT, "encoding_format": "float" }),
    );
    assert_close("openai bert", &vectors(&v, "data"), &bert[0].vectors);
    let v = post(
        "/v1/embeddings",
        json!({ "input": texts, "model": BERT, "dimensions": 16 }),
    );
    let cut: Vec<Vec<f32>> = bert[0]
        .vectors
        .iter()
        .map(|full| {
            let head = &full[..16];
            let norm = head.iter().map(|x| x * x).sum::<f32>().sqrt();
            head.iter().map(|x| x / norm).collect()
        })
        .collect();
    assert_close("openai bert dimensions 16", &vectors(&v, "data"), &cut);
    let r = s.post_json(
        "/v1/embeddings",
        &json!({ "input": "a", "model": BERT, "dimensions": 10 }),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("16, 8"), "{}", r.body);

    // Raw (unnormalised) CLS states of the BERT, through the native route.
    let v = post(
        "/api/v1/embed",
        json!({ "texts": texts, "model": BERT, "normalize": false, "input_type": "passage" }),
    );
    assert_close(
        "native bert raw",
        &vectors(&v, "embeddings"),
        &bert[1].vectors,
    );
}

#[test]
fn an_undeclared_folder_is_served_on_demand_by_its_name() {
    let models = tempfile::tempdir().unwrap();
    write_models(models.path());
    let minilm = require_minilm().join("all-MiniLM-L6-v2");
    std::os::unix::fs::symlink(&minilm, models.path().join("all-MiniLM-L6-v2")).unwrap();
    // A folder whose encoder the server does not run, and one that is no model.
    let other = models.path().join("tiny-other");
    tiny_bert::write(models.path(), "tiny-other", tiny_bert::E5_SMALL_V2);
    let config = std::fs::read_to_string(other.join("config.json")).unwrap();
    std::fs::write(
        other.join("config.json"),
        config.replace("\"model_type\":\"bert\"", "\"model_type\":\"nomic_bert\""),
    )
    .unwrap();
    std::fs::create_dir(models.path().join("notes")).unwrap();

    let s = Builder::new(models.path())
        .config("[embedding]\nmax_models = 3\n")
        .start();
    assert_eq!(
        common::listed_models(&s),
        vec!["all-MiniLM-L6-v2", BERT, "tiny-other", XLMR],
        "folders with a config.json, sorted"
    );

    let texts = texts();
    let r = s.post_json("/v1/embeddings", &json!({ "input": texts, "model": XLMR }));
    assert_eq!(r.status, 200, "{}", r.body);
    let want = reference(
        &models.path().join(XLMR),
        &texts,
        &[(Some("query"), Some(true))],
    );
    assert_close(
        "on-demand xlm-r",
        &vectors(&r.json(), "data"),
        &want[0].vectors,
    );

    let r = s.post_json(
        "/v1/embeddings",
        &json!({ "input": "a", "model": "tiny-other" }),
    );
    assert_eq!(r.status, 500, "{}", r.body);
    assert!(
        r.body.contains("nomic_bert") && r.body.contains("bert, xlm-roberta, roberta"),
        "{}",
        r.body
    );
    for (id, status) in [("notes", 404), ("../etc", 404), ("missing", 404)] {
        let r = s.post_json("/v1/embeddings", &json!({ "input": "a", "model": id }));
        assert_eq!(r.status, status, "{id}: {}", r.body);
    }
}
