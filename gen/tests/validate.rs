//! The validator wrapper against the real `kubernetes-validate`, on prod rendered fresh:
//! valid as generated, invalid once a field is corrupted, for Kubernetes 1.33 and 1.37.
//!
//! Needs `kubernetes-validate` (`pip install kubernetes-validate`, or `make tools`):
//! `KUBERNETES_VALIDATE` names the binary; otherwise `kubernetes-validate` on `PATH`, then
//! the repository's `.venv/bin/kubernetes-validate`. A missing binary fails these tests.

use std::path::{Path, PathBuf};
use std::process::Command;

use akidb_gen::validate::{
    Backend, BackendChoice, Status, ValidateError, ValidatorConfig, validate,
};
use akidb_gen::{Catalog, pipeline};

const VERSIONS: [&str; 2] = ["1.33.0", "1.37.0"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The kubernetes-validate binary, or a failure that says how to get one.
fn kubernetes_validate() -> PathBuf {
    let runs = |bin: &Path| {
        Command::new(bin)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let mut tried = Vec::new();
    let candidates: Vec<PathBuf> = match std::env::var_os("KUBERNETES_VALIDATE") {
        Some(bin) if !bin.is_empty() => vec![PathBuf::from(bin)],
        _ => vec![
            PathBuf::from("kubernetes-validate"),
            root().join(".venv/bin/kubernetes-validate"),
        ],
    };
    for bin in candidates {
        if runs(&bin) {
            return bin;
        }
        tried.push(bin.display().to_string());
    }
    panic!(
        "kubernetes-validate not found (tried {}): install it with `pip install kubernetes-validate` \
         or `make tools`, or set KUBERNETES_VALIDATE to its path",
        tried.join(", ")
    );
}

fn config() -> ValidatorConfig {
    ValidatorConfig {
        backend: BackendChoice::KubernetesValidate,
        kubernetes_validate: kubernetes_validate(),
        ..ValidatorConfig::default()
    }
}

/// prod's YAML stream and its objects' (kind, name), rendered from environments/prod.yaml,
/// without its custom resources (tests/crds.rs checks those against their CRDs).
fn prod() -> (String, Vec<(String, String)>) {
    let catalog = Catalog::new(root().join("environments"));
    let (source, env) = pipeline::load(&catalog, "prod").unwrap();
    let mut objects = pipeline::objects(&env, &source.name).unwrap().objects;
    objects.retain(|o| !o.is_custom());
    let ids = objects
        .iter()
        .map(|o| (o.kind().to_owned(), o.name().to_owned()))
        .collect();
    (pipeline::render(&source.name, &objects).unwrap(), ids)
}

/// prod with an unknown key under the Deployment's rollingUpdate.
fn corrupted_prod() -> String {
    let (good, _) = prod();
    let bad = good.replacen(
        "    rollingUpdate:\n      maxSurge: 1\n",
        "    rollingUpdate:\n      bogus: 1\n      maxSurge: 1\n",
        1,
    );
    assert_ne!(good, bad, "the fixture edit did not apply");
    bad
}

#[test]
fn prod_passes_strict_validation_for_1_33_and_1_37() {
    let (yaml, objects) = prod();
    let config = config();
    for version in VERSIONS {
        let report = validate(&yaml, version, &config).unwrap();
        assert!(report.is_ok(), "prod fails Kubernetes {version}:\n{report}");
        assert_eq!(report.backend, Backend::KubernetesValidate);
        assert_eq!(report.kubernetes_version, version);
        let seen: Vec<(String, String)> = report
            .resources
            .iter()
            .map(|r| (r.kind.clone(), r.name.clone()))
            .collect();
        assert_eq!(seen, objects, "one result per object, in stream order");
        for r in &report.resources {
            assert_eq!(r.status, Status::Valid, "{r:?}");
            assert!(r.version.is_some(), "apiVersion missing: {r:?}");
            let expected_ns = (r.kind != "Namespace").then_some("akidb-prod");
            assert_eq!(r.namespace.as_deref(), expected_ns, "{r:?}");
        }
        assert_eq!(report.to_string(), "", "a clean report prints no problem");
    }
}

#[test]
fn a_corrupted_field_is_reported_with_kind_name_path_and_message() {
    let yaml = corrupted_prod();
    let config = config();
    for version in VERSIONS {
        let report = validate(&yaml, version, &config).unwrap();
        assert!(
            !report.is_ok(),
            "Kubernetes {version} accepted an unknown field"
        );
        let problems: Vec<_> = report.problems().collect();
        assert_eq!(problems.len(), 1, "{report}");
        assert_eq!(problems[0].status, Status::Invalid);
        assert_eq!(problems[0].namespace.as_deref(), Some("akidb-prod"));
        assert_eq!(problems[0].version.as_deref(), Some("apps/v1"));
        assert_eq!(
            report.to_string(),
            "Deployment akidb-embed: spec.strategy.rollingUpdate: Additional properties are not allowed ('bogus' was unexpected)\n",
            "Kubernetes {version}"
        );
    }
}

#[test]
fn a_kind_without_schema_is_an_error_unless_missing_schemas_are_ignored() {
    let (mut yaml, _) = prod();
    yaml.push_str("---\napiVersion: example.com/v1\nkind: Foo\nmetadata:\n  name: foo1\n  namespace: akidb-prod\nspec: {}\n");
    let mut config = config();
    let report = validate(&yaml, "1.33", &config).unwrap();
    assert_eq!(report.kubernetes_version, "1.33.0");
    let problems: Vec<_> = report.problems().collect();
    assert_eq!(problems.len(), 1, "{report}");
    assert_eq!(problems[0].status, Status::Error);
    assert_eq!(
        report.to_string(),
        "Foo foo1: Couldn't find schema for kind Foo with api version example.com/v1 for kubernetes version 1.33\n"
    );

    config.ignore_missing_schemas = true;
    let report = validate(&yaml, "1.33", &config).unwrap();
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.counts().skipped, 1);
}

#[test]
fn auto_falls_back_to_kubernetes_validate_without_kubeconform() {
    let config = ValidatorConfig {
        backend: BackendChoice::Auto,
        kubeconform: PathBuf::from("/nonexistent/kubeconform"),
        ..config()
    };
    let report = validate(&corrupted_prod(), "1.37", &config).unwrap();
    assert_eq!(report.backend, Backend::KubernetesValidate);
    assert!(!report.is_ok());
}

#[test]
fn a_version_the_tool_does_not_know_is_a_clear_error() {
    let (yaml, _) = prod();
    let err = validate(&yaml, "1.99", &config()).unwrap_err();
    assert!(
        matches!(err, ValidateError::UnsupportedVersion { .. }),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("does not support Kubernetes 1.99.0"),
        "{err}"
    );
    let err = validate(&yaml, "1.20", &config()).unwrap_err();
    assert!(
        matches!(err, ValidateError::UnsupportedVersion { .. }),
        "{err:?}"
    );
}
