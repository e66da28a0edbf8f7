//! The `postgres` kind: a CloudNativePG `Cluster` typed in Rust, fenced off so only the
//! components that connect to it (and its peers and the operator) reach it, its generated
//! credentials read by key names the operator writes; seed 002's AliceMultiverse example
//! passes Kubernetes' schemas and the real upstream CRD.

mod common;

use std::path::PathBuf;

use akidb_gen::Catalog;
use akidb_gen::lint::Index;
use akidb_gen::objects::Object;
use akidb_gen::objects::postgres::ClusterSpec;
use akidb_gen::pipeline::{self, load_str};
use k8s_openapi::api::networking::v1::NetworkPolicySpec;

const SHOP: &str = r#"
namespace: shop
storage_class: standard
resource_quota: {persistent_volume_claims: 3, requests_cpu: "2"}
components:
  orders:
    deployment:
      image: {repository: ghcr.io/example/orders, tag: "2.1"}
      port: 8000
      health: {liveness: tcp, readiness: {http: /ready}}
      resources:
        requests: {cpu: 100m, memory: 128Mi}
        limits: {cpu: 200m, memory: 256Mi}
      connects_to: [orders-db]
      secrets:
        - {name: orders-db-app, env: {DATABASE_URL: uri, PGPASSWORD: password}}
  web:
    deployment:
      image: {repository: ghcr.io/example/web, tag: "2.1"}
      port: 3000
      health: {liveness: tcp, readiness: {http: /}}
      resources:
        requests: {cpu: 100m, memory: 128Mi}
        limits: {cpu: 200m, memory: 256Mi}
      connects_to: [orders]
  orders-db:
    postgres:
      instances: 2
      image: {repository: ghcr.io/cloudnative-pg/postgresql, tag: "16.4"}
      storage: {size: 5Gi}
      resources:
        requests: {cpu: 500m, memory: 1Gi}
        limits: {cpu: 1, memory: 2Gi}
      parameters: {max_connections: "200"}
      pod_monitor: true
"#;

fn render(yaml: &str) -> Vec<Object> {
    let env = load_str(yaml, "shop.yaml").unwrap_or_else(|e| panic!("{e}"));
    pipeline::objects(&env, "shop")
        .unwrap_or_else(|e| panic!("{e}"))
        .objects
}

fn cluster(objects: &[Object]) -> &ClusterSpec {
    objects
        .iter()
        .find_map(|o| match o {
            Object::PostgresCluster(c) => Some(&c.spec),
            _ => None,
        })
        .expect("a Cluster")
}

fn policy<'a>(objects: &'a [Object], name: &str) -> &'a NetworkPolicySpec {
    Index::new(objects)
        .network_policies()
        .find(|p| p.metadata.name.as_deref() == Some(name))
        .and_then(|p| p.spec.as_ref())
        .unwrap_or_else(|| panic!("no NetworkPolicy {name}"))
}

fn instance_of(labels: Option<&std::collections::BTreeMap<String, String>>) -> Option<String> {
    let labels = labels?;
    labels
        .get("app.kubernetes.io/instance")
        .or_else(|| labels.get("cnpg.io/cluster"))
        .cloned()
}

#[test]
fn the_cluster_says_what_the_settings_say() {
    let objects = render(SHOP);
    let c = cluster(&objects);
    assert_eq!(c.instances, 2);
    assert_eq!(
        c.image_name.as_deref(),
        Some("ghcr.io/cloudnative-pg/postgresql:16.4")
    );
    assert_eq!(c.storage.size, "5Gi");
    // No class of its own: the environment's.
    assert_eq!(c.storage.storage_class.as_deref(), Some("standard"));
    // The database and its owner default to the component's name as an identifier.
    assert_eq!(c.bootstrap.initdb.database, "orders_db");
    assert_eq!(c.bootstrap.initdb.owner, "orders_db");
    assert_eq!(c.bootstrap.initdb.secret, None);
    assert_eq!(c.postgresql.parameters["max_connections"], "200");
    assert!(c.monitoring.as_ref().unwrap().enable_pod_monitor);
    assert_eq!(
        c.inherited_metadata.labels["app.kubernetes.io/part-of"],
        "shop"
    );
    let requests = c.resources.as_ref().unwrap().requests.as_ref().unwrap();
    assert_eq!(requests["cpu"].0, "500m");

    // Named credentials go to initdb; names are taken as given.
    let named = SHOP.replace(
        "      pod_monitor: true\n",
        "      pod_monitor: true\n      database: orders\n      owner: orders_app\n      credentials: orders-owner\n",
    );
    let named = named.replace("orders-db-app", "orders-owner");
    let objects = render(&named);
    let initdb = &cluster(&objects).bootstrap.initdb;
    assert_eq!(
        (initdb.database.as_str(), initdb.owner.as_str()),
        ("orders", "orders_app")
    );
    assert_eq!(initdb.secret.as_ref().unwrap().name, "orders-owner");
}

#[test]
fn only_its_callers_peers_and_the_operator_reach_the_database() {
    let objects = render(SHOP);
    let db = policy(&objects, "orders-db");
    assert_eq!(
        db.pod_selector
            .as_ref()
            .unwrap()
            .match_labels
            .as_ref()
            .unwrap()["cnpg.io/cluster"],
        "orders-db"
    );
    // Egress stays open: the instance manager talks to the API server.
    assert_eq!(
        db.policy_types.as_deref(),
        Some(&["Ingress".to_owned()][..])
    );
    let rules = db.ingress.as_ref().unwrap();
    let on = |port: i32| -> Vec<String> {
        rules
            .iter()
            .filter(|r| {
                r.ports.iter().flatten().any(|p| {
                    p.port
                        == Some(
                            k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(port),
                        )
                })
            })
            .flat_map(|r| r.from.iter().flatten())
            .map(|peer| {
                peer.pod_selector
                    .as_ref()
                    .and_then(|s| instance_of(s.match_labels.as_ref()))
                    .or_else(|| {
                        peer.namespace_selector.as_ref().map(|s| {
                            format!(
                                "namespace {}",
                                s.match_labels.as_ref().unwrap()["kubernetes.io/metadata.name"]
                            )
                        })
                    })
                    .unwrap()
            })
            .collect()
    };
    // Its peers (replication) and the one component that connects to it; not `web`.
    assert_eq!(on(5432), ["orders-db", "orders"]);
    assert_eq!(on(8000), ["namespace cnpg-system", "orders-db"]);
    assert_eq!(on(9187), ["namespace monitoring"]);

    // The caller's own policy lets it out to the instances on 5432.
    let orders = policy(&objects, "orders");
    let out: Vec<_> = orders
        .egress
        .iter()
        .flatten()
        .filter(|r| {
            r.to.iter().flatten().any(|p| {
                instance_of(
                    p.pod_selector
                        .as_ref()
                        .and_then(|s| s.match_labels.as_ref()),
                )
                .as_deref()
                    == Some("orders-db")
            })
        })
        .flat_map(|r| r.ports.iter().flatten())
        .map(|p| format!("{:?}", p.port.as_ref().unwrap()))
        .collect();
    assert_eq!(out, ["Int(5432)"]);
}

#[test]
fn the_quota_counts_the_instances_claims_and_resources() {
    // Two instances at 500m each and two services at 100m: 1.2 CPU; 1 is too little.
    let tight = SHOP.replace("requests_cpu: \"2\"", "requests_cpu: \"1\"");
    let env = load_str(&tight, "shop.yaml").unwrap();
    let err = pipeline::objects(&env, "shop").unwrap_err().to_string();
    assert!(
        err.contains("spec.hard.requests.cpu") && err.contains("1200m"),
        "{err}"
    );
    // Two instances, a claim each: one claim allowed is too few.
    let tight = SHOP.replace("persistent_volume_claims: 3", "persistent_volume_claims: 1");
    let env = load_str(&tight, "shop.yaml").unwrap();
    let err = pipeline::objects(&env, "shop").unwrap_err().to_string();
    assert!(err.contains("persistentvolumeclaims"), "{err}");
}

#[test]
fn what_the_operator_would_refuse_is_refused_at_its_setting() {
    let cases = [
        (
            "      instances: 2\n",
            "      instances: 0\n",
            "components.orders-db.postgres.instances",
            "at least one instance",
        ),
        (
            "      pod_monitor: true\n",
            "      pod_monitor: true\n      database: Orders-DB\n",
            "components.orders-db.postgres.database",
            "is not a PostgreSQL name",
        ),
        (
            "      pod_monitor: true\n",
            "      pod_monitor: true\n      owner: postgres\n",
            "components.orders-db.postgres.owner",
            "the superuser",
        ),
        (
            "{max_connections: \"200\"}",
            "{listen_addresses: \"*\"}",
            "components.orders-db.postgres.parameters.listen_addresses",
            "set by CloudNativePG itself",
        ),
        (
            "DATABASE_URL: uri",
            "DATABASE_URL: url",
            "components.orders.deployment.secrets[0].env.DATABASE_URL",
            "reads key `url` of `orders-db-app`, which CloudNativePG does not write",
        ),
        (
            "      connects_to: [orders-db]\n",
            "",
            "components.orders.deployment.secrets[0]",
            "neither `depends_on` nor `connects_to` lists it",
        ),
        (
            "      pod_monitor: true\n",
            "      pod_monitor: true\n      replicas: 3\n",
            "components.orders-db.postgres",
            "replicas",
        ),
    ];
    for (from, to, setting, says) in cases {
        common::assert_refused_after(SHOP, from, to, setting, says);
    }
}

#[test]
fn sizing_sets_instances_and_storage_and_refuses_what_a_database_lacks() {
    let dir = tempfile::tempdir().unwrap();
    let components = r#"
components:
  db:
    postgres:
      storage: {size: 1Gi}
"#;
    std::fs::write(dir.path().join("components.yaml"), components).unwrap();
    let load = |sizing: &str| {
        let file = dir.path().join("env.yaml");
        std::fs::write(
            &file,
            format!("namespace: a\ninclude: components.yaml\nsizing:\n  db: {sizing}\n"),
        )
        .unwrap();
        pipeline::load_file(&file)
    };
    let env =
        load("{replicas: 3, size: 20Gi, storage_class: ssd}").unwrap_or_else(|e| panic!("{e}"));
    let objects = pipeline::objects(&env, "a").unwrap().objects;
    let c = cluster(&objects);
    assert_eq!(
        (
            c.instances,
            c.storage.size.as_str(),
            c.storage.storage_class.as_deref()
        ),
        (3, "20Gi", Some("ssd"))
    );
    let err = load("{autoscaling: {min_replicas: 1, max_replicas: 2}}")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("sizing.db.autoscaling") && err.contains("`postgres` database"),
        "{err}"
    );
}

#[test]
fn an_egress_to_another_applications_namespace_selects_its_pods() {
    let yaml = SHOP.replace(
        "      connects_to: [orders]\n",
        "      connects_to: [orders]\n      network_policy:\n        extra_egress:\n          - {namespace: events, pod_labels: {app.kubernetes.io/name: redis}, tcp_ports: [6379]}\n",
    );
    let objects = render(&yaml);
    let web = policy(&objects, "web");
    let rule = web
        .egress
        .iter()
        .flatten()
        .find(|r| {
            r.to.iter()
                .flatten()
                .any(|p| p.namespace_selector.is_some() && p.pod_selector.is_some())
                && r.ports.iter().flatten().count() == 1
        })
        .expect("an egress to the events namespace");
    let peer = &rule.to.as_ref().unwrap()[0];
    assert_eq!(
        peer.namespace_selector
            .as_ref()
            .unwrap()
            .match_labels
            .as_ref()
            .unwrap()["kubernetes.io/metadata.name"],
        "events"
    );
    assert_eq!(
        peer.pod_selector
            .as_ref()
            .unwrap()
            .match_labels
            .as_ref()
            .unwrap()["app.kubernetes.io/name"],
        "redis"
    );
    for (rule, says) in [
        (
            "{cidr: 10.0.0.0/8, namespace: events}",
            "gives both `cidr` and `namespace`",
        ),
        ("{tcp_ports: [6379]}", "gives no destination"),
    ] {
        let bad = SHOP.replace(
            "      connects_to: [orders]\n",
            &format!("      connects_to: [orders]\n      network_policy:\n        extra_egress: [{rule}]\n"),
        );
        let err = load_str(&bad, "shop.yaml").unwrap_err().to_string();
        assert!(
            err.contains("components.web.deployment.network_policy.extra_egress[0]")
                && err.contains(says),
            "{err}"
        );
    }
}

#[test]
fn the_alice_multiverse_example_passes_the_schemas_and_the_real_crd() {
    let catalog = Catalog::new(common::root().join("examples/alice-multiverse/environments"));
    let names = catalog.names().unwrap();
    assert_eq!(names, ["assets", "events", "interface", "quality"]);
    let mut args = vec![PathBuf::from("--crds"), common::shared_crds()];
    args.extend(names.iter().map(|n| catalog.resolve(n).unwrap().path));
    let (out, text) = common::gen_check(&args);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("all 4 environment(s) passed"), "{text}");
    // Each service namespace has its database, checked against the CRD.
    assert_eq!(
        text.matches("custom resources: ok (1 checked against their CRDs)")
            .count(),
        3,
        "{text}"
    );
}
