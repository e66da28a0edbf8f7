//! Generated files are produced by the code: this fails when anything under `out/` or
//! `environments/schema.json` differs from a fresh render.

use std::path::{Path, PathBuf};

use akidb_gen::{Catalog, output, pipeline};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn out_and_schema_are_fresh() {
    let root = root();
    let out_dir = root.join("out");
    let files = output::generate(&Catalog::new(root.join("environments")), &out_dir).unwrap();
    let stale = files.stale(&out_dir);
    assert!(
        stale.is_empty(),
        "generated files are stale; run `make out` and commit:\n{}",
        stale
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn every_example_is_fresh_and_passes_every_check() {
    let examples = root().join("examples");
    let mut seen = 0;
    for entry in std::fs::read_dir(&examples).unwrap() {
        let dir = entry.unwrap().path();
        let environments = dir.join("environments");
        if !environments.is_dir() {
            continue;
        }
        seen += 1;
        let out_dir = dir.join("out");
        let files = output::generate_renders(&Catalog::new(&environments), &out_dir).unwrap();
        let stale = files.stale(&out_dir);
        assert!(
            stale.is_empty(),
            "{}: stale; run `make out` and commit:\n{}",
            dir.display(),
            stale
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        );
        for name in Catalog::new(&environments).names().unwrap() {
            let text = std::fs::read_to_string(environments.join(format!("{name}.yaml"))).unwrap();
            assert!(
                text.starts_with(
                    "# yaml-language-server: $schema=../../../environments/schema.json\n"
                ),
                "{}/{name}.yaml must point editors at the repository's schema",
                environments.display()
            );
        }
    }
    assert!(seen > 0, "no example under {}", examples.display());
}

#[test]
fn every_environment_file_points_editors_at_the_schema() {
    let catalog = Catalog::new(root().join("environments"));
    for name in catalog.names().unwrap() {
        let text = std::fs::read_to_string(catalog.resolve(&name).unwrap().path).unwrap();
        assert!(
            text.starts_with("# yaml-language-server: $schema=./schema.json\n"),
            "environments/{name}.yaml must start with the schema line"
        );
    }
}

#[test]
fn each_environment_has_its_own_namespace() {
    let catalog = Catalog::new(root().join("environments"));
    let mut seen = std::collections::BTreeMap::new();
    for name in catalog.names().unwrap() {
        let (_, env) = pipeline::load(&catalog, &name).unwrap();
        if let Some(other) = seen.insert(env.namespace.to_string(), name.clone()) {
            panic!(
                "environments {other} and {name} share namespace {}",
                env.namespace
            );
        }
    }
}
