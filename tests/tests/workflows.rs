//! The GitHub Actions pipeline (.github/workflows): actionlint finds nothing, every action
//! is pinned by commit, the token is read-only unless a job needs more, and the pipeline
//! does what docs/operations.md says (fresh out/, reviewed snapshots, the image, publish
//! and pin on main only).
//!
//! actionlint and shellcheck come from `make tools` (.venv); without them the test fails
//! saying so.

use std::path::PathBuf;
use std::process::Command;

use e2e::root;
use serde_json::Value;

fn venv_bin(name: &str) -> PathBuf {
    root().join(".venv/bin").join(name)
}

fn workflow_files() -> Vec<PathBuf> {
    let dir = root().join(".github/workflows");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yml" || x == "yaml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no workflow in {}", dir.display());
    files
}

fn ci() -> Value {
    let text = std::fs::read_to_string(root().join(".github/workflows/ci.yml")).unwrap();
    serde_saphyr::from_str(&text).unwrap()
}

#[test]
fn actionlint_finds_nothing() {
    let actionlint = venv_bin("actionlint");
    assert!(
        actionlint.is_file() && venv_bin("shellcheck").is_file(),
        "actionlint and shellcheck are missing from .venv: run `make tools`"
    );
    // shellcheck on PATH: actionlint checks every `run:` script with it.
    let path = format!(
        "{}:{}",
        venv_bin("").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new(&actionlint)
        .args(["-shellcheck", venv_bin("shellcheck").to_str().unwrap()])
        .args(workflow_files())
        .current_dir(root())
        .env("PATH", path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "actionlint: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn actionlint_would_catch_a_broken_workflow() {
    // The check above means something only if this actionlint reports findings.
    let actionlint = venv_bin("actionlint");
    assert!(
        actionlint.is_file(),
        "actionlint is missing: run `make tools`"
    );
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yml");
    std::fs::write(
        &bad,
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo ${{ github.event.pull_request.title }}\n        uses: actions/checkout@v4\n",
    )
    .unwrap();
    let out = Command::new(&actionlint).arg(&bad).output().unwrap();
    assert!(
        !out.status.success(),
        "actionlint accepted a broken workflow"
    );
}

fn every_uses(workflow: &Value) -> Vec<String> {
    workflow["jobs"]
        .as_object()
        .into_iter()
        .flat_map(|jobs| jobs.values())
        .flat_map(|job| job["steps"].as_array().into_iter().flatten())
        .filter_map(|step| step["uses"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn every_action_is_pinned_by_commit() {
    for file in workflow_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        let workflow: Value = serde_saphyr::from_str(&text).unwrap();
        for uses in every_uses(&workflow) {
            if uses.starts_with("./") {
                continue;
            }
            let sha = uses.rsplit_once('@').map_or("", |(_, r)| r);
            assert!(
                sha.len() == 40 && sha.bytes().all(|b| b.is_ascii_hexdigit()),
                "{}: `{uses}` is not pinned to a full commit SHA",
                file.display()
            );
        }
    }
}

#[test]
fn the_token_is_read_only_unless_a_job_needs_more() {
    let ci = ci();
    assert_eq!(
        ci["permissions"],
        serde_json::json!({"contents": "read"}),
        "the workflow's default token"
    );
    let jobs = ci["jobs"].as_object().unwrap();
    for (name, job) in jobs {
        let Some(perms) = job["permissions"].as_object() else {
            continue;
        };
        let writes: Vec<&String> = perms
            .iter()
            .filter(|(_, v)| v.as_str() == Some("write"))
            .map(|(k, _)| k)
            .collect();
        if !writes.is_empty() {
            let on_main = job["if"].as_str().unwrap_or_default();
            let needs = job["needs"].as_str().unwrap_or_default();
            assert!(
                on_main.contains("refs/heads/main")
                    || jobs[needs]["if"]
                        .as_str()
                        .is_some_and(|c| c.contains("refs/heads/main")),
                "job {name} writes {writes:?} but does not run on main only"
            );
        }
    }
    assert_eq!(jobs["publish"]["permissions"]["packages"], "write");
    assert_eq!(jobs["pin"]["permissions"]["pull-requests"], "write");
}

fn all_run_scripts(job: &Value) -> String {
    job["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["run"].as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_pipeline_checks_publishes_and_pins() {
    let ci = ci();
    assert_eq!(
        ci["env"]["INSTA_UPDATE"], "no",
        "snapshots never written in CI"
    );
    let test = all_run_scripts(&ci["jobs"]["test"]);
    for needed in [
        "-p gen -- write --check",
        "bash .ci/run",
        "*.snap.new",
        "git diff --exit-code",
    ] {
        assert!(test.contains(needed), "the test job lacks `{needed}`");
    }
    // .ci/run is what builds and tests the image: make test depends on make image.
    let makefile = std::fs::read_to_string(root().join("Makefile")).unwrap();
    let test_rule = makefile.lines().find(|l| l.starts_with("test:")).unwrap();
    assert!(
        test_rule.contains(" image"),
        "make test builds the image: {test_rule}"
    );
    let ci_run = std::fs::read_to_string(root().join(".ci/run")).unwrap();
    assert!(ci_run.contains("make test") && ci_run.contains("podman"));

    let publish = all_run_scripts(&ci["jobs"]["publish"]);
    assert!(publish.contains("scripts/podman push") && publish.contains("ghcr.io"));
    let pin = all_run_scripts(&ci["jobs"]["pin"]);
    for needed in ["scripts/pin-image.py", "-p gen -- write", "gh pr create"] {
        assert!(pin.contains(needed), "the pin job lacks `{needed}`");
    }
}
