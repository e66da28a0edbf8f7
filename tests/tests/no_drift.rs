//! The manifests cannot drift from the server: everything the Deployment tells the
//! server (config file, command, ports, probe paths, threads) is checked against the
//! server crate's own contract, for every environment.

use std::path::Path;

use akidb_gen::lint::{self, Index};
use akidb_gen::objects::Object;
use akidb_gen::objects::deployment::CONFIG_CHECKSUM_ANNOTATION;
use akidb_gen::settings::AkidbEmbed;
use akidb_gen::{Catalog, Environment, pipeline};
use app::{Config, container, env_vars, routes};
use e2e::{root, server_settings, server_settings_mut};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Container, Probe};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// Each environment's name, its server's settings and its objects.
fn environments() -> Vec<(String, AkidbEmbed, Vec<Object>)> {
    let catalog = Catalog::new(root().join("environments"));
    let names = catalog.names().unwrap();
    assert!(
        names.len() >= 3,
        "expected dev, staging and prod, found {names:?}"
    );
    names
        .into_iter()
        .map(|name| {
            let (_, env) = pipeline::load(&catalog, &name).unwrap();
            let objects = pipeline::objects(&env, &name).unwrap().objects;
            (name, server_settings(&env).clone(), objects)
        })
        .collect()
}

fn deployment(objects: &[Object]) -> &Deployment {
    Index::new(objects)
        .deployments()
        .next()
        .expect("a Deployment")
}

fn config_map(objects: &[Object]) -> &ConfigMap {
    Index::new(objects)
        .config_maps()
        .next()
        .expect("a ConfigMap")
}

fn server(d: &Deployment) -> &Container {
    &lint::pod_spec(d).unwrap().containers[0]
}

fn probe_target(p: Option<&Probe>) -> (String, String) {
    let get = p
        .and_then(|p| p.http_get.as_ref())
        .expect("an httpGet probe");
    let port = match &get.port {
        IntOrString::String(s) => s.clone(),
        IntOrString::Int(i) => i.to_string(),
    };
    (get.path.clone().unwrap(), port)
}

#[test]
fn the_config_map_is_the_servers_own_config_and_parses_with_its_parser() {
    for (name, env, objects) in environments() {
        let cm = config_map(&objects);
        let text = &cm.data.as_ref().unwrap()[container::CONFIG_FILE];
        let parsed = Config::from_toml_str(text)
            .unwrap_or_else(|e| panic!("{name}: the server refuses its ConfigMap: {e}"));
        assert_eq!(
            parsed,
            akidb_gen::components::akidb_embed::effective_config(&env),
            "{name}: config.toml does not round-trip"
        );
        // The settings' own config, but for what api_keys turns on.
        assert_eq!(
            parsed.auth.required,
            env.config.auth.required || env.api_keys.is_some()
        );
    }
}

#[test]
fn the_container_runs_the_server_binary_on_the_mounted_config() {
    for (name, env, objects) in environments() {
        let d = deployment(&objects);
        let c = server(d);
        assert_eq!(
            c.command.as_deref(),
            Some(&[container::BINARY_PATH.to_owned()][..]),
            "{name}"
        );
        assert_eq!(c.args.as_deref(), Some(&container::args()[..]), "{name}");
        let mounts = c.volume_mounts.as_ref().unwrap();
        let config_mount = mounts
            .iter()
            .find(|m| m.mount_path == container::CONFIG_DIR)
            .expect("config mounted");
        assert_eq!(config_mount.read_only, Some(true));
        let model_mount = mounts
            .iter()
            .find(|m| Path::new(&m.mount_path) == env.config.embedding.model_dir);
        assert!(
            model_mount.is_some(),
            "{name}: the model volume must be mounted at config.embedding.model_dir"
        );
        assert!(
            mounts.iter().any(|m| m.mount_path == container::TMP_DIR),
            "{name}: /tmp must be writable"
        );
        let pod = lint::pod_spec(d).unwrap();
        let sc = pod.security_context.as_ref().unwrap();
        assert_eq!(
            (sc.run_as_user, sc.run_as_group),
            (Some(container::RUN_AS_USER), Some(container::RUN_AS_GROUP))
        );
    }
}

#[test]
fn probes_use_the_servers_routes_on_its_declared_port() {
    for (name, env, objects) in environments() {
        let c = server(deployment(&objects));
        let ports = c.ports.as_ref().unwrap();
        let http = ports
            .iter()
            .find(|p| p.name.as_deref() == Some("http"))
            .expect("an http port");
        assert_eq!(
            http.container_port,
            i32::from(env.config.server.port),
            "{name}"
        );
        let (live, live_port) = probe_target(c.liveness_probe.as_ref());
        let (ready, ready_port) = probe_target(c.readiness_probe.as_ref());
        let (startup, startup_port) = probe_target(c.startup_probe.as_ref());
        assert_eq!(live, routes::HEALTH_LIVE, "{name}");
        assert_eq!(ready, routes::HEALTH_READY, "{name}");
        assert_eq!(startup, routes::HEALTH_STARTUP, "{name}");
        assert_ne!(live, ready, "{name}: liveness and readiness must differ");
        for port in [live_port, ready_port, startup_port] {
            assert!(
                ports
                    .iter()
                    .any(|p| p.name.as_deref() == Some(port.as_str())),
                "{name}: probe port {port} is not declared"
            );
        }
        if env.config.observability.metrics_enabled {
            let metrics = ports
                .iter()
                .find(|p| p.name.as_deref() == Some("metrics"))
                .expect("a metrics port");
            assert_eq!(
                metrics.container_port,
                i32::from(env.config.observability.metrics_port)
            );
            let annotations = lint::pod_annotations(deployment(&objects));
            assert_eq!(annotations["prometheus.io/path"], routes::METRICS);
            assert_eq!(
                annotations["prometheus.io/port"],
                env.config.observability.metrics_port.to_string()
            );
        }
    }
}

#[test]
fn compute_threads_follow_the_cpu_limit() {
    for (name, env, objects) in environments() {
        let c = server(deployment(&objects));
        let var = c
            .env
            .as_ref()
            .unwrap()
            .iter()
            .find(|v| v.name == env_vars::RAYON_NUM_THREADS)
            .expect("RAYON_NUM_THREADS");
        let expected = env.resources.limits.cpu.millis().div_ceil(1000).max(1);
        assert_eq!(
            var.value.as_deref(),
            Some(expected.to_string().as_str()),
            "{name}"
        );
    }
}

#[test]
fn the_grace_period_covers_the_pre_stop_pause_and_the_servers_drain() {
    for (name, env, objects) in environments() {
        let pod = lint::pod_spec(deployment(&objects)).unwrap();
        let grace = pod.termination_grace_period_seconds.unwrap();
        let needed =
            i64::from(env.pre_stop_sleep_seconds) + i64::from(env.config.server.drain_timeout_secs);
        assert!(
            grace > needed,
            "{name}: grace {grace}s does not cover pre-stop + drain = {needed}s"
        );
    }
}

#[test]
fn a_config_change_changes_the_pod_template() {
    let catalog = Catalog::new(root().join("environments"));
    let (_, env) = pipeline::load(&catalog, "prod").unwrap();
    let checksum = |env: &Environment| {
        let objects = pipeline::objects(env, "prod").unwrap().objects;
        lint::pod_annotations(deployment(&objects))[CONFIG_CHECKSUM_ANNOTATION].clone()
    };
    let mut changed = env.clone();
    server_settings_mut(&mut changed)
        .config
        .embedding
        .max_batch_tokens += 1;
    assert_ne!(
        checksum(&env),
        checksum(&changed),
        "a config change must roll the pods"
    );
    assert_eq!(checksum(&env), checksum(&env.clone()));
}

#[test]
fn the_yaml_text_means_exactly_the_typed_objects() {
    for (name, _, objects) in environments() {
        let text =
            std::fs::read_to_string(root().join("out").join(format!("{name}.yaml"))).unwrap();
        let parsed: Vec<serde_json::Value> = serde_saphyr::from_multiple(&text).unwrap();
        let typed: Vec<serde_json::Value> = objects
            .iter()
            .map(|o| serde_json::to_value(o).unwrap())
            .collect();
        assert_eq!(
            parsed, typed,
            "{name}: out/{name}.yaml does not read back as the objects it was rendered from"
        );
    }
}
