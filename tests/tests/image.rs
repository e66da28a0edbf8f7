//! The container image `make image` builds, checked from the outside: its size and
//! configuration against `app::container`, its files, and a run of it under podman exactly
//! as prod's Deployment runs it (user, read-only root, writable /tmp, the ConfigMap and the
//! models mounted read-only, capabilities dropped): every probe answers 200 and SIGTERM
//! drains to exit 0. The multi-stage `app/Dockerfile` is held to the same contract.
//!
//! Needs podman and runc (`.ci/run` installs them) and the image (`make test` builds it
//! first through `make image`); without either the tests fail saying how to get them.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use akidb_gen::lint::{self, Index};
use akidb_gen::{Catalog, pipeline};
use app::container::{BINARY_PATH, RUN_AS_GROUP, RUN_AS_USER};
use e2e::image::{self, Container};
use e2e::pod::{all_containers, probe_target, volume_of, write_config_map};
use e2e::{http, minilm_dir, root, server_settings, tiny_bert};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Container as PodContainer;

/// Seed 000's ceiling for the image.
const MAX_IMAGE_BYTES: u64 = 250 * 1000 * 1000;

fn prod_objects() -> Vec<akidb_gen::Object> {
    let (_, env) = pipeline::load(&Catalog::new(root().join("environments")), "prod").unwrap();
    pipeline::objects(&env, "prod").unwrap().objects
}

fn the_deployment(objects: &[akidb_gen::Object]) -> Deployment {
    Index::new(objects).deployments().next().unwrap().clone()
}

fn contract_user() -> String {
    format!("{RUN_AS_USER}:{RUN_AS_GROUP}")
}

fn contract_ports() -> BTreeSet<String> {
    let config = app::Config::default();
    [config.server.port, config.observability.metrics_port]
        .iter()
        .map(|p| format!("{p}/tcp"))
        .collect()
}

#[test]
fn the_image_is_small_and_configured_as_the_contract_says() {
    let inspect = image::inspect();
    let size = inspect["Size"].as_u64().expect("a size");
    assert!(
        size < MAX_IMAGE_BYTES,
        "the image is {size} bytes, over the {MAX_IMAGE_BYTES} the plan allows"
    );

    let config = &inspect["Config"];
    assert_eq!(config["User"], contract_user(), "{config}");
    assert_eq!(config["Entrypoint"], serde_json::json!([BINARY_PATH]));
    assert!(
        config["Cmd"].as_array().is_none_or(Vec::is_empty),
        "no default arguments: the Deployment passes its own ({config})"
    );
    let exposed: BTreeSet<String> = config["ExposedPorts"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    assert_eq!(exposed, contract_ports());
}

#[test]
fn the_image_holds_the_binary_its_libraries_and_the_mount_points_only() {
    let files = image::files();
    let binary = BINARY_PATH.trim_start_matches('/');
    assert!(
        files.iter().any(|f| f == binary),
        "no {BINARY_PATH} in {files:?}"
    );
    for f in files.iter().filter(|f| !f.ends_with('/')) {
        let name = Path::new(f).file_name().unwrap().to_string_lossy();
        assert!(
            f == binary || name.contains(".so"),
            "{f}: the image should carry the server and its shared libraries only"
        );
    }
    for shell in ["bin/sh", "bin/bash", "usr/bin/sh", "bin/busybox"] {
        assert!(!files.iter().any(|f| f == shell), "the image has {shell}");
    }
    for dir in [
        app::container::CONFIG_DIR,
        app::container::API_KEYS_DIR,
        app::container::TMP_DIR,
    ] {
        let dir = format!("{}/", dir.trim_start_matches('/'));
        assert!(files.contains(&dir), "no mount point {dir} in the image");
    }
}

/// A probe or hook needs no shell: no `exec`, or one whose program is in the image and
/// is not a shell.
fn needs_no_shell(what: &str, command: Option<&Vec<String>>, files: &[String]) {
    let Some(command) = command else { return };
    let program = command.first().map_or("", String::as_str);
    let name = Path::new(program).file_name().unwrap_or_default();
    assert!(
        files.iter().any(|f| f == program.trim_start_matches('/'))
            && !["sh", "bash", "ash", "dash"].contains(&name.to_str().unwrap_or("")),
        "{what} runs {command:?}, which the image lacks (it has no shell): use httpGet, tcpSocket or sleep"
    );
}

#[test]
fn no_probe_or_hook_of_prod_needs_a_shell() {
    let files = image::files();
    let objects = prod_objects();
    let deployment = the_deployment(&objects);
    let mut seen = 0;
    for c in all_containers(&deployment) {
        for (kind, probe) in [
            ("startupProbe", &c.startup_probe),
            ("livenessProbe", &c.liveness_probe),
            ("readinessProbe", &c.readiness_probe),
        ] {
            if let Some(p) = probe {
                seen += 1;
                let exec = p.exec.as_ref().and_then(|e| e.command.as_ref());
                needs_no_shell(&format!("{}.{kind}", c.name), exec, &files);
            }
        }
        if let Some(l) = &c.lifecycle {
            for (kind, hook) in [("postStart", &l.post_start), ("preStop", &l.pre_stop)] {
                if let Some(h) = hook {
                    seen += 1;
                    let exec = h.exec.as_ref().and_then(|e| e.command.as_ref());
                    needs_no_shell(&format!("{}.{kind}", c.name), exec, &files);
                }
            }
        }
        assert_eq!(
            c.command.as_deref(),
            Some([BINARY_PATH.to_owned()].as_slice()),
            "container {} runs the image's binary",
            c.name
        );
    }
    assert!(seen >= 3, "prod declares its three probes");
}

/// A path under the test's scratch folder, readable by the container's user (tempfile
/// makes folders only its owner can enter).
fn world_readable(path: &Path) {
    let mode = if path.is_dir() { 0o755 } else { 0o644 };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    if path.is_dir() {
        for entry in std::fs::read_dir(path).unwrap() {
            world_readable(&entry.unwrap().path());
        }
    }
}

/// A Kubernetes quantity (`64Mi`) as a tmpfs `size=` (`64m`).
fn tmpfs_size(quantity: &str) -> String {
    for (suffix, unit) in [("Ki", "k"), ("Mi", "m"), ("Gi", "g")] {
        if let Some(n) = quantity.strip_suffix(suffix) {
            return format!("{n}{unit}");
        }
    }
    assert!(
        quantity.bytes().all(|b| b.is_ascii_digit()),
        "emptyDir sizeLimit {quantity}: this test reads Ki, Mi, Gi or bytes"
    );
    quantity.to_owned()
}

/// The podman arguments that give the container what prod's pod gives it: its user,
/// read-only root, dropped capabilities, and each volume at its mount path.
struct PodRun {
    args: Vec<String>,
    scratch: tempfile::TempDir,
}

impl PodRun {
    fn new(deployment: &Deployment, objects: &[akidb_gen::Object], c: &PodContainer) -> PodRun {
        let pod = lint::pod_spec(deployment).unwrap();
        let index = Index::new(objects);
        let scratch = tempfile::tempdir().unwrap();
        let mut args: Vec<String> = Vec::new();
        // Mounts inside another mount, added after it.
        let mut nested: Vec<String> = Vec::new();

        // The pod's user, as the container's securityContext resolves it.
        let pod_sc = pod.security_context.as_ref();
        let sc = c.security_context.as_ref();
        let uid = sc
            .and_then(|s| s.run_as_user)
            .or_else(|| pod_sc.and_then(|s| s.run_as_user));
        let gid = sc
            .and_then(|s| s.run_as_group)
            .or_else(|| pod_sc.and_then(|s| s.run_as_group));
        assert_eq!(
            (uid, gid),
            (Some(RUN_AS_USER), Some(RUN_AS_GROUP)),
            "prod runs as the contract's user"
        );
        args.push("--user".to_owned());
        args.push(contract_user());
        if let Some(fs_group) = pod_sc.and_then(|s| s.fs_group) {
            args.push("--group-add".to_owned());
            args.push(fs_group.to_string());
        }
        assert_eq!(
            sc.and_then(|s| s.read_only_root_filesystem),
            Some(true),
            "prod's root filesystem is read-only"
        );
        // Only what the pod mounts is writable: no tmpfs of podman's own on /tmp or /run.
        args.push("--read-only".to_owned());
        args.push("--read-only-tmpfs=false".to_owned());
        let drops = sc
            .and_then(|s| s.capabilities.as_ref())
            .and_then(|c| c.drop.clone())
            .unwrap_or_default();
        assert_eq!(drops, ["ALL"], "prod drops every capability");
        args.push("--cap-drop=all".to_owned());
        if sc.and_then(|s| s.allow_privilege_escalation) == Some(false) {
            args.push("--security-opt=no-new-privileges".to_owned());
        }

        for m in c.volume_mounts.iter().flatten() {
            let volume = volume_of(pod, m);
            let ro = if m.read_only == Some(true) {
                "ro"
            } else {
                "rw"
            };
            let host = scratch.path().join(&m.name);
            if let Some(source) = &volume.config_map {
                write_config_map(&index, source, &host);
            } else if let Some(secret) = &volume.secret {
                // The Secret's value is the cluster's; any key serves the probes, which
                // stay open without one.
                std::fs::create_dir_all(&host).unwrap();
                let keys: Vec<String> = secret
                    .items
                    .iter()
                    .flatten()
                    .map(|i| i.path.clone())
                    .collect();
                let keys = if keys.is_empty() {
                    vec![app::container::API_KEYS_FILE.to_owned()]
                } else {
                    keys
                };
                for k in keys {
                    std::fs::write(host.join(k), "image-test-key\n").unwrap();
                }
            } else if volume.persistent_volume_claim.is_some() {
                // The model claim, filled as `models pull` would: the real MiniLM (mounted
                // over its folder) and a tiny e5.
                std::fs::create_dir_all(&host).unwrap();
                let minilm = app::KnownModel::AllMiniLmL6V2.as_str();
                std::fs::create_dir_all(host.join(minilm)).unwrap();
                tiny_bert::write(
                    &host,
                    app::KnownModel::E5SmallV2.as_str(),
                    tiny_bert::E5_SMALL_V2,
                );
                nested.push("--volume".to_owned());
                nested.push(format!(
                    "{}:{}/{minilm}:ro",
                    minilm_dir().display(),
                    m.mount_path
                ));
                assert_eq!(
                    Path::new(&m.mount_path),
                    prod_model_dir(),
                    "the claim is mounted where the server looks"
                );
            } else if let Some(empty) = &volume.empty_dir {
                let size = empty
                    .size_limit
                    .as_ref()
                    .map_or(String::new(), |q| format!(",size={}", tmpfs_size(&q.0)));
                args.push("--tmpfs".to_owned());
                args.push(format!("{}:{ro},mode=1777{size}", m.mount_path));
                continue;
            } else {
                panic!(
                    "volume {} is of a kind this test does not mount yet",
                    m.name
                );
            }
            args.push("--volume".to_owned());
            args.push(format!("{}:{}:{ro}", host.display(), m.mount_path));
        }
        args.extend(nested);
        world_readable(scratch.path());
        PodRun { args, scratch }
    }
}

fn prod_model_dir() -> PathBuf {
    let (_, env) = pipeline::load(&Catalog::new(root().join("environments")), "prod").unwrap();
    server_settings(&env).config.embedding.model_dir.clone()
}

/// The host port podman published `container_port` on.
fn published(container: &Container, container_port: u16) -> u16 {
    let out = image::podman_ok(&["port", &container.name, &format!("{container_port}/tcp")]);
    let addr = out.lines().next().unwrap_or_default();
    addr.rsplit(':')
        .next()
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("podman port {container_port}: `{out}`"))
}

/// The container's state: (running, exit code).
fn state(container: &Container) -> (bool, i64) {
    let out = image::podman_ok(&[
        "inspect",
        "--format",
        "{{.State.Running}} {{.State.ExitCode}}",
        &container.name,
    ]);
    let mut parts = out.split_whitespace();
    let running = parts.next() == Some("true");
    let code = parts.next().and_then(|c| c.parse().ok()).unwrap_or(-1);
    (running, code)
}

fn logs(container: &Container) -> String {
    let out = image::podman(&["logs", &container.name]);
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Polls `GET path` on the host port until it answers 200 or `limit` passes.
fn wait_for_200(container: &Container, port: u16, path: &str, limit: Duration) {
    let start = Instant::now();
    let mut last = String::from("no answer yet");
    while start.elapsed() < limit {
        let (running, code) = state(container);
        assert!(
            running,
            "the container exited with {code} before {path} answered 200\n{}",
            logs(container)
        );
        match http::get(port, path) {
            Ok((200, _)) => return,
            Ok((code, body)) => last = format!("{code} {body}"),
            Err(e) => last = e.to_string(),
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    panic!(
        "{path} did not answer 200 within {limit:?}; last: {last}\n{}",
        logs(container)
    );
}

#[test]
fn the_image_serves_prod_as_its_deployment_runs_it() {
    let _ = image::inspect();
    let objects = prod_objects();
    let deployment = the_deployment(&objects);
    let pod = lint::pod_spec(&deployment).unwrap();
    let c = &pod.containers[0];
    let pod_run = PodRun::new(&deployment, &objects, c);
    let container = Container::named("akidb-image-serve");

    let mut args: Vec<String> = ["run", "--detach", "--name", &container.name]
        .map(str::to_owned)
        .to_vec();
    args.extend(pod_run.args.iter().cloned());
    for var in c.env.iter().flatten() {
        // A value from a Secret is the cluster's; the probes need none of them.
        let value = var
            .value
            .clone()
            .unwrap_or_else(|| "image-test-key".to_owned());
        args.push(format!("--env={}={value}", var.name));
    }
    for p in c.ports.iter().flatten() {
        args.push(format!("--publish=127.0.0.1::{}", p.container_port));
    }
    let command = c.command.clone().expect("the Deployment names the command");
    args.push(format!(
        "--entrypoint={}",
        serde_json::to_string(&command).unwrap()
    ));
    args.push(image::tag());
    args.extend(c.args.iter().flatten().cloned());
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    image::podman_ok(&argv);

    let (startup_port, startup) = probe_target(c, c.startup_probe.as_ref());
    let (live_port, live) = probe_target(c, c.liveness_probe.as_ref());
    let (ready_port, ready) = probe_target(c, c.readiness_probe.as_ref());
    let startup_limit = c.startup_probe.as_ref().map_or(60, |p| {
        p.period_seconds.unwrap_or(10) * p.failure_threshold.unwrap_or(3)
    });
    wait_for_200(
        &container,
        published(&container, startup_port),
        &startup,
        Duration::from_secs(u64::try_from(startup_limit).unwrap()),
    );
    wait_for_200(
        &container,
        published(&container, live_port),
        &live,
        Duration::from_secs(5),
    );
    // Ready means every preloaded model was read from the mounts and loaded: the image's
    // binary and libraries at work.
    wait_for_200(
        &container,
        published(&container, ready_port),
        &ready,
        Duration::from_secs(30),
    );

    // SIGTERM (after the preStop sleep, as the kubelet sends it): drained, exit 0, within
    // the grace period.
    let grace =
        Duration::from_secs(u64::try_from(pod.termination_grace_period_seconds.unwrap()).unwrap());
    image::podman_ok(&["kill", "--signal", "TERM", &container.name]);
    let start = Instant::now();
    loop {
        let (running, code) = state(&container);
        if !running {
            assert_eq!(code, 0, "exit after SIGTERM\n{}", logs(&container));
            break;
        }
        assert!(
            start.elapsed() < grace,
            "still running {grace:?} after SIGTERM\n{}",
            logs(&container)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(pod_run.scratch);
}

#[test]
fn the_dockerfile_builds_the_same_image() {
    let text = std::fs::read_to_string(root().join("app/Dockerfile")).unwrap();
    // The last stage is the image.
    let runtime = text.rsplit("\nFROM ").next().unwrap();
    let last = |instruction: &str| {
        runtime
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix(instruction))
            .map(str::trim)
            .unwrap_or_else(|| panic!("app/Dockerfile's runtime stage has no {instruction}"))
    };
    assert_eq!(last("USER "), contract_user());
    assert_eq!(
        serde_json::from_str::<Vec<String>>(last("ENTRYPOINT ")).unwrap(),
        [BINARY_PATH]
    );
    assert!(
        last("COPY ").ends_with(&format!(" {BINARY_PATH}")),
        "the binary is copied to {BINARY_PATH}"
    );
    let exposed: BTreeSet<String> = last("EXPOSE ")
        .split_whitespace()
        .map(|p| format!("{p}/tcp"))
        .collect();
    assert_eq!(exposed, contract_ports());
}
