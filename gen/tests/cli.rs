//! The command line on good input: rendering, listing, the schema, `write` and its check.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn gen_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gen"))
        .args(args)
        .current_dir(dir)
        .env_remove("GEN_ENVIRONMENTS")
        .output()
        .unwrap()
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = gen_in(dir, args);
    assert!(
        out.status.success(),
        "gen {} in {} failed: {}\n{}",
        args.join(" "),
        dir.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn rendering_is_byte_identical_run_to_run_and_matches_out() {
    for env in ["dev", "staging", "prod"] {
        let first = ok(&root(), &[env]);
        assert_eq!(first, ok(&root(), &[env]), "{env} differs between runs");
        let committed =
            std::fs::read_to_string(root().join("out").join(format!("{env}.yaml"))).unwrap();
        assert_eq!(first, committed, "gen {env} differs from out/{env}.yaml");
    }
}

#[test]
fn objects_come_in_the_fixed_kind_order() {
    let yaml = ok(&root(), &["prod"]);
    let kinds: Vec<&str> = yaml
        .lines()
        .filter_map(|l| l.strip_prefix("kind: "))
        .collect();
    assert_eq!(
        kinds,
        [
            "Namespace",
            "ServiceAccount",
            "ConfigMap",
            "ConfigMap",
            "PersistentVolumeClaim",
            "Service",
            "Service",
            "Deployment",
            "HorizontalPodAutoscaler",
            "PodDisruptionBudget",
            "Ingress",
            "NetworkPolicy",
            "ServiceMonitor",
            "PrometheusRule"
        ]
    );
}

#[test]
fn turned_off_objects_are_not_emitted() {
    let dev = ok(&root(), &["dev"]);
    for absent in ["HorizontalPodAutoscaler", "PodDisruptionBudget", "Ingress"] {
        assert!(
            !dev.contains(&format!("kind: {absent}\n")),
            "dev should have no {absent}"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bare.yaml");
    std::fs::write(&file, "namespace: bare\ncomponents: {akidb-embed: {akidb_embed: {network_policy: {enabled: false}}}}\n").unwrap();
    let bare = ok(dir.path(), &[file.to_str().unwrap()]);
    assert!(!bare.contains("kind: NetworkPolicy"));
    assert!(bare.contains("kind: Deployment"));
}

#[test]
fn an_environment_file_can_be_given_by_path() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mine.yaml");
    std::fs::write(
        &file,
        "namespace: mine\ncomponents: {akidb-embed: {akidb_embed: {replicas: 2}}}\n",
    )
    .unwrap();
    let yaml = ok(dir.path(), &["./mine.yaml"]);
    assert!(yaml.contains("namespace: mine"));
    assert!(yaml.contains("replicas: 2"));
}

#[test]
fn list_prints_the_environment_names() {
    assert_eq!(ok(&root(), &["list"]), "dev\nprod\nstaging\n");
}

#[test]
fn schema_subcommand_prints_the_committed_schema() {
    let printed = ok(&root(), &["schema"]);
    assert_eq!(
        printed,
        std::fs::read_to_string(root().join("environments/schema.json")).unwrap()
    );
    let v: serde_json::Value = serde_json::from_str(&printed).unwrap();
    assert_eq!(
        v["additionalProperties"],
        serde_json::json!(false),
        "unknown top-level keys must be refused by editors too"
    );
}

#[test]
fn write_creates_prunes_and_check_detects_staleness() {
    let dir = tempfile::tempdir().unwrap();
    let envs = dir.path().join("environments");
    std::fs::create_dir(&envs).unwrap();
    std::fs::write(
        envs.join("one.yaml"),
        "namespace: one\ncomponents: {akidb-embed: {akidb_embed: {}}}\n",
    )
    .unwrap();
    std::fs::write(
        envs.join("two.yaml"),
        "namespace: two\ncomponents: {akidb-embed: {akidb_embed: {}}}\n",
    )
    .unwrap();
    ok(dir.path(), &["write"]);
    for f in [
        "out/one.yaml",
        "out/two.yaml",
        "out/kustomize/one/kustomization.yaml",
        "environments/schema.json",
    ] {
        assert!(dir.path().join(f).is_file(), "{f} missing after write");
    }
    ok(dir.path(), &["write", "--check"]);

    std::fs::write(
        envs.join("one.yaml"),
        "namespace: one\ncomponents: {akidb-embed: {akidb_embed: {replicas: 3}}}\n",
    )
    .unwrap();
    std::fs::remove_file(envs.join("two.yaml")).unwrap();
    let check = gen_in(dir.path(), &["write", "--check"]);
    assert!(!check.status.success());
    let err = String::from_utf8_lossy(&check.stderr);
    assert!(err.contains("out of date: out/one.yaml"), "{err}");
    assert!(err.contains("no longer generated: out/two.yaml"), "{err}");

    ok(dir.path(), &["write"]);
    assert!(
        !dir.path().join("out/two.yaml").exists(),
        "stale environment output not pruned"
    );
    assert!(
        !dir.path().join("out/kustomize/two").exists(),
        "stale kustomize base not pruned"
    );
    ok(dir.path(), &["write", "--check"]);
}

#[test]
fn kustomize_base_lists_every_object_file() {
    let base = root().join("out/kustomize/prod");
    let kustomization = std::fs::read_to_string(base.join("kustomization.yaml")).unwrap();
    let listed: Vec<&str> = kustomization
        .lines()
        .filter_map(|l| l.strip_prefix("- "))
        .collect();
    assert_eq!(listed.len(), 14, "{kustomization}");
    let without_comments = |text: &str| {
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| format!("{l}\n"))
            .collect::<String>()
    };
    let joined: String = listed
        .iter()
        .map(|f| {
            format!(
                "---\n{}",
                without_comments(&std::fs::read_to_string(base.join(f)).unwrap())
            )
        })
        .collect();
    let stream = std::fs::read_to_string(root().join("out/prod.yaml")).unwrap();
    assert_eq!(
        joined,
        without_comments(&stream),
        "the base must hold the same objects as out/prod.yaml"
    );
}

#[test]
fn a_closed_stdout_is_not_an_error() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gen"))
        .arg("prod")
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn diff_shows_what_a_fresh_render_changes_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let envs = dir.path().join("environments");
    std::fs::create_dir(&envs).unwrap();
    std::fs::write(
        envs.join("one.yaml"),
        "namespace: one\ncomponents: {akidb-embed: {akidb_embed: {replicas: 2}}}\n",
    )
    .unwrap();
    ok(dir.path(), &["write"]);
    let same = gen_in(dir.path(), &["diff", "one"]);
    assert!(
        same.status.success() && same.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&same.stderr)
    );

    std::fs::write(
        envs.join("one.yaml"),
        "namespace: one\ncomponents: {akidb-embed: {akidb_embed: {replicas: 3}}}\n",
    )
    .unwrap();
    let changed = gen_in(dir.path(), &["diff", "one"]);
    assert_eq!(changed.status.code(), Some(1));
    let diff = String::from_utf8(changed.stdout).unwrap();
    assert!(
        diff.starts_with("--- out/one.yaml\n+++ gen one\n@@ "),
        "{diff}"
    );
    assert!(diff.contains("-  replicas: 2\n+  replicas: 3\n"), "{diff}");
}

/// Two environments share a components file and differ only in the sizes they set: the
/// included component renders in both, each with its own replicas, storage class and hosts.
#[test]
fn environments_share_included_components_and_set_only_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let envs = dir.path().join("environments");
    std::fs::create_dir_all(envs.join("shared")).unwrap();
    std::fs::write(
        envs.join("shared/components.yaml"),
        "components:\n  search:\n    akidb_embed:\n      replicas: 1\n      ingress: {hosts: [old.example.com]}\n      model_cache: {access_mode: ReadWriteMany}\n",
    )
    .unwrap();
    std::fs::write(
        envs.join("gke.yaml"),
        "namespace: gke\npart_of: archive\ninclude: shared/components.yaml\nsizing:\n  search: {replicas: 3, storage_class: standard-rwx, size: 20Gi, hosts: [gke.example.com]}\n",
    )
    .unwrap();
    std::fs::write(
        envs.join("eks.yaml"),
        "namespace: eks\npart_of: archive\ninclude: shared/components.yaml\nstorage_class: efs-sc\n",
    )
    .unwrap();
    let render = |name: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_gen"))
            .arg(name)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let gke = render("gke");
    assert!(gke.contains("name: search\n  namespace: gke"), "{gke}");
    assert!(gke.contains("replicas: 3"), "{gke}");
    assert!(gke.contains("storageClassName: standard-rwx"), "{gke}");
    assert!(gke.contains("storage: 20Gi"), "{gke}");
    assert!(gke.contains("host: gke.example.com") && !gke.contains("old.example.com"));
    assert!(gke.contains("app.kubernetes.io/part-of: archive"), "{gke}");
    let eks = render("eks");
    assert!(eks.contains("replicas: 1"), "{eks}");
    assert!(eks.contains("storageClassName: efs-sc"), "{eks}");
    assert!(eks.contains("host: old.example.com"), "{eks}");
}
