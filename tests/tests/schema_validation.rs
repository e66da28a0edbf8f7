//! Every environment passes the upstream Kubernetes JSON schemas in strict mode, for our
//! minimum (1.33) and the newest (1.37) version, through the real `kubernetes-validate`.
//! Install it with `pip install kubernetes-validate` (`.ci/run` does); point
//! `KUBERNETES_VALIDATE` at another binary if needed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const VERSIONS: [&str; 2] = ["1.33.0", "1.37.0"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn validate(file: &Path, version: &str) -> Output {
    let bin =
        std::env::var("KUBERNETES_VALIDATE").unwrap_or_else(|_| "kubernetes-validate".to_owned());
    Command::new(&bin)
        .args(["--kubernetes-version", version, "--strict", "--quiet"])
        .arg(file)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run `{bin}` ({e}): install it with `pip install kubernetes-validate` (or set KUBERNETES_VALIDATE)")
        })
}

#[test]
fn every_environment_passes_strict_schema_validation() {
    let mut checked = 0;
    for env in ["dev", "staging", "prod"] {
        let file = root().join("out").join(format!("{env}.yaml"));
        for version in VERSIONS {
            let out = validate(&file, version);
            assert!(
                out.status.success(),
                "out/{env}.yaml fails Kubernetes {version} strict validation:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 6);
}

#[test]
fn the_validator_really_rejects_an_unknown_field() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read_to_string(root().join("out/prod.yaml")).unwrap();
    let bad = good.replacen(
        "      maxUnavailable: 0\n",
        "      maxUnavailable: 0\n      maxSurpise: 1\n",
        1,
    );
    assert_ne!(good, bad, "the fixture edit did not apply");
    let file = dir.path().join("bad.yaml");
    std::fs::write(&file, bad).unwrap();
    let out = validate(&file, VERSIONS[0]);
    assert!(
        !out.status.success(),
        "strict validation accepted an unknown field"
    );
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("maxSurpise"), "{text}");
}
