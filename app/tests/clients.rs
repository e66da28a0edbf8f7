//! The clients people already use, from PyPI, against the real server over real HTTP
//! with the real all-MiniLM-L6-v2: the `openai` SDK, `huggingface_hub`'s InferenceClient
//! (TEI's protocol) and LangChain's `OpenAIEmbeddings`, compared with the reference
//! vectors; then schemathesis fuzzes the OpenAPI document against the server.
//!
//! The packages come from `make tools` (pinned in the Makefile) into `.venv`; without
//! them these tests fail and say how to install them.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{Builder, require_minilm};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The venv's Python with the client packages; fails the test with how to get them.
fn python() -> PathBuf {
    common::python(&[
        "openai",
        "huggingface_hub",
        "langchain_openai",
        "numpy",
        "schemathesis",
    ])
}

fn explain(what: &str, out: &Output) -> String {
    format!(
        "{what}: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn openai_sdk_inference_client_and_langchain_get_the_reference_vectors() {
    let py = python();
    let s = Builder::new(&require_minilm()).start();
    let base = format!("http://127.0.0.1:{}", s.port);
    let out = Command::new(py)
        .arg(root().join("app/tests/python/clients.py"))
        .arg(&base)
        .arg(root().join("app/tests/fixtures/minilm_reference.json"))
        // No proxy, no hub token, no telemetry: only the server under test is reached.
        .env("NO_PROXY", "127.0.0.1")
        .env("HF_HUB_OFFLINE", "0")
        .env("HF_HUB_DISABLE_TELEMETRY", "1")
        .env_remove("HF_TOKEN")
        .env_remove("OPENAI_API_KEY")
        .output()
        .expect("run clients.py");
    let report = explain("clients.py", &out);
    if !out.status.success() {
        s.fail(&report);
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("all clients passed"), "{report}");
    assert!(stdout.matches("ok  ").count() >= 15, "{report}");
}

#[test]
fn schemathesis_finds_no_server_error_and_no_response_off_the_document() {
    let py = python();
    // A generous request timeout: a 503 from a loaded CI machine is not what is tested.
    let s = Builder::new(&require_minilm())
        .config("[server]\nrequest_timeout_secs = 300\n")
        .start();
    let report_dir = tempfile::tempdir().unwrap();
    // A model is any folder name, so random names are mostly valid ids without a folder
    // (404). Most generated bodies name the served model instead, so the rest of each
    // request is exercised too; one in ten still tries another name.
    std::fs::write(
        report_dir.path().join("schemathesis.toml"),
        "[dictionaries.models]\nvalues = [\"all-MiniLM-L6-v2\"]\n\n\
         [parameters]\n\"body.model\" = { dictionary = \"models\", probability = 0.9 }\n",
    )
    .unwrap();
    let schemathesis = py.with_file_name("schemathesis");
    let out = Command::new(schemathesis)
        .arg("run")
        .arg(format!("http://127.0.0.1:{}/openapi.json", s.port))
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,\
             response_schema_conformance,response_headers_conformance",
            // Bounded so CI stays quick; fixed seed so a failure replays.
            "--max-examples",
            "25",
            "--seed",
            "1",
            "--workers",
            "2",
            "--phases",
            "examples,coverage,fuzzing",
            "--request-timeout",
            "60",
            "--no-color",
            // Nothing written into the source tree.
            "--generation-database",
            "none",
            "--report-dir",
        ])
        .arg(report_dir.path())
        .current_dir(report_dir.path())
        .output()
        .expect("run schemathesis");
    let report = explain("schemathesis", &out);
    if !out.status.success() {
        s.fail(&report);
    }
    // Every operation of the document was really exercised, none skipped.
    let doc: serde_json::Value = serde_json::from_str(&app::server::openapi::json()).unwrap();
    let operations: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|p| p.as_object().unwrap().len())
        .sum();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("Tested: {operations}")),
        "{operations} operations expected: {report}"
    );
    assert!(stdout.contains("No issues found"), "{report}");
    println!("{report}");
}
