//! The `deployment` kind: an image we did not write (seed 003's todo chatbot: a Next.js
//! frontend and a FastAPI backend) beside the embedding server, in one application;
//! rendered, held to every rule, and strictly valid for Kubernetes.

mod common;

use akidb_gen::lint::{self, Index};
use akidb_gen::objects::Object;
use akidb_gen::pipeline;
use akidb_gen::pipeline::load_str;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

const CHATBOT: &str = r#"
namespace: todo
part_of: todo-chatbot
volumes:
  attachments: {size: 5Gi}
components:
  frontend:
    deployment:
      image: {repository: ghcr.io/example/todo-frontend, tag: 1.4.2}
      port: 3000
      health: {liveness: {http: /api/live}, readiness: {http: /api/health}}
      env: {NEXT_PUBLIC_API_URL: "https://todo.example.com/api", NODE_ENV: production}
      writable_dirs: [/app/.next/cache]
      config_files:
        mount_dir: /app/config
        files: {"features.json": '{"voice": false}'}
      resources:
        requests: {cpu: 100m, memory: 256Mi}
        limits: {cpu: 500m, memory: 512Mi}
      replicas: 2
      ingress: {hosts: [todo.example.com]}
  backend:
    deployment:
      image: {repository: ghcr.io/example/todo-backend, digest: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}
      command: [uvicorn]
      args: [app.main:app, --host, 0.0.0.0, --port, "8000"]
      port: 8000
      health: {startup: {http: /health}, liveness: tcp, readiness: {http: /ready}}
      run_as: {user: 10001, group: 10001}
      resources:
        requests: {cpu: 250m, memory: 256Mi}
        limits: {cpu: 1, memory: 1Gi}
      autoscaling: {min_replicas: 2, max_replicas: 5}
      disruption_budget: {max_unavailable: 1}
      connects_to: [embed]
      volumes:
        - {volume: attachments, path: /data/attachments}
      secrets:
        - name: backend-db
          env: {DATABASE_URL: url}
  reminders:
    deployment:
      image: {repository: ghcr.io/example/todo-worker, tag: 1.4.2}
      command: [python, -m, worker]
      volumes:
        - {volume: attachments, path: /data/attachments, read_only: true}
      port: 9000
      health: {liveness: {exec: [python, -m, worker.alive]}, readiness: tcp}
      resources:
        requests: {cpu: 50m, memory: 64Mi}
        limits: {cpu: 200m, memory: 128Mi}
  embed:
    akidb_embed:
      models: {source: prefilled}
"#;

fn objects() -> Vec<Object> {
    let env = load_str(CHATBOT, "todo.yaml").unwrap_or_else(|e| panic!("{e}"));
    pipeline::objects(&env, "todo")
        .unwrap_or_else(|e| panic!("{e}"))
        .objects
}

fn container(objects: &[Object], deployment: &str) -> k8s_openapi::api::core::v1::Container {
    let index = Index::new(objects);
    let d = index
        .deployments()
        .find(|d| d.metadata.name.as_deref() == Some(deployment))
        .unwrap_or_else(|| panic!("no Deployment {deployment}"));
    lint::pod_spec(d).unwrap().containers[0].clone()
}

#[test]
fn each_component_gets_its_own_pods_from_its_own_settings() {
    let objects = objects();
    let index = Index::new(&objects);
    let names: Vec<&str> = index
        .deployments()
        .filter_map(|d| d.metadata.name.as_deref())
        .collect();
    assert_eq!(names, ["backend", "embed", "frontend", "reminders"]);

    let backend = container(&objects, "backend");
    assert_eq!(
        backend.image.as_deref(),
        Some(
            "ghcr.io/example/todo-backend@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
        )
    );
    assert_eq!(
        backend.command.as_deref(),
        Some(&["uvicorn".to_owned()][..])
    );
    let port = &backend.ports.as_ref().unwrap()[0];
    assert_eq!(
        (port.name.as_deref(), port.container_port),
        (Some("http"), 8000)
    );
    let path = |p: &Option<k8s_openapi::api::core::v1::Probe>| {
        p.as_ref()
            .and_then(|p| p.http_get.as_ref())
            .and_then(|g| g.path.clone())
    };
    assert_eq!(path(&backend.startup_probe).as_deref(), Some("/health"));
    let tcp = backend
        .liveness_probe
        .as_ref()
        .unwrap()
        .tcp_socket
        .as_ref()
        .unwrap();
    assert_eq!(tcp.port, IntOrString::String("http".into()));
    let worker = container(&objects, "reminders");
    assert_eq!(
        worker
            .liveness_probe
            .unwrap()
            .exec
            .unwrap()
            .command
            .unwrap(),
        ["python", "-m", "worker.alive"]
    );
    assert_eq!(path(&backend.readiness_probe).as_deref(), Some("/ready"));
    assert!(
        backend
            .env
            .iter()
            .flatten()
            .any(|e| e.name == "DATABASE_URL" && e.value.is_none()),
        "the database URL comes from its Secret"
    );
    // Not our server: none of its contract leaks in.
    let yaml = serde_json::to_string(&objects).unwrap();
    let backend_json = serde_json::to_string(&backend).unwrap();
    assert!(!backend_json.contains("akidb"), "{backend_json}");
    assert!(
        yaml.contains("\"runAsUser\":10001"),
        "the backend's own user"
    );

    let frontend = container(&objects, "frontend");
    assert_eq!(frontend.command, None, "the image's own entrypoint");
    assert_eq!(frontend.args, None);
    assert_eq!(frontend.startup_probe, None, "no start-up probe asked for");
    let mounts: Vec<&str> = frontend
        .volume_mounts
        .iter()
        .flatten()
        .map(|m| m.mount_path.as_str())
        .collect();
    assert_eq!(mounts, ["/app/config", "/tmp", "/app/.next/cache"]);
    let cm = index
        .config_maps()
        .find(|c| c.metadata.name.as_deref() == Some("frontend-config"))
        .expect("the frontend's config files");
    assert_eq!(
        cm.data.as_ref().unwrap()["features.json"],
        r#"{"voice": false}"#
    );
    let sc = frontend.security_context.unwrap();
    assert_eq!(sc.read_only_root_filesystem, Some(true));
    assert_eq!(sc.capabilities.unwrap().drop, Some(vec!["ALL".to_owned()]));

    // Each has its Service, the backend its autoscaler and budget, the frontend its Ingress.
    for kind_name in [
        "Service/backend",
        "Service/frontend",
        "Service/embed",
        "HorizontalPodAutoscaler/backend",
        "PodDisruptionBudget/backend",
        "Ingress/frontend",
        "NetworkPolicy/frontend",
        "ConfigMap/embed-config",
    ] {
        let (kind, name) = kind_name.split_once('/').unwrap();
        assert!(index.has(kind, name), "{kind_name} missing");
    }
    assert!(
        !index.has("ConfigMap", "backend-config"),
        "no config files asked for"
    );
}

#[test]
fn the_application_and_the_example_are_strictly_valid_for_kubernetes() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("todo.yaml");
    std::fs::write(&file, CHATBOT).unwrap();
    let example = common::root().join("examples/todo-chatbot/environments/local.yaml");
    let (out, text) = common::gen_check([file.as_os_str(), example.as_os_str()]);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("todo: rules: ok"), "{text}");
    assert!(text.contains("local: rules: ok"), "{text}");
    assert!(text.contains("all 2 environment(s) passed"), "{text}");
}

#[test]
fn what_the_pod_could_not_run_is_refused_at_its_setting() {
    let cases = [
        (
            "image: {repository: ghcr.io/x/y}",
            "components.web.deployment.image",
            "names no tag and no digest",
        ),
        (
            "image: {repository: ghcr.io/x/y, tag: latest}",
            "components.web.deployment.image.tag",
            "`latest` is refused",
        ),
        (
            "image: {repository: ghcr.io/x/y, tag: '1'}\n      writable_dirs: [cache]",
            "components.web.deployment.writable_dirs[0]",
            "absolute folder",
        ),
        (
            "image: {repository: ghcr.io/x/y, tag: '1'}\n      config_files: {mount_dir: /tmp/conf, files: {a: b}}",
            "components.web.deployment.config_files.mount_dir",
            "overlaps a writable folder",
        ),
        (
            "image: {repository: ghcr.io/x/y, tag: '1'}\n      health: {liveness: {http: live}, readiness: {exec: []}}",
            "components.web.deployment.health.liveness.http",
            "starts with `/`",
        ),
        (
            "image: {repository: ghcr.io/x/y, tag: '1'}\n      health: {liveness: tcp, readiness: {exec: []}}",
            "components.web.deployment.health.readiness.exec",
            "name the program",
        ),
        (
            "image: {repository: ghcr.io/x/y, tag: '1'}\n      health: {liveness: {grpc: 1}, readiness: tcp}",
            "components.web.deployment.health.liveness",
            "grpc",
        ),
        (
            "image: {repository: ghcr.io/x/y, tag: '1'}\n      connects_to: [api]",
            "components.web.deployment.connects_to[0]",
            "`api` names no component; components: web",
        ),
        (
            "image: {repository: ghcr.io/x/y, tag: '1'}\n      connects_to: [web]",
            "components.web.deployment.connects_to[0]",
            "is the component itself",
        ),
        (
            "image: {repository: ghcr.io/x/y, tag: '1'}\n      volumes: [{volume: media, path: /media}]",
            "components.web.deployment.volumes[0].volume",
            "`media` is not one of the application's volumes (none)",
        ),
        (
            "image: {repository: ghcr.io/x/y, tag: '1'}\n      writable_dirs: [/data]\n      volumes: [{volume: media, path: /data/media}]",
            "components.web.deployment.volumes[0].path",
            "overlaps `/data`",
        ),
        (
            "image: {repository: ghcr.io/x/y, tag: '1'}\n      run_as: {user: 0}",
            "components.web.deployment.run_as.user",
            "non-root",
        ),
        (
            "image: {repository: ghcr.io/x/y, tag: '1'}\n      replicas: 2\n      autoscaling: {min_replicas: 1, max_replicas: 3}",
            "components.web.deployment.replicas",
            "owns the replica count",
        ),
        (
            "image: {repository: ghcr.io/x/y, tag: '1'}\n      autoscaling: {min_replicas: 1, max_replicas: 3, metrics: [{external: {name: lag}}]}",
            "components.web.deployment.autoscaling.metrics[0].external",
            "give one target",
        ),
        (
            "image: {repository: ghcr.io/x/y, tag: '1'}\n      autoscaling: {min_replicas: 1, max_replicas: 3, metrics: [{pods: {name: rps, average_value: lots}}]}",
            "components.web.deployment.autoscaling.metrics[0].pods.average_value",
            "positive quantity",
        ),
        (
            "image: {repository: ghcr.io/x/y, tag: '1'}\n      autoscaling: {min_replicas: 1, max_replicas: 3, metrics: [{object: {name: x}}]}",
            "components.web.deployment.autoscaling.metrics[0]",
            "object",
        ),
        (
            "image: {repository: ghcr.io/x/y, tag: '1'}\n      replicaz: 2",
            "components.web.deployment",
            "replicaz",
        ),
    ];
    for (extra, setting, says) in cases {
        let health = if extra.contains("health:") {
            ""
        } else {
            "      health: {liveness: {http: /}, readiness: tcp}\n"
        };
        let yaml = format!(
            "namespace: a\ncomponents:\n  web:\n    deployment:\n      port: 8080\n{health}      {extra}\n"
        );
        common::assert_refused(&yaml, setting, says);
    }
}

#[test]
fn a_changed_config_file_rolls_the_pods() {
    let checksum = |yaml: &str| {
        let env = load_str(yaml, "todo.yaml").unwrap();
        let objects = pipeline::objects(&env, "todo").unwrap().objects;
        let index = Index::new(&objects);
        let d = index
            .deployments()
            .find(|d| d.metadata.name.as_deref() == Some("frontend"))
            .unwrap();
        lint::pod_annotations(d)["checksum/config"].clone()
    };
    let before = checksum(CHATBOT);
    let after = checksum(&CHATBOT.replace(r#"{"voice": false}"#, r#"{"voice": true}"#));
    assert_ne!(before, after);
}

#[test]
fn a_connection_opens_the_path_in_both_network_policies_and_nothing_else() {
    let objects = objects();
    let policy = |name: &str| {
        objects
            .iter()
            .find_map(|o| match o {
                Object::NetworkPolicy(p) if p.metadata.name.as_deref() == Some(name) => {
                    p.spec.clone()
                }
                _ => None,
            })
            .unwrap()
    };
    let selects = |peer: &k8s_openapi::api::networking::v1::NetworkPolicyPeer, instance: &str| {
        peer.pod_selector
            .as_ref()
            .and_then(|s| s.match_labels.as_ref())
            .is_some_and(|l| {
                l.get("app.kubernetes.io/instance").map(String::as_str) == Some(instance)
            })
    };
    // The backend may reach the embedding server's pods on their API port (8080)...
    let backend = policy("backend");
    assert!(
        backend.egress.iter().flatten().any(|r| {
            r.to.iter().flatten().any(|p| selects(p, "embed"))
                && r.ports
                    .iter()
                    .flatten()
                    .any(|p| p.port == Some(IntOrString::Int(8080)))
        }),
        "{backend:?}"
    );
    // ...the embedding server admits the backend's pods on its http port...
    let embed = policy("embed");
    assert!(
        embed.ingress.iter().flatten().any(|r| r
            .from
            .iter()
            .flatten()
            .any(|p| selects(p, "backend"))),
        "{embed:?}"
    );
    // ...and nobody else gained a path: the frontend neither calls nor is called.
    let frontend = policy("frontend");
    for rule in frontend.egress.iter().flatten() {
        assert!(
            !rule
                .to
                .iter()
                .flatten()
                .any(|p| p.pod_selector.is_some() && p.namespace_selector.is_none()),
            "{rule:?}"
        );
    }
    assert!(
        !embed.ingress.iter().flatten().any(|r| r
            .from
            .iter()
            .flatten()
            .any(|p| selects(p, "frontend")))
    );
}

#[test]
fn a_shared_volume_is_one_claim_mounted_by_each_component_as_it_asks() {
    let objects = objects();
    let index = Index::new(&objects);
    let claim = index
        .claims()
        .find(|c| c.metadata.name.as_deref() == Some("attachments"))
        .expect("the shared claim");
    assert_eq!(
        claim.spec.as_ref().unwrap().access_modes,
        Some(vec!["ReadWriteMany".to_owned()])
    );
    let mount_of = |deployment: &str| {
        container(&objects, deployment)
            .volume_mounts
            .unwrap()
            .into_iter()
            .find(|m| m.mount_path == "/data/attachments")
            .unwrap_or_else(|| panic!("{deployment} does not mount the volume"))
    };
    assert_eq!(mount_of("backend").read_only, Some(false));
    assert_eq!(mount_of("reminders").read_only, Some(true));
    // The ReadOnlyMany case: a writer is refused.
    let yaml = CHATBOT.replace(
        "attachments: {size: 5Gi}",
        "attachments: {size: 5Gi, access_mode: ReadOnlyMany}",
    );
    let err = load_str(&yaml, "todo.yaml").unwrap_err().to_string();
    assert!(
        err.contains("components.backend.deployment.volumes[0].read_only")
            && err.contains("ReadOnlyMany"),
        "{err}"
    );
}

#[test]
fn config_map_keys_become_variables_and_must_exist() {
    let yaml = r#"
namespace: a
external: {config_maps: [site-settings]}
components:
  web:
    deployment:
      image: {repository: ghcr.io/x/web, tag: "1"}
      port: 8080
      health: {liveness: tcp, readiness: {http: /ready}}
      env: {MODE: production}
      config_maps:
        - {name: site-settings, env: {SITE_URL: url}}
        - {name: api-config, all_keys: true}
      secrets:
        - {name: web-db, env: {DATABASE_URL: url}}
  api:
    deployment:
      image: {repository: ghcr.io/x/api, tag: "1"}
      port: 8000
      health: {liveness: tcp, readiness: {http: /ready}}
      config_files: {mount_dir: /etc/api, files: {LOG_LEVEL: info}}
"#;
    // `api-config` is the api component's own ConfigMap, so it resolves.
    let env = load_str(yaml, "a.yaml").unwrap_or_else(|e| panic!("{e}"));
    let objects = pipeline::objects(&env, "a")
        .unwrap_or_else(|e| panic!("{e}"))
        .objects;
    let web = container(&objects, "web");
    let vars: Vec<_> = web
        .env
        .iter()
        .flatten()
        .map(|v| {
            let from = v.value_from.as_ref();
            let cm = from.and_then(|f| f.config_map_key_ref.as_ref());
            let secret = from.and_then(|f| f.secret_key_ref.as_ref());
            match (cm, secret) {
                (Some(k), _) => format!("{}=cm:{}/{}", v.name, k.name, k.key),
                (_, Some(k)) => format!("{}=secret:{}/{}", v.name, k.name, k.key),
                _ => format!("{}={}", v.name, v.value.clone().unwrap_or_default()),
            }
        })
        .collect();
    assert_eq!(
        vars,
        [
            "MODE=production",
            "SITE_URL=cm:site-settings/url",
            "DATABASE_URL=secret:web-db/url"
        ]
    );
    let from: Vec<_> = web
        .env_from
        .iter()
        .flatten()
        .map(|e| e.config_map_ref.as_ref().unwrap().name.clone())
        .collect();
    assert_eq!(from, ["api-config"]);

    // A ConfigMap that is neither emitted nor external is caught before apply.
    let missing = yaml.replace("external: {config_maps: [site-settings]}\n", "");
    let env = load_str(&missing, "a.yaml").unwrap();
    let err = pipeline::objects(&env, "a").unwrap_err().to_string();
    assert!(
        err.contains("references-exist") && err.contains("ConfigMap `site-settings`"),
        "{err}"
    );

    // A variable set twice, a key no ConfigMap can have, a ConfigMap read for nothing.
    for (from, to, setting, says) in [
        (
            "{SITE_URL: url}",
            "{MODE: url}",
            "components.web.deployment.config_maps[0].env.MODE",
            "which `env.MODE` sets already",
        ),
        (
            "{DATABASE_URL: url}",
            "{SITE_URL: url}",
            "components.web.deployment.secrets[0].env.SITE_URL",
            "which `config_maps[0].env.SITE_URL` sets already",
        ),
        (
            "{SITE_URL: url}",
            "{SITE_URL: 'a b'}",
            "components.web.deployment.config_maps[0].env.SITE_URL",
            "is not a ConfigMap key",
        ),
        (
            "{name: api-config, all_keys: true}",
            "{name: api-config}",
            "components.web.deployment.config_maps[1]",
            "reads no key",
        ),
    ] {
        common::assert_refused_after(yaml, from, to, setting, says);
    }
}

#[test]
fn ingress_routes_send_paths_of_one_host_to_several_components() {
    let yaml = format!(
        "{CHATBOT}ingress_routes:\n  hosts:\n    todo.example.com:\n      /: frontend\n      /api: backend\n  tls: {{secret_name: todo-tls}}\n"
    );
    let env = load_str(&yaml, "todo.yaml").unwrap_or_else(|e| panic!("{e}"));
    let objects = pipeline::objects(&env, "todo")
        .unwrap_or_else(|e| panic!("{e}"))
        .objects;
    let ingress = Index::new(&objects)
        .ingresses()
        .find(|i| i.metadata.name.as_deref() == Some("todo-chatbot"))
        .expect("the application's Ingress, named after part_of");
    let spec = ingress.spec.as_ref().unwrap();
    let routes: Vec<String> = spec
        .rules
        .iter()
        .flatten()
        .flat_map(|r| {
            let host = r.host.clone().unwrap();
            r.http.iter().flat_map(|h| &h.paths).map(move |p| {
                let svc = p.backend.service.as_ref().unwrap();
                format!(
                    "{host}{} -> {}:{}",
                    p.path.clone().unwrap(),
                    svc.name,
                    svc.port.as_ref().unwrap().name.clone().unwrap()
                )
            })
        })
        .collect();
    assert_eq!(
        routes,
        [
            "todo.example.com/ -> frontend:http",
            "todo.example.com/api -> backend:http"
        ]
    );
    assert_eq!(
        spec.tls.as_ref().unwrap()[0].secret_name.as_deref(),
        Some("todo-tls")
    );

    for (route, setting, says) in [
        (
            "api: backend",
            "ingress_routes.hosts.todo.example.com.api",
            "does not start with `/`",
        ),
        (
            "/api: api",
            "ingress_routes.hosts.todo.example.com./api",
            "`api` names no component",
        ),
    ] {
        let bad =
            format!("{CHATBOT}ingress_routes:\n  hosts:\n    todo.example.com:\n      {route}\n");
        common::assert_refused(&bad, setting, says);
    }
}

#[test]
fn a_whole_secret_becomes_variables_and_a_headless_service_has_no_ip() {
    let yaml = r#"
namespace: a
components:
  grpc:
    deployment:
      image: {repository: ghcr.io/x/grpc, tag: "1"}
      port: 50051
      health: {liveness: tcp, readiness: tcp}
      service: {type: Headless}
      secrets:
        - {name: grpc-env, all_keys: true}
"#;
    let env = load_str(yaml, "a.yaml").unwrap_or_else(|e| panic!("{e}"));
    let objects = pipeline::objects(&env, "a")
        .unwrap_or_else(|e| panic!("{e}"))
        .objects;
    let c = container(&objects, "grpc");
    let from: Vec<_> = c
        .env_from
        .iter()
        .flatten()
        .map(|e| e.secret_ref.as_ref().unwrap().name.clone())
        .collect();
    assert_eq!(from, ["grpc-env"]);
    let svc = Index::new(&objects)
        .services()
        .find(|s| s.metadata.name.as_deref() == Some("grpc"))
        .unwrap()
        .spec
        .clone()
        .unwrap();
    assert_eq!(svc.type_.as_deref(), Some("ClusterIP"));
    assert_eq!(svc.cluster_ip.as_deref(), Some("None"));
    // Clients dial the pods: the Service lists the container's own port.
    assert_eq!(svc.ports.unwrap()[0].port, 50051);

    let bad = yaml.replace("{type: Headless}", "{type: Headless, node_port: 30001}");
    let err = load_str(&bad, "a.yaml").unwrap_err().to_string();
    assert!(
        err.contains("components.grpc.deployment.service.node_port")
            && err.contains("service.type is Headless, which has no node ports"),
        "{err}"
    );
}
