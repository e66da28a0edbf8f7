//! Snapshot review: every environment's full YAML, `--help` and the settings schema.
//! A pull request that changes a manifest shows the change here; accept it with
//! `cargo insta review` (see docs/snapshots.md).

use std::path::{Path, PathBuf};
use std::process::Command;

use akidb_gen::{Catalog, pipeline, schema};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// One place for snapshot settings: a fixed folder and names without module prefixes.
fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots"));
    s.set_prepend_module_to_snapshot(false);
    s.set_omit_expression(true);
    s
}

#[test]
fn every_environment_renders_as_its_snapshot() {
    let catalog = Catalog::new(root().join("environments"));
    let names = catalog.names().unwrap();
    assert_eq!(
        names,
        ["dev", "prod", "staging"],
        "a new environment needs its snapshot reviewed too"
    );
    for name in names {
        let (source, env) = pipeline::load(&catalog, &name).unwrap();
        let yaml = pipeline::render(
            &source.name,
            &pipeline::objects(&env, &source.name).unwrap().objects,
        )
        .unwrap();
        settings().bind(|| insta::assert_snapshot!(format!("env_{name}"), yaml));
    }
}

#[test]
fn every_example_environment_renders_as_its_snapshot() {
    let mut count = 0;
    for example in ["alice-multiverse", "archivist", "todo-chatbot"] {
        let catalog = Catalog::new(root().join("examples").join(example).join("environments"));
        for name in catalog.names().unwrap() {
            let (_, env) = pipeline::load(&catalog, &name).unwrap_or_else(|e| panic!("{e}"));
            let yaml =
                pipeline::render(&name, &pipeline::objects(&env, &name).unwrap().objects).unwrap();
            settings().bind(|| insta::assert_snapshot!(format!("example_{example}_{name}"), yaml));
            count += 1;
        }
    }
    assert_eq!(
        count, 9,
        "a new example environment needs its snapshot reviewed too"
    );
}

#[test]
fn help_text_is_reviewed() {
    let out = Command::new(env!("CARGO_BIN_EXE_gen"))
        .arg("--help")
        .env("COLUMNS", "100")
        .output()
        .unwrap();
    assert!(out.status.success());
    settings().bind(|| insta::assert_snapshot!("help", String::from_utf8(out.stdout).unwrap()));
}

#[test]
fn settings_schema_is_reviewed() {
    settings().bind(|| insta::assert_snapshot!("environment_schema", schema::environment_schema()));
}
