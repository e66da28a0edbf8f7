//! `scripts/pin-image.py`, the publishing workflow's step that pins a new image digest
//! into the environments: the result loads and renders the pinned image, everything else
//! in the file (comments included) is kept, and bad input changes nothing.
//!
//! Runs the script with .venv's Python (ruamel.yaml from `make tools`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use akidb_gen::lint::Index;
use akidb_gen::{Catalog, pipeline};
use e2e::root;

const REPOSITORY: &str = "ghcr.io/example/akidb-embed";

fn digest(seed: char) -> String {
    format!("sha256:{}", seed.to_string().repeat(64))
}

fn pin(files: &[PathBuf], repository: &str, digest: &str) -> Output {
    let python = root().join(".venv/bin/python");
    assert!(
        python.is_file(),
        "{} is missing: run `make tools`",
        python.display()
    );
    Command::new(python)
        .arg(root().join("scripts/pin-image.py"))
        .args(["--repository", repository, "--digest", digest])
        .args(files)
        .output()
        .unwrap()
}

/// A copy of environments/ to change.
fn environments() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(root().join("environments")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
    }
    dir
}

#[test]
fn every_environment_runs_the_pinned_digest_and_keeps_the_rest() {
    let dir = environments();
    let names = ["dev", "staging", "prod"];
    let files: Vec<PathBuf> = names
        .iter()
        .map(|n| dir.path().join(format!("{n}.yaml")))
        .collect();
    let out = pin(&files, REPOSITORY, &digest('a'));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Twice: the second pin replaces the first.
    let pinned = digest('b');
    let out = pin(&files, REPOSITORY, &pinned);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    for (name, file) in names.iter().zip(&files) {
        let before =
            std::fs::read_to_string(root().join("environments").join(format!("{name}.yaml")))
                .unwrap();
        let (_, original) =
            pipeline::load(&Catalog::new(root().join("environments")), name).unwrap();
        let blue_green = e2e::server_settings(&original).blue_green.clone();
        let deployments = deployment_images(dir.path(), name);
        assert!(!deployments.is_empty());
        for (deployment, images) in deployments {
            // Under blue-green the release goes to the idle colour; the active one keeps
            // serving what it ran.
            let serving = blue_green
                .as_ref()
                .is_some_and(|bg| deployment.ends_with(&format!("-{}", bg.active.as_str())));
            for image in images {
                if serving {
                    assert!(
                        !image.contains('@'),
                        "{name}: {deployment} was pinned: {image}"
                    );
                } else {
                    assert_eq!(
                        image,
                        format!("{REPOSITORY}@{pinned}"),
                        "{name}: {deployment}"
                    );
                }
            }
        }
        // Only the image block changed: every other original line is still there, in
        // order; a tag of the pinned image gives way to the digest.
        let after = std::fs::read_to_string(file).unwrap();
        let mut rest = after.lines();
        let mut dropped_tags = 0;
        for line in before.lines() {
            let mut probe = rest.clone();
            if probe.any(|l| l == line) {
                rest = probe;
            } else if line.trim_start().starts_with("tag:") {
                dropped_tags += 1;
            } else {
                panic!("{name}: `{line}` was lost or moved by the pin:\n{after}");
            }
        }
        let added = if before.contains("blue_green:") { 2 } else { 3 };
        assert_eq!(
            after.lines().count() + dropped_tags,
            before.lines().count() + added,
            "{name}: image, repository and digest added:\n{after}"
        );
    }
}

/// Each Deployment's name with the images of its containers.
fn deployment_images(dir: &Path, env: &str) -> Vec<(String, Vec<String>)> {
    let (_, loaded) = pipeline::load(&Catalog::new(dir), env).unwrap();
    let objects = pipeline::objects(&loaded, env).unwrap().objects;
    Index::new(&objects)
        .deployments()
        .map(|d| {
            (
                d.metadata.name.clone().unwrap_or_default(),
                e2e::pod::all_containers(d)
                    .filter_map(|c| c.image.clone())
                    .collect(),
            )
        })
        .collect()
}

#[test]
fn a_bad_digest_or_file_changes_nothing() {
    let dir = environments();
    let prod = dir.path().join("prod.yaml");
    let readme = dir.path().join("README.md");
    let before = std::fs::read_to_string(&prod).unwrap();

    let out = pin(std::slice::from_ref(&prod), REPOSITORY, "sha256:1234");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a content digest"));

    let out = pin(
        std::slice::from_ref(&prod),
        "ghcr.io/Example/Image:tag",
        &digest('c'),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a repository"));

    // A file that is not settings stops the run before any file is written.
    let out = pin(&[prod.clone(), readme], REPOSITORY, &digest('c'));
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("README.md") && stderr.contains("nothing was written"),
        "{stderr}"
    );

    assert_eq!(std::fs::read_to_string(&prod).unwrap(), before);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().starts_with(".pin-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
