//! Bad input: every case exits non-zero, prints nothing on stdout, and names the file,
//! the line and the setting (or the valid choices) on stderr. Runs the real binary in a
//! fresh temporary folder.

use std::path::Path;
use std::process::{Command, Output};

use akidb_gen::pipeline::load_str as parse_str;
use akidb_gen::settings::LoadError;

struct Run {
    out: Output,
    cmd: String,
}

impl Run {
    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.out.stderr).into_owned()
    }

    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.out.stdout).into_owned()
    }

    /// Asserts failure with an empty stdout and every `needle` in stderr.
    fn fails_with(&self, needles: &[&str]) {
        let err = self.stderr();
        let explain = format!(
            "command: {}\nstatus: {}\nstdout:\n{}\nstderr:\n{err}",
            self.cmd,
            self.out.status,
            self.stdout()
        );
        assert!(!self.out.status.success(), "expected failure\n{explain}");
        assert!(
            self.out.stdout.is_empty(),
            "stdout must stay empty on error\n{explain}"
        );
        for n in needles {
            assert!(err.contains(n), "stderr lacks {n:?}\n{explain}");
        }
    }
}

fn gen_in(dir: &Path, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_gen"))
        .args(args)
        .current_dir(dir)
        .env_remove("GEN_ENVIRONMENTS")
        .output()
        .unwrap();
    Run {
        out,
        cmd: format!("gen {} (in {})", args.join(" "), dir.display()),
    }
}

/// Keys of the application itself; every other top-level key of a test's flat YAML belongs
/// to its one `akidb_embed` component.
const APP_KEYS: &[&str] = &[
    "namespace",
    "part_of",
    "storage_class",
    "include",
    "components",
    "sizing",
    "resource_quota",
    "external",
    "waivers",
];

/// Where [`app`] moves a component's lines: 3 lines down (the `components:` header), 6
/// columns right.
const COMPONENT: &str = "components.akidb-embed.akidb_embed";

/// A test's flat settings as an application of one `akidb_embed` component named
/// `akidb-embed`: application keys stay first, the rest moves under the component. Text that
/// already has `components` is returned as it is.
fn app(flat: &str) -> String {
    if flat.lines().any(|l| l.starts_with("components:")) {
        return flat.to_owned();
    }
    let (mut top, mut component) = (String::new(), String::new());
    let mut to_app = true;
    for line in flat.lines() {
        if !line.starts_with(' ') && !line.is_empty() {
            let key = line.split(':').next().unwrap_or_default();
            to_app = APP_KEYS.contains(&key);
        }
        if to_app {
            top.push_str(line);
            top.push('\n');
        } else {
            component.push_str("      ");
            component.push_str(line);
            component.push('\n');
        }
    }
    if component.is_empty() {
        component.push_str("      {}\n");
    }
    format!("{top}components:\n  akidb-embed:\n    akidb_embed:\n{component}")
}

/// Writes `yaml` (flat, see [`app`]) as `environments/<name>.yaml` in a fresh folder and
/// runs `gen <name>`.
fn render_file(name: &str, yaml: &str) -> Run {
    render_raw(name, &app(yaml))
}

/// Writes `yaml` as it is and runs `gen <name>`.
fn render_raw(name: &str, yaml: &str) -> Run {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("environments")).unwrap();
    std::fs::write(
        dir.path().join("environments").join(format!("{name}.yaml")),
        yaml,
    )
    .unwrap();
    gen_in(dir.path(), &[name])
}

#[test]
fn unknown_key_names_file_line_and_setting() {
    render_file(
        "typo",
        "namespace: a\nautoscaling:\n  min_replicas: 2\n  max_replicas: 4\n  max_replica: 3\n",
    )
    .fails_with(&[
        "environments/typo.yaml:8:9",
        "autoscaling.max_replica",
        "unknown field `max_replica`",
        "expected one of",
    ]);
}

#[test]
fn unknown_key_inside_the_server_config_is_caught_too() {
    render_file("typo", "namespace: a\nconfig:\n  server:\n    prot: 8080\n").fails_with(&[
        "environments/typo.yaml:7:11",
        "config.server.prot",
        "unknown field `prot`",
    ]);
}

#[test]
fn wrong_type_names_the_setting() {
    render_file("wrong", "namespace: a\nreplicas: two\n")
        .fails_with(&["environments/wrong.yaml:5:17", "akidb_embed.replicas`"]);
    render_file(
        "wrong",
        "namespace: a\nconfig:\n  observability:\n    metrics_enabled: maybe\n",
    )
    .fails_with(&[
        "environments/wrong.yaml:7:28",
        "config.observability.metrics_enabled",
    ]);
}

#[test]
fn unknown_enum_value_lists_the_choices() {
    render_file("enum", "namespace: a\nservice:\n  type: Nodeport\n").fails_with(&[
        "environments/enum.yaml:6:15",
        "service.type",
        "ClusterIP, NodePort, LoadBalancer",
    ]);
    render_file(
        "enum",
        "namespace: a\nconfig:\n  embedding:\n    preload_models: [../models]\n",
    )
    .fails_with(&[
        "environments/enum.yaml:7:28",
        "config.embedding.preload_models",
        "not a folder name",
    ]);
}

#[test]
fn a_model_beyond_the_known_ids_declares_its_facts_and_source() {
    // Undeclared: the server's own check, named at the setting.
    assert_problem(
        "namespace: a\nconfig: {embedding: {preload_models: [bge-small]}}\n",
        "config.embedding.preload_models",
        "declare them under [embedding.models.bge-small]",
    );
    // Declared but pulled without a source.
    let declared = "namespace: a\nconfig:\n  embedding:\n    preload_models: [bge-small]\n    models:\n      bge-small: {max_tokens: 512, weights_mib: 128}\n";
    assert_problem(
        declared,
        "config.hub.models.bge-small",
        "has no built-in hub source; give its repo and revision",
    );
    // A source, or a prefilled claim, makes it whole.
    let pulled = format!(
        "{declared}  hub:\n    models:\n      bge-small: {{repo: BAAI/bge-small-en-v1.5, revision: {}}}\n",
        "0123456789abcdef0123456789abcdef01234567"
    );
    assert!(parse_str(&app(&pulled), "ok.yaml").is_ok());
    let prefilled = format!("{declared}models: {{source: prefilled}}\n");
    assert!(parse_str(&app(&prefilled), "ok.yaml").is_ok());
    // The declared weights count in the memory check.
    assert_problem(
        &declared.replace("weights_mib: 128", "weights_mib: 4096"),
        "resources.limits.memory",
        "OOM-killed",
    );
}

#[test]
fn yaml_syntax_error_names_the_line() {
    render_file("syntax", "namespace: a\nresources:\n  limits: [cpu: 1\n")
        .fails_with(&["environments/syntax.yaml:", "YAML syntax error"]);
    render_file(
        "syntax",
        "namespace: a\nservice:\n  type: NodePort\n port: 80\n",
    )
    .fails_with(&["environments/syntax.yaml:7:", "YAML syntax error"]);
    // A broken line at the end of a real environment is a syntax error at that line, not a
    // type error about a setting the parser could not name.
    let prod = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../environments/prod.yaml"),
    )
    .unwrap();
    let broken = format!("{prod}  : : [unclosed\n");
    let line = broken.lines().count();
    render_file("broken", &broken).fails_with(&[
        &format!("environments/broken.yaml:{line}:"),
        "YAML syntax error: unclosed bracket",
    ]);
    render_file("dup", "namespace: a\nnamespace: b\n")
        .fails_with(&["YAML syntax error", "`namespace` is given twice"]);
}

/// Type errors say what was expected and what was found, in the words of someone editing
/// the file; no Rust type name reaches the reader.
#[test]
fn type_errors_say_what_was_expected_and_found() {
    let cases: &[(&str, &[&str])] = &[
        (
            "replicas: abc",
            &[
                "setting `components.akidb-embed.akidb_embed.replicas`",
                "expected a whole number",
                "found `abc`",
            ],
        ),
        ("replicas: -1", &["expected a whole number", "found `-1`"]),
        ("replicas: [1]", &["expected a single value, found a list"]),
        (
            "service: {port: 70000}",
            &[
                "setting `components.akidb-embed.akidb_embed.service.port`",
                "from 0 to 65535",
                "found `70000`",
            ],
        ),
        (
            "resources: {limits: {cpu: true, memory: 1Gi}}",
            &[
                "setting `components.akidb-embed.akidb_embed.resources.limits.cpu`",
                "expected a quantity",
                "found `true`",
            ],
        ),
        (
            "resources: {limits: {cpu: 1, memory: [1]}}",
            &[
                "setting `components.akidb-embed.akidb_embed.resources.limits.memory`",
                "expected a quantity",
                "found a list",
            ],
        ),
        (
            "autoscaling: 3",
            &[
                "setting `components.akidb-embed.akidb_embed.autoscaling`",
                "(a mapping), found `3`",
            ],
        ),
        (
            "secrets: abc",
            &[
                "setting `components.akidb-embed.akidb_embed.secrets`",
                "expected a list",
                "found `abc`",
            ],
        ),
        ("secrets:\n  a: 1", &["expected a list", "found a mapping"]),
        (
            "network_policy: {enabled: maybe}",
            &["expected `true` or `false`, found `maybe`"],
        ),
        (
            "config: {server: {host: abc}}",
            &[
                "setting `components.akidb-embed.akidb_embed.config.server.host`",
                "expected an IP address",
                "found `abc`",
            ],
        ),
        ("pre_stop_sleep_seconds: ~", &["found nothing"]),
    ];
    for (yaml, needles) in cases {
        let run = render_file("types", &format!("namespace: a\n{yaml}\n"));
        run.fails_with(needles);
        let err = run.stderr();
        for rust in [
            "u8",
            "u16",
            "u32",
            "u64",
            "i64",
            "Option<",
            "struct ",
            "untagged",
            "NumberOrString",
            "`?`",
            ".?",
        ] {
            assert!(!err.contains(rust), "{yaml:?}: {rust:?} leaks into\n{err}");
        }
    }
}

#[test]
fn missing_required_setting_is_named() {
    render_file("empty", "replicas: 1\n").fails_with(&["environments/empty.yaml", "namespace"]);
}

#[test]
fn unknown_environment_name_lists_the_choices() {
    let dir = tempfile::tempdir().unwrap();
    let envs = dir.path().join("environments");
    std::fs::create_dir(&envs).unwrap();
    for n in ["dev", "prod"] {
        std::fs::write(envs.join(format!("{n}.yaml")), "namespace: a\n").unwrap();
    }
    gen_in(dir.path(), &["prdo"]).fails_with(&[
        "unknown environment `prdo`",
        "did you mean `prod`",
        "dev, prod",
    ]);
    gen_in(dir.path(), &["qa"]).fails_with(&["unknown environment `qa`", "dev, prod"]);
}

#[test]
fn malformed_quantities_are_refused() {
    render_file(
        "q",
        "namespace: a\nresources:\n  limits: {cpu: 2x, memory: 4Gi}\n  requests: {cpu: 1, memory: 1Gi}\n",
    )
    .fails_with(&["environments/q.yaml:6:23", "resources.limits.cpu", "not a CPU quantity"]);
    render_file(
        "q",
        "namespace: a\nresources:\n  limits: {cpu: 2, memory: 512m}\n  requests: {cpu: 1, memory: 256Mi}\n",
    )
    .fails_with(&["resources.limits.memory", "512Mi"]);
    render_file("q", "namespace: a\nmodel_cache:\n  size: ten\n")
        .fails_with(&["model_cache.size", "not a size"]);
}

#[test]
fn names_that_are_not_dns_1123_are_refused() {
    render_file("n", "namespace: Akidb_Prod\n").fails_with(&[
        "environments/n.yaml:1:12",
        "namespace",
        "DNS-1123",
    ]);
    render_raw(
        "n",
        &format!(
            "namespace: a\ncomponents:\n  {}:\n    akidb_embed: {{}}\n",
            "x".repeat(64)
        ),
    )
    .fails_with(&["setting `components.xxxxxxxx", "at most 63"]);
    render_file("n", "namespace: a\ningress:\n  hosts: [\"\"]\n")
        .fails_with(&["ingress.hosts[0]", "not a valid host"]);
}

/// Loads `yaml` (flat, see [`app`]) expecting only semantic problems; returns them as
/// `setting: message` lines, component settings relative to the component.
fn problems(yaml: &str) -> Vec<String> {
    match parse_str(&app(yaml), "test.yaml") {
        Err(LoadError::Invalid { problems, .. }) => problems
            .iter()
            .map(|p| {
                let setting = p
                    .setting
                    .strip_prefix(&format!("{COMPONENT}."))
                    .unwrap_or(&p.setting);
                format!("{setting}: {}", p.message)
            })
            .collect(),
        other => panic!("expected semantic problems, got {other:?}"),
    }
}

fn assert_problem(yaml: &str, setting: &str, fragment: &str) {
    let found = problems(yaml);
    assert!(
        found
            .iter()
            .any(|p| p.starts_with(&format!("{setting}: ")) && p.contains(fragment)),
        "no problem on `{setting}` mentioning {fragment:?} in {found:#?}"
    );
}

#[test]
fn autoscaling_min_above_max_is_refused() {
    assert_problem(
        "namespace: a\nautoscaling: {min_replicas: 5, max_replicas: 2}\n",
        "autoscaling.min_replicas",
        "must not exceed",
    );
    assert_problem(
        "namespace: a\nautoscaling: {min_replicas: 0, max_replicas: 2}\n",
        "autoscaling.min_replicas",
        "at least 1",
    );
}

#[test]
fn static_replicas_beside_autoscaling_are_refused() {
    assert_problem(
        "namespace: a\nreplicas: 3\nautoscaling: {min_replicas: 2, max_replicas: 4}\n",
        "replicas",
        "owns the replica count",
    );
}

#[test]
fn a_budget_that_blocks_every_drain_is_refused() {
    assert_problem(
        "namespace: a\nautoscaling: {min_replicas: 2, max_replicas: 4}\ndisruption_budget: {min_available: 2}\n",
        "disruption_budget.min_available",
        "node drains would hang",
    );
    assert_problem(
        "namespace: a\ndisruption_budget: {max_unavailable: 0}\n",
        "disruption_budget.max_unavailable",
        "blocks every node drain",
    );
    assert_problem(
        "namespace: a\ndisruption_budget: {}\n",
        "disruption_budget",
        "exactly one",
    );
    assert!(
        parse_str(
            &app("namespace: a\nreplicas: 3\ndisruption_budget: {min_available: 2}\n"),
            "ok.yaml"
        )
        .is_ok()
    );
}

#[test]
fn a_single_node_volume_with_a_required_spread_is_refused() {
    assert_problem(
        "namespace: a\nautoscaling: {min_replicas: 2, max_replicas: 4}\nspread: {across: nodes, mode: require}\nmodel_cache: {access_mode: ReadWriteOnce}\n",
        "model_cache.access_mode",
        "only one of 4 replicas could start",
    );
}

#[test]
fn limits_below_requests_are_refused() {
    let yaml = "namespace: a\nresources:\n  requests: {cpu: 3, memory: 8Gi}\n  limits: {cpu: 2, memory: 4Gi}\n";
    assert_problem(yaml, "resources.requests.cpu", "must not exceed its limit");
    assert_problem(
        yaml,
        "resources.requests.memory",
        "must not exceed its limit",
    );
}

#[test]
fn a_memory_limit_too_small_for_the_models_is_refused() {
    assert_problem(
        "namespace: a\nresources:\n  requests: {cpu: 1, memory: 128Mi}\n  limits: {cpu: 1, memory: 200Mi}\n",
        "resources.limits.memory",
        "OOM-killed",
    );
}

#[test]
fn empty_or_repeated_ingress_hosts_are_refused() {
    assert_problem(
        "namespace: a\ningress: {hosts: []}\n",
        "ingress.hosts",
        "at least one host",
    );
    assert_problem(
        "namespace: a\ningress: {hosts: [a.example.com, a.example.com]}\n",
        "ingress.hosts[1]",
        "repeats",
    );
    assert_problem(
        "namespace: a\ningress: {hosts: [a.example.com], nginx: {}}\n",
        "ingress.nginx.ssl_redirect",
        "tls",
    );
}

/// Image pins are parsed while the file is read, so a bad one is reported at its line.
#[test]
fn floating_image_tags_are_refused() {
    render_file("img", "namespace: a\nimage: {tag: latest}\n").fails_with(&[
        "img.yaml:5:20",
        "setting `components.akidb-embed.akidb_embed.image.tag`",
        "`latest` is refused",
    ]);
    render_file("img", "namespace: a\nimage:\n  digest: \"sha256:abc\"\n").fails_with(&[
        "img.yaml:6:17",
        "setting `components.akidb-embed.akidb_embed.image.digest`",
        "64 lowercase hex digits",
    ]);
    render_file(
        "img",
        "namespace: a\nimage: {repository: \"ghcr.io/x/app:1.0\"}\n",
    )
    .fails_with(&[
        "setting `components.akidb-embed.akidb_embed.image.repository`",
        "put it in image.tag",
    ]);
    let both = format!(
        "namespace: a\nimage: {{tag: \"1.0\", digest: \"sha256:{}\"}}\n",
        "a".repeat(64)
    );
    assert_problem(&both, "image", "not both");
}

#[test]
fn an_unreachable_node_port_is_refused() {
    assert_problem(
        "namespace: a\nservice: {type: NodePort}\n",
        "service.type",
        "unreachable",
    );
    assert_problem(
        "namespace: a\nservice: {type: NodePort, node_port: 8080}\nnetwork_policy: {enabled: false}\n",
        "service.node_port",
        "30000-32767",
    );
    assert_problem(
        "namespace: a\nservice: {node_port: 30080}\n",
        "service.node_port",
        "ClusterIP",
    );
}

#[test]
fn server_config_values_the_server_would_refuse_are_refused() {
    assert_problem(
        "namespace: a\nconfig: {embedding: {preload_models: []}}\n",
        "config.embedding.preload_models",
        "at least one",
    );
    assert_problem(
        "namespace: a\nconfig: {embedding: {model_dir: models}}\n",
        "config.embedding.model_dir",
        "absolute",
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    // One problem of the settings alone, one of the server component, one of the waivers.
    let yaml = "namespace: a\nautoscaling: {min_replicas: 5, max_replicas: 2}\n\
                resources: {limits: {cpu: 1, memory: 128Mi}, requests: {cpu: 1, memory: 128Mi}}\n\
                waivers: [{rule: no-such-rule, reason: because it is a test case}]\n";
    let run = render_file("many", yaml);
    run.fails_with(&[
        "environments/many.yaml",
        "3 invalid setting(s)",
        "autoscaling.min_replicas",
        "resources.limits.memory",
        "waivers[0].rule",
    ]);
}

#[test]
fn a_failed_write_leaves_old_files_intact() {
    let dir = tempfile::tempdir().unwrap();
    let envs = dir.path().join("environments");
    std::fs::create_dir(&envs).unwrap();
    std::fs::write(envs.join("a.yaml"), app("namespace: a\n")).unwrap();
    std::fs::write(envs.join("b.yaml"), app("namespace: b\n")).unwrap();
    let ok = gen_in(dir.path(), &["write"]);
    assert!(ok.out.status.success(), "{}", ok.stderr());
    let before = std::fs::read_to_string(dir.path().join("out/a.yaml")).unwrap();

    std::fs::write(envs.join("a.yaml"), app("namespace: a\nreplicas: 2\n")).unwrap();
    std::fs::write(envs.join("b.yaml"), app("namespace: b\nreplicas: -1\n")).unwrap();
    gen_in(dir.path(), &["write"]).fails_with(&["environments/b.yaml:5"]);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("out/a.yaml")).unwrap(),
        before,
        "a failed write must not touch out/"
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("out"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "temporary files left behind: {leftovers:?}"
    );
}

/// An environment in the single-service shape of earlier releases is refused with how to
/// write it now, at the line of its first server setting.
#[test]
fn the_old_single_service_shape_says_how_to_write_it_now() {
    render_raw("old", "namespace: a\nreplicas: 2\nconfig: {}\n").fails_with(&[
        "environments/old.yaml:2:1",
        "`replicas`, `config` are settings of the embedding server",
        "components:\n    akidb-embed:\n      akidb_embed:\n        replicas: ...",
        "part_of: akidb",
    ]);
}

/// A typo or a wrong kind deep inside a component names its full dotted path and line.
#[test]
fn component_errors_name_the_full_path() {
    render_raw(
        "deep",
        "namespace: a\ncomponents:\n  worker:\n    akidb_embed:\n      replicaz: 2\n",
    )
    .fails_with(&[
        "environments/deep.yaml:5:7",
        "setting `components.worker.akidb_embed.replicaz`",
        "unknown field `replicaz`",
    ]);
    render_raw(
        "deep",
        "namespace: a\ncomponents:\n  worker:\n    akidb_embed:\n      autoscaling: {min_replicas: 1, max_replicaz: 2}\n",
    )
    .fails_with(&[
        "setting `components.worker.akidb_embed.autoscaling.max_replicaz`",
        "unknown field `max_replicaz`, expected one of min_replicas, max_replicas",
    ]);
    render_raw(
        "kind",
        "namespace: a\ncomponents:\n  worker:\n    deploymnt: {}\n",
    )
    .fails_with(&[
        "environments/kind.yaml:4:5",
        "setting `components.worker`",
        "unknown variant `deploymnt`",
        "akidb_embed",
    ]);
    render_raw("none", "namespace: a\n").fails_with(&["`components`", "at least one component"]);
}

fn with_components_file(env_yaml: &str, components_yaml: &str) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let envs = dir.path().join("environments");
    std::fs::create_dir_all(envs.join("shared")).unwrap();
    std::fs::write(envs.join("shared/components.yaml"), components_yaml).unwrap();
    std::fs::write(envs.join("e.yaml"), env_yaml).unwrap();
    gen_in(dir.path(), &["e"])
}

/// Sizing a component that the environment and its include do not have, defining an
/// included component again, or a typo in the included file are all errors that say where.
#[test]
fn included_components_are_closed_and_typed() {
    let shared = "components:\n  embed:\n    akidb_embed: {}\n";
    with_components_file(
        "namespace: a\ninclude: shared/components.yaml\nsizing:\n  embd: {replicas: 2}\n",
        shared,
    )
    .fails_with(&["`sizing.embd`", "names no component; components: embed"]);
    with_components_file(
        "namespace: a\ninclude: shared/components.yaml\ncomponents:\n  embed:\n    akidb_embed: {}\n",
        shared,
    )
    .fails_with(&["`components.embed`", "also defined in the included `shared/components.yaml`"]);
    with_components_file(
        "namespace: a\ninclude: shared/components.yaml\n",
        "components:\n  embed:\n    akidb_embed:\n      replica: 1\n",
    )
    .fails_with(&[
        "shared/components.yaml:4:7",
        "setting `components.embed.akidb_embed.replica`",
    ]);
    with_components_file(
        "namespace: a\ninclude: shared/components.yaml\nsizing:\n  embed: {memory: 1Gi}\n",
        shared,
    )
    .fails_with(&["setting `sizing.embed.memory`", "unknown field `memory`"]);
    with_components_file("namespace: a\ninclude: shared/nothing.yaml\n", shared)
        .fails_with(&["cannot read", "shared/nothing.yaml"]);
    with_components_file(
        "namespace: a\ninclude: shared/components.yaml\nsizing:\n  embed: {hosts: [a.example.com]}\n",
        shared,
    )
    .fails_with(&["`sizing.embed.hosts`", "no `ingress`"]);
}

#[test]
fn model_sources_and_api_keys_are_checked_against_the_pod() {
    assert_problem(
        "namespace: a\nmodel_cache: {access_mode: ReadOnlyMany}\n",
        "model_cache.access_mode",
        "writes the pulled models into the claim",
    );
    assert!(
        parse_str(
            &app("namespace: a\nmodel_cache: {access_mode: ReadOnlyMany}\nmodels: {source: prefilled}\n"),
            "ok.yaml"
        )
        .is_ok()
    );
    assert_problem(
        "namespace: a\nmodels: {source: prefilled, hub_token: {secret: hf, key: token}}\n",
        "models.hub_token",
        "nothing is pulled",
    );
    assert_problem(
        "namespace: a\nmodels: {pull_resources: {requests: {cpu: 10m, memory: 8Mi}, limits: {cpu: 10m, memory: 16Mi}}}\n",
        "models.pull_resources.limits.memory",
        "at least 64 MiB",
    );
    assert_problem(
        "namespace: a\nconfig: {auth: {required: true}}\n",
        "config.auth.required",
        "no keys reach the server; set api_keys",
    );
    assert!(
        parse_str(
            &app("namespace: a\nconfig: {auth: {required: true}}\nsecrets: [{name: k, env: {AKIDB_API_KEYS: keys}}]\n"),
            "ok.yaml"
        )
        .is_ok()
    );
    assert_problem(
        "namespace: a\napi_keys: {secret: k}\nconfig: {auth: {keys_file: /etc/akidb/keys}}\n",
        "config.auth.keys_file",
        "overlaps `/etc/akidb`",
    );
    assert_problem(
        "namespace: a\napi_keys: {secret: k}\nconfig: {auth: {keys_file: keys}}\n",
        "config.auth.keys_file",
        "must be an absolute path",
    );
}

#[test]
fn a_hub_address_is_checked_where_it_is_written() {
    let run = render_file(
        "a",
        "namespace: a\nmodels:\n  hub_endpoint: huggingface.co\n",
    );
    run.fails_with(&[
        "a.yaml:6:23",
        "models.hub_endpoint",
        "must start with https://",
    ]);
    let run = render_file(
        "a",
        "namespace: a\nmodels:\n  hub_endpoint: https://user:secret@hub.example.com\n",
    );
    run.fails_with(&["models.hub_endpoint", "carries credentials"]);
}

#[test]
fn api_keys_mount_the_secret_key_as_the_file_the_server_reads_and_turn_auth_on() {
    let run = render_file(
        "a",
        "namespace: a\napi_keys: {secret: embed-keys, key: current}\nconfig: {auth: {keys_file: /var/run/keys/akidb/list}}\n",
    );
    assert!(run.out.status.success(), "{}", run.stderr());
    let yaml = run.stdout();
    for needle in [
        "required = true",
        "keys_file = \"/var/run/keys/akidb/list\"",
        "- key: current\n            path: list\n",
        "secretName: embed-keys",
        "mountPath: /var/run/keys/akidb\n",
    ] {
        assert!(yaml.contains(needle), "{needle:?} missing in:\n{yaml}");
    }
    assert!(
        !yaml.contains("subPath"),
        "a subPath mount never sees a rotated key"
    );
}
