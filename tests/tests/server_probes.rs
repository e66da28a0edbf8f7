//! No drift, proven end to end: render prod, then run the real server binary exactly as
//! the Deployment would (its init container's pull against a stand-in hub, then the server;
//! their command, args and env; the ConfigMap's and Secret's files materialised at their
//! mount paths under a scratch root; only the model folder, the key file and the hub
//! redirected) and ask every probe the manifest declares, on the port it names.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use akidb_gen::lint::{self, Index};
use akidb_gen::{Catalog, pipeline};
use e2e::hub::TestHub;
use e2e::pod::{probe_target, volume_of, write_config_map};
use e2e::{http, root, server_binary, server_settings, tiny_bert};

/// Kills the server if the test fails before it stops it.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Polls `GET path` until it answers 200 or `limit` passes; returns the last answer.
fn wait_for_200(
    port: u16,
    path: &str,
    limit: Duration,
    server: &mut Running,
) -> Result<(), String> {
    let start = Instant::now();
    let mut last = String::from("no answer yet");
    while start.elapsed() < limit {
        if let Some(status) = server.0.try_wait().unwrap() {
            return Err(format!(
                "the server exited with {status} before {path} answered 200"
            ));
        }
        match http::get(port, path) {
            Ok((200, _)) => return Ok(()),
            Ok((code, body)) => last = format!("{code} {body}"),
            Err(e) => last = e.to_string(),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!(
        "GET :{port}{path} did not answer 200 within {limit:?}; last: {last}"
    ))
}

/// A path inside the pod, moved to where its volume was materialised.
fn relocate(path: &str, relocated: &BTreeMap<String, PathBuf>) -> String {
    relocated
        .iter()
        .find_map(|(mount, dir)| {
            path.strip_prefix(mount.as_str())
                .map(|rest| format!("{}{rest}", dir.display()))
        })
        .unwrap_or_else(|| path.to_owned())
}

#[test]
fn prod_pulls_its_models_then_every_probe_answers_200_on_the_port_it_names() {
    let (_, env) = pipeline::load(&Catalog::new(root().join("environments")), "prod").unwrap();
    let objects = pipeline::objects(&env, "prod").unwrap().objects;
    let index = Index::new(&objects);
    let deployment = index.deployments().next().unwrap();
    let pod = lint::pod_spec(deployment).unwrap();
    let init = pod
        .init_containers
        .iter()
        .flatten()
        .next()
        .expect("prod pulls its models in an init container");
    let c = &pod.containers[0];

    // The pod's filesystem: ConfigMap volumes materialised, emptyDirs created, the API-key
    // Secret written with a key this test chooses, and the model claim an empty folder,
    // as on a fresh cluster.
    let scratch = tempfile::tempdir().unwrap();
    let fs_root = scratch.path().join("rootfs");
    let models = scratch.path().join("models");
    std::fs::create_dir_all(&models).unwrap();
    let api_key = format!("e2e-key-{}", std::process::id());

    let mut relocated: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut model_mount = None;
    for m in init.volume_mounts.iter().chain(&c.volume_mounts).flatten() {
        let volume = volume_of(pod, m);
        let target = fs_root.join(m.mount_path.trim_start_matches('/'));
        if let Some(source) = &volume.config_map {
            write_config_map(&index, source, &target);
            relocated.insert(m.mount_path.clone(), target);
        } else if let Some(secret) = &volume.secret {
            std::fs::create_dir_all(&target).unwrap();
            for item in secret.items.iter().flatten() {
                std::fs::write(target.join(&item.path), format!("{api_key}\n")).unwrap();
            }
            relocated.insert(m.mount_path.clone(), target);
        } else if volume.persistent_volume_claim.is_some() {
            model_mount = Some(m.mount_path.clone());
        } else {
            std::fs::create_dir_all(&target).unwrap();
        }
    }
    let model_mount = model_mount.expect("the model claim is mounted");
    assert_eq!(
        Path::new(&model_mount),
        server_settings(&env).config.embedding.model_dir,
        "the claim is mounted where the server looks"
    );
    let relocated_args = |c: &k8s_openapi::api::core::v1::Container| -> Vec<String> {
        c.args
            .iter()
            .flatten()
            .map(|a| relocate(a, &relocated))
            .collect()
    };
    let args = relocated_args(c);
    assert_ne!(
        args,
        c.args.clone().unwrap(),
        "the config path should have been relocated"
    );
    for container in [init, c] {
        let command = container
            .command
            .as_ref()
            .expect("the Deployment names the command");
        assert_eq!(command.len(), 1);
        assert_eq!(
            Path::new(&command[0]).file_name(),
            server_binary().file_name(),
            "`{}` runs the server binary",
            container.name
        );
    }

    // The init container, as the kubelet runs it: its own arguments and variables, with
    // the hub redirected to a local stand-in serving every preloaded model at the commit
    // the ConfigMap pins (the real MiniLM, a tiny e5).
    let hub = TestHub::start();
    let sources = scratch.path().join("hub");
    let e5 = app::KnownModel::E5SmallV2;
    tiny_bert::write(&sources, e5.as_str(), tiny_bert::E5_SMALL_V2);
    let e5_source = app::hub::ModelSource::default_for(e5);
    hub.add_repo(
        &e5_source.repo,
        &e5_source.revision,
        &sources.join(e5.as_str()),
    );
    let mut pull = Command::new(server_binary());
    pull.args(relocated_args(init))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env(app::env_vars::MODEL_DIR, &models)
        .current_dir(scratch.path());
    let mut endpoint = None;
    for var in init.env.iter().flatten() {
        let value = var
            .value
            .clone()
            .unwrap_or_else(|| panic!("{} comes from a Secret; prod's pull needs none", var.name));
        if var.name == app::env_vars::HF_ENDPOINT {
            endpoint = Some(value);
            pull.env(&var.name, &hub.url);
        } else {
            pull.env(&var.name, value);
        }
    }
    assert_eq!(
        endpoint.as_deref(),
        Some(app::hub::DEFAULT_ENDPOINT),
        "prod pulls from the public hub"
    );
    let out = pull.output().unwrap();
    assert!(
        out.status.success(),
        "the init container failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    for m in &server_settings(&env).config.embedding.preload_models {
        assert!(
            models
                .join(m.as_str())
                .join(app::hub::MARKER_FILE)
                .is_file(),
            "{m} was not pulled and verified"
        );
    }
    assert!(
        hub.log().iter().any(|h| h.host == "cdn" && h.status == 200),
        "the weights came through the hub's CDN"
    );

    let (startup_port, startup) = probe_target(c, c.startup_probe.as_ref());
    let (live_port, live) = probe_target(c, c.liveness_probe.as_ref());
    let (ready_port, ready) = probe_target(c, c.readiness_probe.as_ref());
    for port in [startup_port, live_port, ready_port] {
        assert!(
            std::net::TcpListener::bind(("0.0.0.0", port)).is_ok(),
            "port {port} is busy on this machine; the test runs the server on the manifest's own ports"
        );
    }

    // The key file the ConfigMap names, where its Secret volume was materialised.
    let config = akidb_gen::components::akidb_embed::effective_config(server_settings(&env));
    assert!(config.auth.required, "prod requires API keys");
    let keys_file = relocate(&config.auth.keys_file.display().to_string(), &relocated);
    assert!(
        Path::new(&keys_file).is_file(),
        "{keys_file} is not projected from the Secret"
    );

    let log = scratch.path().join("server.log");
    let mut cmd = Command::new(server_binary());
    cmd.args(&args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env(app::env_vars::MODEL_DIR, &models)
        .env(app::env_vars::API_KEYS_FILE, &keys_file)
        .current_dir(scratch.path())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    for var in c.env.iter().flatten() {
        let value = var
            .value
            .as_ref()
            .unwrap_or_else(|| panic!("{} comes from a Secret; prod declares none", var.name));
        cmd.env(&var.name, value);
    }
    let mut server = Running(cmd.spawn().unwrap());

    let grace =
        Duration::from_secs(u64::try_from(pod.termination_grace_period_seconds.unwrap()).unwrap());
    let startup_limit = c.startup_probe.as_ref().map_or(60, |p| {
        p.period_seconds.unwrap_or(10) * p.failure_threshold.unwrap_or(3)
    });
    let result = wait_for_200(
        startup_port,
        &startup,
        Duration::from_secs(u64::try_from(startup_limit).unwrap()),
        &mut server,
    )
    .and_then(|()| wait_for_200(live_port, &live, Duration::from_secs(5), &mut server))
    .and_then(|()| wait_for_200(ready_port, &ready, Duration::from_secs(30), &mut server));
    if let Err(e) = result {
        let _ = server.0.kill();
        let _ = server.0.wait();
        let out = std::fs::read_to_string(&log).unwrap_or_default();
        panic!(
            "{e}\nserver: {} {}\nstderr:\n{out}",
            server_binary().display(),
            args.join(" ")
        );
    }

    // The scrape annotations lead to a working metrics endpoint.
    let annotations = lint::pod_annotations(deployment);
    let metrics_port: u16 = annotations["prometheus.io/port"].parse().unwrap();
    let (status, body) = http::get(metrics_port, &annotations["prometheus.io/path"]).unwrap();
    assert_eq!(status, 200, "{body}");

    // The API wants the Secret's key; the probes above did not.
    let (status, body) = http::get(ready_port, app::routes::INFO).unwrap();
    assert_eq!(status, 401, "{body}");
    let bearer = format!("Bearer {api_key}");
    let (status, info) =
        http::get_with(ready_port, app::routes::INFO, &[("Authorization", &bearer)]).unwrap();
    assert_eq!(status, 200, "{info}");

    // What the server made of the ConfigMap is what the environment says.
    for m in &server_settings(&env).config.embedding.preload_models {
        assert!(info.contains(m.as_str()), "/info does not list {m}: {info}");
    }

    // SIGTERM: the server drains and exits 0 well within the grace period.
    let pid = server.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let start = Instant::now();
    loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            assert!(status.success(), "exit after SIGTERM: {status}");
            break;
        }
        assert!(
            start.elapsed() < grace,
            "still running {grace:?} after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_server_reads_the_config_map_with_no_unknown_key() {
    let (_, env) = pipeline::load(&Catalog::new(root().join("environments")), "prod").unwrap();
    let objects = pipeline::objects(&env, "prod").unwrap().objects;
    let cm = Index::new(&objects).config_maps().next().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(app::container::CONFIG_FILE);
    std::fs::write(
        &file,
        &cm.data.as_ref().unwrap()[app::container::CONFIG_FILE],
    )
    .unwrap();

    let run = |path: &Path| {
        Command::new(server_binary())
            .arg(app::container::CONFIG_FLAG)
            .arg(path)
            .arg("--print-config")
            .env_clear()
            .output()
            .unwrap()
    };
    let out = run(&file);
    assert!(
        out.status.success(),
        "the server refuses its ConfigMap: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let effective = app::Config::from_toml_str(&String::from_utf8(out.stdout).unwrap()).unwrap();
    assert_eq!(
        effective,
        akidb_gen::components::akidb_embed::effective_config(server_settings(&env)),
        "the server's effective configuration differs from the environment's"
    );

    // And the same binary does refuse an unknown key, so the check above means something.
    std::fs::write(&file, "[server]\nprot = 1\n").unwrap();
    let out = run(&file);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("prot"));
}
