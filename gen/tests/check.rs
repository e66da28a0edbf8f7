//! `gen check` end to end with the real kubernetes-validate (`make tools` installs it into
//! `.venv`; `KUBERNETES_VALIDATE` overrides the path).

mod common;

use std::process::Command;

use common::{gen_check as check, root};

#[test]
fn every_environment_passes_every_check_for_both_versions() {
    // prod's monitoring objects are custom resources: checked against the upstream CRDs.
    let crds = root().join("../shared/crds").display().to_string();
    let (out, text) = check(["--crds", &crds]);
    assert!(out.status.success(), "{text}");
    for env in ["dev", "staging", "prod"] {
        assert!(text.contains(&format!("{env}: rules: ok")), "{text}");
        for v in ["1.33.0", "1.37.0"] {
            assert!(
                text.contains(&format!(
                    "by kubernetes-validate against Kubernetes {v} (strict)"
                )),
                "{text}"
            );
        }
    }
    assert!(
        text.contains("prod: custom resources: ok (2 checked against their CRDs)"),
        "{text}"
    );
    assert!(text.contains("all 3 environment(s) passed"), "{text}");
}

#[test]
fn a_manifest_with_an_unknown_field_fails_with_kind_name_path_and_message() {
    let dir = tempfile::tempdir().unwrap();
    let bad = std::fs::read_to_string(root().join("out/prod.yaml"))
        .unwrap()
        .replacen(
            "      maxUnavailable: 0\n",
            "      maxUnavailable: 0\n      maxSurpise: 1\n",
            1,
        );
    let file = dir.path().join("bad.yaml");
    std::fs::write(&file, bad).unwrap();
    let (out, text) = check([
        "prod",
        "--manifest",
        file.to_str().unwrap(),
        "--kubernetes-version",
        "1.33",
    ]);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("Deployment akidb-embed: spec.strategy.rollingUpdate:"),
        "{text}"
    );
    assert!(text.contains("maxSurpise"), "{text}");
}

#[test]
fn a_manifest_that_breaks_a_rule_fails_the_rules() {
    let dir = tempfile::tempdir().unwrap();
    let broken = std::fs::read_to_string(root().join("out/prod.yaml"))
        .unwrap()
        .replace("targetPort: http", "targetPort: web");
    let file = dir.path().join("broken.yaml");
    std::fs::write(&file, broken).unwrap();
    let (out, text) = check(["prod", "--manifest", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("prod: rules: FAILED"), "{text}");
    assert!(
        text.contains(
            "error[service-target-port-exists]: Service/akidb-embed spec.ports[0].targetPort"
        ),
        "{text}"
    );
}

#[test]
fn missing_validators_are_a_clear_error_with_install_hints() {
    let out = Command::new(env!("CARGO_BIN_EXE_gen"))
        .args([
            "check",
            "dev",
            "--kubeconform",
            "/nonexistent/kubeconform",
            "--kubernetes-validate",
            "/nonexistent/kv",
        ])
        .current_dir(root())
        .env_remove("KUBECONFORM")
        .env_remove("KUBERNETES_VALIDATE")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("kubeconform") && err.contains("pip install kubernetes-validate"),
        "{err}"
    );
}

/// `gen check --crds` on a manifest that adds a custom resource, as a kustomize overlay
/// would: the real upstream CRDs in `../shared/crds/` (read there, never copied) accept a
/// CloudNativePG database and refuse one with a field the API server would prune.
#[test]
fn custom_resources_are_checked_against_their_crds() {
    let crds = root().join("../shared/crds");
    assert!(
        crds.join("postgresql.cnpg.io_clusters.yaml").is_file(),
        "the upstream CRDs are expected in {}",
        crds.display()
    );
    let prod = std::fs::read_to_string(root().join("out/prod.yaml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let run = |storage: &str| {
        let manifest = dir.path().join("m.yaml");
        std::fs::write(
            &manifest,
            format!(
                "{prod}---\napiVersion: postgresql.cnpg.io/v1\nkind: Cluster\nmetadata: {{name: db, namespace: akidb-prod}}\nspec:\n  instances: 2\n  storage: {storage}\n"
            ),
        )
        .unwrap();
        let (m, c) = (manifest.display().to_string(), crds.display().to_string());
        check([
            "prod",
            "--kubernetes-version",
            "1.33.0",
            "--manifest",
            &m,
            "--crds",
            &c,
        ])
    };
    let (out, text) = run("{size: 1Gi}");
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("prod: custom resources: ok (3 checked against their CRDs)"),
        "{text}"
    );
    let (out, text) = run("{sizee: 1Gi}");
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("prod: custom resources: FAILED")
            && text.contains("postgresql.cnpg.io/v1/Cluster db /spec/storage")
            && text.contains("sizee"),
        "{text}"
    );
}
