//! API keys over real HTTP to the real binary: no key, wrong key, right key, open routes,
//! a key rotated the way Kubernetes swaps a mounted Secret, and keys absent from every
//! output.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{Builder, Resp, Server, require_minilm};
use serde_json::json;

const FILE_KEYS: [&str; 2] = ["sk-file-7d0e2a61", "sk-file-93b4c5f8"];
const ENV_KEY: &str = "sk-env-1f6a0c3e";

/// A Secret volume as the kubelet lays it out: the file is a symlink through `..data`,
/// which is re-pointed at a new timestamped folder on every update.
struct SecretVolume {
    dir: tempfile::TempDir,
    generation: u32,
}

impl SecretVolume {
    fn new(content: &str) -> SecretVolume {
        let mut v = SecretVolume {
            dir: tempfile::tempdir().unwrap(),
            generation: 0,
        };
        v.update(content);
        std::os::unix::fs::symlink("..data/api-keys", v.dir.path().join("api-keys")).unwrap();
        v
    }

    fn file(&self) -> PathBuf {
        self.dir.path().join("api-keys")
    }

    fn update(&mut self, content: &str) {
        self.generation += 1;
        let gen_dir = format!("..2026_11_29_{}", self.generation);
        std::fs::create_dir(self.dir.path().join(&gen_dir)).unwrap();
        std::fs::write(self.dir.path().join(&gen_dir).join("api-keys"), content).unwrap();
        let tmp = self.dir.path().join("..data_tmp");
        std::os::unix::fs::symlink(&gen_dir, &tmp).unwrap();
        std::fs::rename(&tmp, self.dir.path().join("..data")).unwrap();
    }
}

fn guarded(keys: &Path) -> Builder {
    Builder::new(&require_minilm())
        .config(&format!(
            "[auth]\nrequired = true\nkeys_file = {:?}\nreload_interval_secs = 1\n",
            keys
        ))
        .env("AKIDB_API_KEYS", ENV_KEY)
}

fn embed(s: &Server, key: Option<&str>) -> Resp {
    let auth = key.map(|k| format!("Bearer {k}"));
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(a) = &auth {
        headers.push(("Authorization", a));
    }
    let body = json!({ "texts": ["a protected sentence"] }).to_string();
    s.request("POST", "/api/v1/embed", Some(body.as_bytes()), &headers)
}

fn get(s: &Server, path: &str, key: Option<&str>) -> Resp {
    let auth = key.map(|k| format!("Bearer {k}"));
    let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("Authorization", a.as_str())).collect();
    s.request("GET", path, None, &headers)
}

/// 401 with the JSON error body and the given challenge.
fn expect_401(r: &Resp, challenge: &str) {
    r.expect_error(401, "unauthorized");
    let want = format!("www-authenticate: {challenge}").to_ascii_lowercase();
    assert!(
        r.headers.to_ascii_lowercase().contains(&want),
        "no {want:?} in:\n{}",
        r.headers
    );
}

#[test]
fn every_route_but_health_and_metrics_needs_an_accepted_key() {
    let secret = SecretVolume::new(&format!(
        "# keys for the search team\n{}\n\n  {}  \n",
        FILE_KEYS[0], FILE_KEYS[1]
    ));
    let s = guarded(&secret.file()).start();

    expect_401(&embed(&s, None), "Bearer realm=\"akidb-embed\"");
    expect_401(
        &embed(&s, Some("sk-not-a-key")),
        "Bearer realm=\"akidb-embed\", error=\"invalid_token\"",
    );
    let basic = s.request(
        "POST",
        "/api/v1/embed",
        Some(b"{}"),
        &[
            ("Content-Type", "application/json"),
            ("Authorization", "Basic c2stZmlsZQ=="),
        ],
    );
    expect_401(
        &basic,
        "Bearer realm=\"akidb-embed\", error=\"invalid_request\"",
    );
    // A key is not a prefix match.
    expect_401(
        &embed(&s, Some(&FILE_KEYS[0][..10])),
        "Bearer realm=\"akidb-embed\", error=\"invalid_token\"",
    );

    for key in [FILE_KEYS[0], FILE_KEYS[1], ENV_KEY] {
        let r = embed(&s, Some(key));
        assert_eq!(r.status, 200, "{key}: {}", r.body);
    }
    let openai = s.request(
        "POST",
        "/v1/embeddings",
        Some(json!({ "input": "hello" }).to_string().as_bytes()),
        &[
            ("Content-Type", "application/json"),
            ("Authorization", &format!("Bearer {ENV_KEY}")),
        ],
    );
    assert_eq!(openai.status, 200, "{}", openai.body);
    expect_401(
        &s.post_json("/v1/embeddings", &json!({ "input": "hello" })),
        "Bearer realm=\"akidb-embed\"",
    );

    // /info and unknown paths need a key too: nothing about the server leaks without one.
    expect_401(&get(&s, "/info", None), "Bearer realm=\"akidb-embed\"");
    assert_eq!(get(&s, "/info", Some(FILE_KEYS[1])).status, 200);
    expect_401(&get(&s, "/admin", None), "Bearer realm=\"akidb-embed\"");
    get(&s, "/admin", Some(ENV_KEY)).expect_error(404, "not_found");

    // The probes and the metrics stay open.
    for path in ["/health/live", "/health/startup", "/health/ready"] {
        assert_eq!(get(&s, path, None).status, 200, "{path}");
    }
    assert!(s.metrics().contains("401"), "refusals are counted");
}

#[test]
fn a_rotated_secret_takes_effect_without_a_restart() {
    let mut secret = SecretVolume::new(&format!("{}\n", FILE_KEYS[0]));
    let s = guarded(&secret.file()).start();
    assert_eq!(embed(&s, Some(FILE_KEYS[0])).status, 200);
    expect_401(
        &embed(&s, Some(FILE_KEYS[1])),
        "Bearer realm=\"akidb-embed\", error=\"invalid_token\"",
    );

    secret.update(&format!("{}\n", FILE_KEYS[1]));
    let started = Instant::now();
    while embed(&s, Some(FILE_KEYS[1])).status != 200 {
        if started.elapsed() > Duration::from_secs(15) {
            s.fail("the rotated key was not accepted within 15 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    expect_401(
        &embed(&s, Some(FILE_KEYS[0])),
        "Bearer realm=\"akidb-embed\", error=\"invalid_token\"",
    );
    assert_eq!(
        embed(&s, Some(ENV_KEY)).status,
        200,
        "the variable's key stays"
    );
    assert!(s.output().contains("API keys reloaded"), "{}", s.output());
}

#[test]
fn keys_never_appear_in_logs_print_config_info_or_metrics() {
    let secret = SecretVolume::new(&format!("{}\n{}\n", FILE_KEYS[0], FILE_KEYS[1]));
    let s = guarded(&secret.file()).env("RUST_LOG", "trace").start();
    let wrong = "sk-wrong-5a5a5a5a";
    assert_eq!(embed(&s, Some(FILE_KEYS[0])).status, 200);
    expect_401(
        &embed(&s, Some(wrong)),
        "Bearer realm=\"akidb-embed\", error=\"invalid_token\"",
    );
    let info = get(&s, "/info", Some(ENV_KEY));
    assert_eq!(info.status, 200);
    let metrics = s.metrics();

    let printed = std::process::Command::new(common::BIN)
        .env_clear()
        .env("AKIDB_API_KEYS", ENV_KEY)
        .arg("--print-config")
        .output()
        .unwrap();
    assert!(printed.status.success());
    let printed = String::from_utf8_lossy(&printed.stdout).into_owned();
    assert!(printed.contains("required = true"), "{printed}");

    let output = s.logs();
    assert!(output.contains("API keys required"), "{output}");
    for key in [FILE_KEYS[0], FILE_KEYS[1], ENV_KEY, wrong] {
        for (what, text) in [
            ("the logs", &output),
            ("--print-config", &printed),
            ("/info", &info.body),
            ("/metrics", &metrics),
        ] {
            assert!(!text.contains(key), "{key} appears in {what}:\n{text}");
        }
    }
}

#[test]
fn required_keys_that_do_not_exist_stop_the_server_with_exit_2() {
    let missing = tempfile::tempdir().unwrap().path().join("api-keys");
    let mut s = Builder::new(&require_minilm())
        .config(&format!(
            "[auth]\nrequired = true\nkeys_file = {missing:?}\n"
        ))
        .spawn();
    let status = s.wait_exit(Duration::from_secs(30));
    assert_eq!(status.code(), Some(2), "{}", s.output());
    let out = s.output();
    assert!(
        out.contains("no API key was found") && out.contains("does not exist"),
        "{out}"
    );
}
