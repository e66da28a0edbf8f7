//! `akidb-embed models pull` against a local stand-in of the hub serving the real
//! all-MiniLM-L6-v2 (e2e::hub): pull, resume, checksum mismatch, unknown revision,
//! concurrent pullers, idempotence; then the real server serves what was pulled.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use common::{Builder, max_abs_diff, reference};
use e2e::hub::{self, TestHub};
use serde_json::json;

const MODEL: &str = "all-MiniLM-L6-v2";
const WEIGHTS: &str = "model.safetensors";

/// A model folder in a fresh temp dir, and the pulls run into it.
struct Puller {
    root: tempfile::TempDir,
    config: String,
}

impl Puller {
    fn new(extra_config: &str) -> Puller {
        let root = tempfile::tempdir().unwrap();
        let config = format!(
            "[embedding]\nmodel_dir = {:?}\n[observability]\nlog_format = \"text\"\n{extra_config}",
            root.path().join("models")
        );
        let p = Puller { root, config };
        p.write_config();
        p
    }

    /// Written once, not per command: pullers started together must never read it
    /// half-written.
    fn write_config(&self) {
        std::fs::write(self.root.path().join("config.toml"), &self.config).unwrap();
    }

    fn model_dir(&self) -> PathBuf {
        self.root.path().join("models")
    }

    fn command(&self, hub: &TestHub, env: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new(common::BIN);
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HF_ENDPOINT", &hub.url)
            .env("AKIDB_MODEL_DIR", self.model_dir())
            .args(["models", "pull", "--config"])
            .arg(self.root.path().join("config.toml"));
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd
    }

    fn run(&self, hub: &TestHub, env: &[(&str, &str)]) -> Output {
        self.command(hub, env).output().unwrap()
    }

    /// Dot-entries left in the model dir, lock files aside.
    fn leftovers(&self) -> Vec<String> {
        let Ok(rd) = std::fs::read_dir(self.model_dir()) else {
            return Vec::new();
        };
        let mut v: Vec<String> = rd
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with('.') && !n.ends_with(".lock"))
            .collect();
        v.sort();
        v
    }
}

fn text(o: &Output) -> String {
    format!(
        "status: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn expect_ok(o: &Output) {
    assert!(o.status.success(), "the pull failed:\n{}", text(o));
}

fn expect_failure(o: &Output, needles: &[&str]) -> String {
    assert_eq!(o.status.code(), Some(1), "{}", text(o));
    let t = text(o);
    for n in needles {
        assert!(t.contains(n), "missing {n:?} in:\n{t}");
    }
    t
}

/// The published folder holds exactly the real files the server reads, byte for byte.
fn assert_pulled(dir: &Path) {
    let m = dir.join(MODEL);
    for f in app::models::MODEL_FILES {
        let want = &hub::files()[f.path];
        let got = std::fs::read(m.join(f.path))
            .unwrap_or_else(|e| panic!("{} missing: {e}", m.join(f.path).display()));
        assert!(got == want.bytes, "{} differs from the hub's", f.path);
    }
    let marker: serde_json::Value =
        serde_json::from_slice(&std::fs::read(m.join(app::hub::MARKER_FILE)).unwrap()).unwrap();
    assert_eq!(marker["revision"], hub::commit());
    assert_eq!(
        marker["files"][WEIGHTS]["sha256"],
        hub::files()[WEIGHTS].sha256
    );
    assert!(
        !m.join("README.md").exists(),
        "files the server does not read are not pulled"
    );
}

#[test]
fn pull_verifies_publishes_and_the_server_serves_what_it_pulled() {
    let hub = TestHub::start();
    let token = "hf_test_token_0c9d41e7";
    hub.require_token(token);
    let p = Puller::new("");
    // A folder filled by hand before (no marker) is replaced, not trusted.
    std::fs::create_dir_all(p.model_dir().join(MODEL)).unwrap();
    std::fs::write(p.model_dir().join(MODEL).join("stale.bin"), b"x").unwrap();

    let out = p.run(&hub, &[("HF_TOKEN", token)]);
    expect_ok(&out);
    assert_pulled(&p.model_dir());
    assert!(!p.model_dir().join(MODEL).join("stale.bin").exists());
    assert_eq!(p.leftovers(), Vec::<String>::new(), "staging folders left");

    // The token went to the hub with every request, never to the storage host, and never
    // into the output.
    let log = hub.log();
    assert!(log.iter().any(|h| h.host == "cdn"), "{log:?}");
    for h in &log {
        let bearer = format!("Bearer {token}");
        match h.host {
            "hub" => assert_eq!(h.authorization.as_deref(), Some(bearer.as_str()), "{h:?}"),
            _ => assert_eq!(
                h.authorization, None,
                "token sent to the storage host: {h:?}"
            ),
        }
    }
    assert!(!text(&out).contains(token), "{}", text(&out));

    // Without the token the hub refuses, and the message says what to do.
    let q = Puller::new("");
    expect_failure(&q.run(&hub, &[]), &["401", "set HF_TOKEN"]);
    assert!(!q.model_dir().join(MODEL).exists());

    // A second pull finds the verified folder and asks the hub nothing.
    let before = hub.log().len();
    let again = p.run(&hub, &[("HF_TOKEN", token)]);
    expect_ok(&again);
    assert_eq!(hub.log().len(), before, "{:?}", &hub.log()[before..]);
    assert!(text(&again).contains("already pulled"), "{}", text(&again));

    // The real server loads what was pulled and answers like sentence-transformers.
    let s = Builder::new(&p.model_dir()).start();
    let r = reference();
    let (vectors, _) = s.embed(&json!({ "texts": r.sentences }));
    for (i, (got, want)) in vectors.iter().zip(&r.embeddings).enumerate() {
        let d = max_abs_diff(got, want);
        assert!(d <= 1e-4, "sentence {i}: max abs diff {d}");
    }
}

#[test]
fn a_cut_connection_resumes_where_it_stopped() {
    let hub = TestHub::start();
    let cut = 8 << 20;
    hub.cut(WEIGHTS, cut, 2);

    // No retries: the first run stops at the cut, publishes nothing and keeps the bytes.
    let p = Puller::new("[hub]\nmax_retries = 0\n");
    expect_failure(&p.run(&hub, &[]), &[WEIGHTS, "connection was cut"]);
    assert!(!p.model_dir().join(MODEL).exists(), "published after a cut");
    let staging = p.leftovers();
    assert_eq!(staging.len(), 1, "{staging:?}");
    let part = p
        .model_dir()
        .join(&staging[0])
        .join(format!("{WEIGHTS}.part"));
    // The stand-in stops sending at the cut; the last chunk before it may still be lost
    // with the connection, so the puller keeps what reached it, never more.
    let kept = std::fs::metadata(&part).unwrap().len();
    assert!(
        kept > 0 && kept <= cut as u64,
        "kept {kept} of a {cut}-byte cut"
    );

    // The next run (a restarted init container) resumes from the .part; the second cut
    // is resumed within the run.
    let p = Puller {
        config: p.config.replace("max_retries = 0", "max_retries = 2"),
        ..p
    };
    p.write_config();
    let out = p.run(&hub, &[]);
    expect_ok(&out);
    assert_pulled(&p.model_dir());
    assert_eq!(p.leftovers(), Vec::<String>::new());
    let ranges: Vec<Option<String>> = hub
        .log()
        .into_iter()
        .filter(|h| h.host == "cdn")
        .map(|h| h.range)
        .collect();
    // Each attempt resumes exactly where the bytes on disk end.
    let starts: Vec<Option<u64>> = ranges
        .iter()
        .map(|r| {
            r.as_deref()
                .and_then(|r| r.strip_prefix("bytes=")?.strip_suffix('-')?.parse().ok())
        })
        .collect();
    assert_eq!(starts.len(), 3, "{ranges:?}\n{}", text(&out));
    assert_eq!(starts[0], None, "{ranges:?}");
    assert_eq!(starts[1], Some(kept), "{ranges:?}");
    let second = starts[2].unwrap_or_else(|| panic!("{ranges:?}"));
    assert!(
        second > kept && second <= kept + cut as u64,
        "{ranges:?}\n{}",
        text(&out)
    );
    assert!(text(&out).contains("resuming"), "{}", text(&out));
}

#[test]
fn a_hub_that_is_briefly_unavailable_is_retried_up_to_max_retries() {
    let hub = TestHub::start();
    hub.unavailable(2);
    let p = Puller::new("[hub]\nmax_retries = 1\n");
    expect_failure(&p.run(&hub, &[]), &["503", "cannot list revision"]);
    assert!(!p.model_dir().join(MODEL).exists());

    hub.unavailable(2);
    let p = Puller::new("[hub]\nmax_retries = 2\n");
    let out = p.run(&hub, &[]);
    expect_ok(&out);
    assert_pulled(&p.model_dir());
    assert!(text(&out).contains("retrying"), "{}", text(&out));
}

#[test]
fn a_file_that_fails_its_digest_is_refused_and_nothing_is_published() {
    // A small file kept in git: checked against its git blob id.
    let hub = TestHub::start();
    hub.corrupt("tokenizer.json");
    let p = Puller::new("");
    expect_failure(
        &p.run(&hub, &[]),
        &[
            "tokenizer.json does not match its git blob id announced by the hub",
            &hub::files()["tokenizer.json"].git_blob,
        ],
    );
    assert!(!p.model_dir().join(MODEL).exists());
    for s in p.leftovers() {
        let part = p.model_dir().join(s).join("tokenizer.json.part");
        assert!(!part.exists(), "a rejected download was kept for resuming");
    }

    // The weights (LFS): checked against the sha256 the hub announced.
    let hub = TestHub::start();
    hub.corrupt(WEIGHTS);
    let p = Puller::new("");
    expect_failure(
        &p.run(&hub, &[]),
        &[
            "model.safetensors does not match its sha256 announced by the hub",
            &hub::files()[WEIGHTS].sha256,
        ],
    );
    assert!(!p.model_dir().join(MODEL).exists());

    // A pin in the configuration that the true file does not match.
    let hub = TestHub::start();
    let wrong = "0".repeat(64);
    let p = Puller::new(&format!(
        "[hub.models.{MODEL}.sha256]\n\"config.json\" = \"{wrong}\"\n"
    ));
    expect_failure(
        &p.run(&hub, &[]),
        &[
            &format!("pinned sha256 (hub.models.{MODEL}.sha256)"),
            &wrong,
        ],
    );
    assert!(!p.model_dir().join(MODEL).exists());
}

#[test]
fn an_unknown_revision_fails_clearly_and_writes_nothing() {
    let hub = TestHub::start();
    let rev = "0123456789abcdef0123456789abcdef01234567";
    let p = Puller::new(&format!("[hub.models.{MODEL}]\nrevision = \"{rev}\"\n"));
    expect_failure(
        &p.run(&hub, &[]),
        &[rev, "404", "RevisionNotFound", hub::REPO],
    );
    assert!(!p.model_dir().join(MODEL).exists());
    assert_eq!(p.leftovers(), Vec::<String>::new());

    // A branch name is refused before any request.
    let before = hub.log().len();
    let p = Puller::new(&format!("[hub.models.{MODEL}]\nrevision = \"main\"\n"));
    let out = p.run(&hub, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("40-character commit"), "{}", text(&out));
    assert_eq!(hub.log().len(), before);
}

#[test]
fn files_missing_from_the_commit_are_named() {
    // A required file.
    let hub = TestHub::start();
    hub.hide("tokenizer.json");
    let p = Puller::new("");
    expect_failure(
        &p.run(&hub, &[]),
        &[
            "has no tokenizer.json, which the server needs",
            &hub::commit(),
        ],
    );
    assert!(!p.model_dir().join(MODEL).exists());

    // An optional one is skipped, but a pin on it could never be checked: refused.
    let hub = TestHub::start();
    hub.hide("sentence_bert_config.json");
    let pin = "a".repeat(64);
    let p = Puller::new(&format!(
        "[hub.models.{MODEL}.sha256]\n\"sentence_bert_config.json\" = \"{pin}\"\n"
    ));
    expect_failure(
        &p.run(&hub, &[]),
        &["pins sentence_bert_config.json, which", "does not have"],
    );
    let p = Puller::new("");
    expect_ok(&p.run(&hub, &[]));
    assert!(p.model_dir().join(MODEL).join("config.json").is_file());
    assert!(
        !p.model_dir()
            .join(MODEL)
            .join("sentence_bert_config.json")
            .exists()
    );
}

#[test]
fn concurrent_pullers_download_the_model_once() {
    let hub = TestHub::start();
    // Slow enough that every puller starts while the first one downloads.
    hub.throttle(Duration::from_millis(20));
    let p = Puller::new("");
    let children: Vec<_> = (0..4)
        .map(|_| {
            p.command(&hub, &[])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outputs: Vec<Output> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    for o in &outputs {
        expect_ok(o);
    }
    assert_pulled(&p.model_dir());
    assert_eq!(p.leftovers(), Vec::<String>::new());
    let weights: Vec<_> = hub.log().into_iter().filter(|h| h.host == "cdn").collect();
    assert_eq!(
        weights.len(),
        1,
        "the weights were downloaded more than once: {weights:?}\n{:#?}",
        outputs.iter().map(text).collect::<Vec<_>>()
    );
    let waited = outputs
        .iter()
        .filter(|o| text(o).contains("another puller"))
        .count();
    assert_eq!(
        waited,
        3,
        "{:#?}",
        outputs.iter().map(text).collect::<Vec<_>>()
    );
}

#[test]
fn a_model_beyond_the_known_ids_is_pulled_from_its_configured_source_and_served() {
    let hub = TestHub::start();
    let sources = tempfile::tempdir().unwrap();
    let id = "tiny-xlm-roberta";
    e2e::tiny_bert::write_tiny(
        sources.path(),
        id,
        &e2e::tiny_bert::Tiny {
            shape: e2e::tiny_bert::Shape {
                hidden: 32,
                layers: 2,
                intermediate: 48,
                positions: 64,
            },
            family: e2e::tiny_bert::Family::XlmRoberta,
            prefix: "",
            seed: 3,
            random_norms: true,
            sentence: e2e::tiny_bert::SentenceFiles {
                pooling: Some("cls_token"),
                normalize: Some(false),
                prompts: vec![("query", "query: ")],
                default_prompt: Some("query"),
                max_seq_length: Some(48),
            },
        },
    );
    let repo = "acme/tiny-xlm-roberta";
    let revision = "1111111111111111111111111111111111111111";
    hub.add_repo(repo, revision, &sources.path().join(id));

    // Without a source, the pull names what to set, and writes nothing.
    let p = Puller::new(&format!(
        "[embedding.models.{id}]\nmax_tokens = 48\nweights_mib = 1\n"
    ));
    let mut cmd = p.command(&hub, &[]);
    expect_failure(
        &cmd.arg(id).output().unwrap(),
        &[id, "no hub source", &format!("hub.models.{id}.repo")],
    );
    assert!(!p.model_dir().join(id).exists());

    // With one, every file the server reads arrives, sentence-transformers' included.
    let p = Puller::new(&format!(
        "[embedding.models.{id}]\nmax_tokens = 48\nweights_mib = 1\n\
         [hub.models.{id}]\nrepo = \"{repo}\"\nrevision = \"{revision}\"\n"
    ));
    expect_ok(&p.command(&hub, &[]).arg(id).output().unwrap());
    for f in [
        "config.json",
        "tokenizer.json",
        "model.safetensors",
        "modules.json",
        "1_Pooling/config.json",
        "sentence_bert_config.json",
        "config_sentence_transformers.json",
    ] {
        assert_eq!(
            std::fs::read(p.model_dir().join(id).join(f)).unwrap(),
            std::fs::read(sources.path().join(id).join(f)).unwrap(),
            "{f}"
        );
    }
    let s = Builder::new(&p.model_dir())
        .config(&format!(
            "[embedding]\npreload_models = [\"{id}\"]\n\
             [embedding.models.{id}]\nmax_tokens = 48\nweights_mib = 1\n"
        ))
        .start();
    let info = s.get("/info").json();
    assert_eq!(info["models"][0]["id"], id);
    assert_eq!(info["models"][0]["architecture"], "xlm-roberta");
    assert_eq!(info["models"][0]["pooling"], "cls");
    assert_eq!(info["models"][0]["max_tokens"], 48);
    let (v, tokens) = s.embed(&json!({ "texts": ["hello"] }));
    assert_eq!(v[0].len(), 32);
    assert!(tokens > 2);
}
