//! The `stateful_set` kind: stable pod names, a claim per pod, a headless Service, peers
//! that reach each other, further named ports; every pod rule holds for it as for a
//! Deployment, and seed 004's Archivist example is strictly valid for Kubernetes.

mod common;

use akidb_gen::lint::{self, Context, Index};
use akidb_gen::objects::Object;
use akidb_gen::pipeline::{self, load_str};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::networking::v1::NetworkPolicy;

const STORES: &str = r#"
namespace: stores
storage_class: fast
resource_quota: {persistent_volume_claims: 7}
components:
  kafka:
    stateful_set:
      image: {repository: docker.io/apache/kafka, tag: 3.7.0}
      port: 9092
      ports: {controller: 9093}
      health: {liveness: tcp, readiness: tcp}
      replicas: 3
      pod_management: parallel
      volume_claims:
        data: {path: /var/lib/kafka/data, size: 10Gi}
      disruption_budget: {max_unavailable: 1}
      resources:
        requests: {cpu: 500m, memory: 1Gi}
        limits: {cpu: 1, memory: 2Gi}
  search:
    stateful_set:
      image: {repository: docker.io/qdrant/qdrant, tag: v1.9.2}
      port: 6333
      ports: {grpc: 6334}
      health: {liveness: {http: /livez}, readiness: {http: /readyz}}
      autoscaling: {min_replicas: 1, max_replicas: 3}
      volume_claims:
        storage: {path: /qdrant/storage, size: 5Gi, storage_class: local}
  app:
    deployment:
      image: {repository: ghcr.io/example/app, tag: "1"}
      port: 8080
      health: {liveness: tcp, readiness: {http: /ready}}
      connects_to: [kafka, search]
"#;

fn render(yaml: &str) -> Vec<Object> {
    let env = load_str(yaml, "stores.yaml").unwrap_or_else(|e| panic!("{e}"));
    pipeline::objects(&env, "stores")
        .unwrap_or_else(|e| panic!("{e}"))
        .objects
}

fn stateful_set<'a>(objects: &'a [Object], name: &str) -> &'a StatefulSet {
    objects
        .iter()
        .find_map(|o| match o {
            Object::StatefulSet(s) if s.metadata.name.as_deref() == Some(name) => Some(s),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no StatefulSet {name}"))
}

fn service<'a>(objects: &'a [Object], name: &str) -> &'a Service {
    Index::new(objects)
        .services()
        .find(|s| s.metadata.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("no Service {name}"))
}

fn policy<'a>(objects: &'a [Object], name: &str) -> &'a NetworkPolicy {
    Index::new(objects)
        .network_policies()
        .find(|p| p.metadata.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("no NetworkPolicy {name}"))
}

#[test]
fn a_stateful_set_has_stable_pods_a_claim_each_and_a_headless_service() {
    let objects = render(STORES);
    let index = Index::new(&objects);
    // The stores are StatefulSets, never Deployments too.
    let deployments: Vec<_> = index
        .deployments()
        .filter_map(|d| d.metadata.name.clone())
        .collect();
    assert_eq!(deployments, ["app"]);

    let kafka = stateful_set(&objects, "kafka");
    let spec = kafka.spec.as_ref().unwrap();
    assert_eq!(spec.service_name.as_deref(), Some("kafka-headless"));
    assert_eq!(spec.replicas, Some(3));
    assert_eq!(spec.pod_management_policy.as_deref(), Some("Parallel"));
    let retention = spec
        .persistent_volume_claim_retention_policy
        .as_ref()
        .unwrap();
    assert_eq!(retention.when_deleted.as_deref(), Some("Retain"));
    assert_eq!(retention.when_scaled.as_deref(), Some("Retain"));
    let templates = spec.volume_claim_templates.as_ref().unwrap();
    assert_eq!(templates.len(), 1);
    let claim = templates[0].spec.as_ref().unwrap();
    assert_eq!(templates[0].metadata.name.as_deref(), Some("data"));
    assert_eq!(
        claim.access_modes.as_deref(),
        Some(&["ReadWriteOnce".to_owned()][..])
    );
    assert_eq!(claim.storage_class_name.as_deref(), Some("fast"));
    assert_eq!(
        claim.resources.as_ref().unwrap().requests.as_ref().unwrap()["storage"].0,
        "10Gi"
    );
    let pod = spec.template.spec.as_ref().unwrap();
    let mount = pod.containers[0]
        .volume_mounts
        .iter()
        .flatten()
        .find(|m| m.name == "data")
        .expect("the claim is mounted");
    assert_eq!(mount.mount_path, "/var/lib/kafka/data");
    // The claim comes from the template: no pod volume of that name.
    assert!(pod.volumes.iter().flatten().all(|v| v.name != "data"));
    let ports: Vec<_> = pod.containers[0]
        .ports
        .iter()
        .flatten()
        .map(|p| (p.name.clone().unwrap(), p.container_port))
        .collect();
    assert_eq!(
        ports,
        [("http".to_owned(), 9092), ("controller".to_owned(), 9093)]
    );
    // Spread counts pods of one revision, by the label a StatefulSet gives them.
    let spread = &pod.topology_spread_constraints.as_ref().unwrap()[0];
    assert_eq!(
        spread.match_label_keys.as_deref(),
        Some(&["controller-revision-hash".to_owned()][..])
    );

    let headless = service(&objects, "kafka-headless").spec.as_ref().unwrap();
    assert_eq!(headless.cluster_ip.as_deref(), Some("None"));
    assert_eq!(headless.publish_not_ready_addresses, Some(true));
    let ports: Vec<_> = headless
        .ports
        .iter()
        .flatten()
        .map(|p| (p.name.clone().unwrap(), p.port))
        .collect();
    assert_eq!(
        ports,
        [("http".to_owned(), 9092), ("controller".to_owned(), 9093)]
    );
    // The component's own Service keeps the further port under its name and number.
    let api = service(&objects, "kafka").spec.as_ref().unwrap();
    assert!(
        api.ports
            .iter()
            .flatten()
            .any(|p| p.name.as_deref() == Some("controller") && p.port == 9093)
    );

    // An autoscaled StatefulSet: the autoscaler targets it, and it sets no count.
    let search = stateful_set(&objects, "search");
    assert_eq!(search.spec.as_ref().unwrap().replicas, None);
    let hpa = index
        .autoscalers()
        .find(|h| h.metadata.name.as_deref() == Some("search"))
        .unwrap();
    let target = &hpa.spec.as_ref().unwrap().scale_target_ref;
    assert_eq!(
        (target.kind.as_str(), target.name.as_str()),
        ("StatefulSet", "search")
    );
    let templates = search
        .spec
        .as_ref()
        .unwrap()
        .volume_claim_templates
        .as_ref()
        .unwrap();
    assert_eq!(
        templates[0]
            .spec
            .as_ref()
            .unwrap()
            .storage_class_name
            .as_deref(),
        Some("local")
    );
}

#[test]
fn claim_templates_do_not_change_between_releases() {
    // A StatefulSet's claim templates cannot be changed once applied: a new image must
    // leave them byte-identical, or `kubectl apply` of the next release is refused.
    let templates = |yaml: &str| {
        let objects = render(yaml);
        serde_json::to_string(
            &stateful_set(&objects, "kafka")
                .spec
                .as_ref()
                .unwrap()
                .volume_claim_templates,
        )
        .unwrap()
    };
    let next = STORES.replace("tag: 3.7.0", "tag: 3.8.0");
    assert_ne!(STORES, next);
    assert_eq!(templates(STORES), templates(&next));
}

/// The egress rule of `policy` towards the pods of component `instance`.
fn egress_to<'a>(
    policy: &'a k8s_openapi::api::networking::v1::NetworkPolicySpec,
    instance: &str,
) -> Option<&'a k8s_openapi::api::networking::v1::NetworkPolicyEgressRule> {
    policy.egress.iter().flatten().find(|r| {
        r.to.iter().flatten().any(|p| {
            p.pod_selector.as_ref().is_some_and(|s| {
                s.match_labels
                    .as_ref()
                    .and_then(|l| l.get("app.kubernetes.io/instance"))
                    .map(String::as_str)
                    == Some(instance)
            })
        })
    })
}

#[test]
fn peers_reach_each_other_and_callers_reach_every_port() {
    let objects = render(STORES);
    let kafka = policy(&objects, "kafka").spec.as_ref().unwrap();
    let names = |ports: &Option<Vec<k8s_openapi::api::networking::v1::NetworkPolicyPort>>| {
        ports
            .iter()
            .flatten()
            .map(|p| format!("{:?}", p.port.as_ref().unwrap()))
            .collect::<Vec<_>>()
    };
    let from_pods = |rule: &k8s_openapi::api::networking::v1::NetworkPolicyIngressRule,
                     instance: &str| {
        rule.from.iter().flatten().any(|peer| {
            peer.pod_selector
                .as_ref()
                .and_then(|s| s.match_labels.as_ref())
                .is_some_and(|l| {
                    l.get("app.kubernetes.io/instance").map(String::as_str) == Some(instance)
                })
        })
    };
    let ingress = kafka.ingress.as_ref().unwrap();
    for caller in ["kafka", "app"] {
        let rule = ingress
            .iter()
            .find(|r| from_pods(r, caller))
            .unwrap_or_else(|| panic!("kafka admits no pods of {caller}"));
        assert_eq!(
            names(&rule.ports),
            [r#"String("http")"#, r#"String("controller")"#]
        );
    }
    let peers = egress_to(kafka, "kafka").expect("kafka reaches its peers");
    assert_eq!(names(&peers.ports), ["Int(9092)", "Int(9093)"]);

    // The caller gets out on both of the store's ports; a Deployment has no peer rule.
    let app = policy(&objects, "app").spec.as_ref().unwrap();
    let to_kafka = egress_to(app, "kafka").expect("app reaches kafka");
    assert_eq!(names(&to_kafka.ports), ["Int(9092)", "Int(9093)"]);
    assert!(
        !app.ingress.iter().flatten().any(|r| from_pods(r, "app")),
        "a Deployment's pods are not each other's peers"
    );
}

#[test]
fn the_pod_rules_hold_for_stateful_sets_too() {
    let env = load_str(STORES, "stores.yaml").unwrap();
    let mut objects = render(STORES);
    for o in &mut objects {
        if let Object::StatefulSet(s) = o
            && s.metadata.name.as_deref() == Some("kafka")
        {
            let pod = s.spec.as_mut().unwrap().template.spec.as_mut().unwrap();
            let sc = pod.containers[0].security_context.as_mut().unwrap();
            sc.allow_privilege_escalation = Some(true);
        }
    }
    let findings = lint::lint(&objects, &Context::of(&env));
    assert!(
        findings
            .iter()
            .any(|f| f.to_string().contains("StatefulSet/kafka")),
        "{findings:?}"
    );
}

#[test]
fn the_quota_counts_a_claim_per_pod() {
    // 3 Kafka pods and up to 3 search pods, one claim each: 6 claims; 5 cannot admit them.
    let yaml = STORES.replace("persistent_volume_claims: 7", "persistent_volume_claims: 5");
    let env = load_str(&yaml, "stores.yaml").unwrap();
    let err = pipeline::objects(&env, "stores").unwrap_err().to_string();
    assert!(
        err.contains("quota-admits-minimum") && err.contains("persistentvolumeclaims"),
        "{err}"
    );
    let yaml = STORES.replace("persistent_volume_claims: 7", "persistent_volume_claims: 6");
    render(&yaml);
}

#[test]
fn what_a_stateful_set_could_not_run_is_refused_at_its_setting() {
    let cases = [
        (
            "volume_claims: {tmp: {path: /data, size: 1Gi}}",
            "components.db.stateful_set.volume_claims.tmp",
            "a name the pod's own volumes take",
        ),
        (
            "volume_claims: {data: {path: data, size: 1Gi}}",
            "components.db.stateful_set.volume_claims.data.path",
            "absolute folder",
        ),
        (
            "writable_dirs: [/var/lib]\n      volume_claims: {data: {path: /var/lib/db, size: 1Gi}}",
            "components.db.stateful_set.volume_claims.data.path",
            "overlaps `/var/lib`",
        ),
        (
            "volume_claims: {data: {path: /data, size: 1Gi, access_mode: ReadOnlyMany}}",
            "components.db.stateful_set.volume_claims.data.access_mode",
            "starts empty",
        ),
        (
            "ports: {Bolt: 7687}",
            "components.db.stateful_set.ports.Bolt",
            "is not a port name",
        ),
        (
            "ports: {http: 7687}",
            "components.db.stateful_set.ports.http",
            "name of the API or metrics port",
        ),
        (
            "ports: {bolt: 5432}",
            "components.db.stateful_set.ports.bolt",
            "5432 is already another port",
        ),
        (
            "pod_management: sequential",
            "components.db.stateful_set.pod_management",
            "sequential",
        ),
        (
            "volume_claimz: {}",
            "components.db.stateful_set",
            "volume_claimz",
        ),
    ];
    for (extra, setting, says) in cases {
        let yaml = format!(
            "namespace: a\ncomponents:\n  db:\n    stateful_set:\n      image: {{repository: postgres, tag: '16'}}\n      port: 5432\n      health: {{liveness: tcp, readiness: tcp}}\n      {extra}\n"
        );
        common::assert_refused(&yaml, setting, says);
    }
}

#[test]
fn sizing_sets_the_one_claim_of_an_included_stateful_set() {
    let dir = tempfile::tempdir().unwrap();
    let components = r#"
components:
  db:
    stateful_set:
      image: {repository: postgres, tag: "16"}
      port: 5432
      health: {liveness: tcp, readiness: tcp}
      volume_claims:
        data: {path: /var/lib/postgresql/data, size: 1Gi}
"#;
    std::fs::write(dir.path().join("components.yaml"), components).unwrap();
    let env = |sizing: &str| {
        let file = dir.path().join("env.yaml");
        std::fs::write(
            &file,
            format!("namespace: a\ninclude: components.yaml\nsizing:\n  db: {sizing}\n"),
        )
        .unwrap();
        pipeline::load_file(&file)
    };
    let loaded = env("{size: 50Gi, storage_class: ssd}").unwrap_or_else(|e| panic!("{e}"));
    let objects = pipeline::objects(&loaded, "a").unwrap().objects;
    let claim = stateful_set(&objects, "db")
        .spec
        .as_ref()
        .unwrap()
        .volume_claim_templates
        .as_ref()
        .unwrap()[0]
        .spec
        .clone()
        .unwrap();
    assert_eq!(claim.storage_class_name.as_deref(), Some("ssd"));
    assert_eq!(
        claim.resources.unwrap().requests.unwrap()["storage"].0,
        "50Gi"
    );

    // With two claims, which one to size is ambiguous: refused.
    let two = components.replace(
        "        data: {path: /var/lib/postgresql/data, size: 1Gi}\n",
        "        data: {path: /var/lib/postgresql/data, size: 1Gi}\n        wal: {path: /wal, size: 1Gi}\n",
    );
    std::fs::write(dir.path().join("components.yaml"), two).unwrap();
    let err = env("{size: 50Gi}").unwrap_err().to_string();
    assert!(
        err.contains("sizing.db.size") && err.contains("has 2 volume claims"),
        "{err}"
    );
}

#[test]
fn the_archivist_example_is_strictly_valid_for_kubernetes() {
    let dir = common::root().join("examples/archivist/environments");
    let files: Vec<_> = ["gke", "eks", "aks"]
        .iter()
        .map(|cloud| dir.join(format!("{cloud}.yaml")))
        .collect();
    let (out, text) = common::gen_check(&files);
    assert!(out.status.success(), "{text}");
    for cloud in ["gke", "eks", "aks"] {
        assert!(text.contains(&format!("{cloud}: rules: ok")), "{text}");
    }
    // Three environments, each against 1.33 and 1.37.
    assert_eq!(text.matches(" 0 invalid").count(), 6, "{text}");
    assert!(text.contains("all 3 environment(s) passed"), "{text}");

    // Four stores, each a StatefulSet with its claim; the three services Deployments.
    let env = pipeline::load_file(&files[0]).unwrap();
    let objects = pipeline::objects(&env, "gke").unwrap().objects;
    let kinds: Vec<_> = objects
        .iter()
        .filter(|o| matches!(o, Object::StatefulSet(_) | Object::Deployment(_)))
        .map(|o| format!("{}/{}", o.kind(), o.name()))
        .collect();
    // The stores come before the services that use them, as the seed's ordered apply.
    assert_eq!(
        kinds,
        [
            "StatefulSet/kafka",
            "StatefulSet/neo4j",
            "StatefulSet/qdrant",
            "StatefulSet/redis",
            "Deployment/graph",
            "Deployment/search",
            "Deployment/worker",
        ]
    );
    // The workers scale on the documents waiting in Kafka, beside CPU and memory.
    let hpa = Index::new(&objects)
        .autoscalers()
        .find(|h| h.metadata.name.as_deref() == Some("worker"))
        .unwrap();
    let metrics = hpa.spec.as_ref().unwrap().metrics.as_ref().unwrap();
    let types: Vec<_> = metrics.iter().map(|m| m.type_.as_str()).collect();
    assert_eq!(types, ["Resource", "Resource", "External"]);
    let external = metrics[2].external.as_ref().unwrap();
    assert_eq!(external.metric.name, "kafka_consumergroup_lag");
    assert_eq!(external.target.type_, "AverageValue");
    assert_eq!(external.target.average_value.as_ref().unwrap().0, "100");
    // And the workers mount the shared ReadWriteMany claim read-write.
    let worker = Index::new(&objects)
        .deployments()
        .find(|d| d.metadata.name.as_deref() == Some("worker"))
        .unwrap();
    let pod = akidb_gen::lint::pod_spec(worker).unwrap();
    let shared = pod
        .volumes
        .iter()
        .flatten()
        .find_map(|v| v.persistent_volume_claim.as_ref())
        .unwrap();
    assert_eq!(shared.claim_name, "shared-data");
    assert_eq!(shared.read_only, Some(false));

    // The three clouds differ only in their storage class.
    let render = |cloud: &str| {
        std::fs::read_to_string(common::root().join(format!("examples/archivist/out/{cloud}.yaml")))
            .unwrap()
    };
    let gke = render("gke");
    assert_eq!(
        render("eks")
            .replace("gp3", "pd-ssd")
            .replace("gen eks", "gen gke")
            .replace("eks.yaml", "gke.yaml"),
        gke
    );
    assert_eq!(
        render("aks")
            .replace("managed-premium", "pd-ssd")
            .replace("gen aks", "gen gke")
            .replace("aks.yaml", "gke.yaml"),
        gke
    );
}

#[test]
fn a_port_that_speaks_tcp_has_no_app_protocol_and_no_ingress() {
    let objects = render(STORES);
    let app_protocol = |objects: &[Object], name: &str| {
        service(objects, name)
            .spec
            .as_ref()
            .unwrap()
            .ports
            .as_ref()
            .unwrap()[0]
            .app_protocol
            .clone()
    };
    // By default the API port speaks HTTP.
    assert_eq!(app_protocol(&objects, "kafka").as_deref(), Some("http"));
    let tcp = STORES.replacen(
        "      port: 9092\n",
        "      port: 9092\n      app_protocol: tcp\n",
        1,
    );
    let objects = render(&tcp);
    assert_eq!(app_protocol(&objects, "kafka"), None);
    assert_eq!(app_protocol(&objects, "kafka-headless"), None);
    let grpc = STORES.replacen(
        "      port: 9092\n",
        "      port: 9092\n      app_protocol: grpc\n",
        1,
    );
    assert_eq!(
        app_protocol(&render(&grpc), "kafka").as_deref(),
        Some("grpc")
    );

    let with_ingress = tcp.replacen(
        "      pod_management: parallel\n",
        "      pod_management: parallel\n      ingress: {hosts: [kafka.example.com]}\n",
        1,
    );
    let err = load_str(&with_ingress, "stores.yaml")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("components.kafka.stateful_set.ingress") && err.contains("routes HTTP"),
        "{err}"
    );
    let routed = format!("{tcp}ingress_routes:\n  hosts:\n    a.example.com:\n      /: kafka\n");
    let err = load_str(&routed, "stores.yaml").unwrap_err().to_string();
    assert!(
        err.contains("ingress_routes.hosts.a.example.com./") && err.contains("not HTTP"),
        "{err}"
    );
}
