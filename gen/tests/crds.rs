//! Custom resources against the real upstream CRDs in `../shared/crds/` (read there, never
//! copied into the repository): a valid resource passes, a typo the API server would prune
//! is refused with its path, a kind without a CRD is an error unless skipped by name.

mod common;

use akidb_gen::crds::CrdCatalog;
use common::shared_crds;
use serde_json::{Value, json};

fn cluster(spec: Value) -> Value {
    json!({
        "apiVersion": "postgresql.cnpg.io/v1",
        "kind": "Cluster",
        "metadata": {"name": "db", "namespace": "shop"},
        "spec": spec,
    })
}

fn valid_cluster() -> Value {
    cluster(json!({
        "instances": 3,
        "storage": {"size": "10Gi", "storageClass": "standard"},
        "bootstrap": {"initdb": {"database": "app", "owner": "app", "secret": {"name": "db-app"}}},
        "postgresql": {"parameters": {"max_connections": "200"}},
        "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}},
    }))
}

fn service_monitor() -> Value {
    json!({
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": {"name": "embed", "namespace": "shop"},
        "spec": {
            "selector": {"matchLabels": {"app.kubernetes.io/name": "akidb-embed"}},
            "endpoints": [{"port": "metrics", "path": "/metrics", "interval": "30s"}],
        },
    })
}

#[test]
fn valid_custom_resources_pass_and_built_in_kinds_are_left_alone() {
    let catalog = CrdCatalog::load(&shared_crds()).unwrap();
    assert!(
        catalog
            .kinds()
            .any(|(v, k)| v == "postgresql.cnpg.io/v1" && k == "Cluster"),
        "{catalog:?}"
    );
    let namespace = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}});
    let docs = [namespace, valid_cluster(), service_monitor()];
    assert_eq!(catalog.check(&docs, &[]), vec![]);
}

#[test]
fn pruned_fields_and_wrong_types_are_refused_with_their_path() {
    let catalog = CrdCatalog::load(&shared_crds()).unwrap();
    let mut typo = valid_cluster();
    typo["spec"]["instancez"] = json!(3);
    let found = catalog.check(&[typo], &[]);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].field, "/spec");
    assert!(found[0].message.contains("instancez"), "{found:#?}");
    assert_eq!(found[0].object, "postgresql.cnpg.io/v1/Cluster db");

    let mut wrong = valid_cluster();
    wrong["spec"]["instances"] = json!("three");
    let found = catalog.check(&[wrong], &[]);
    assert!(
        found.iter().any(|v| v.field == "/spec/instances"),
        "{found:#?}"
    );

    let mut nested = service_monitor();
    nested["spec"]["endpoints"][0]["portt"] = json!("metrics");
    let found = catalog.check(&[nested], &[]);
    assert!(
        found
            .iter()
            .any(|v| v.field == "/spec/endpoints/0" && v.message.contains("portt")),
        "{found:#?}"
    );
}

#[test]
fn a_kind_without_a_crd_is_an_error_unless_skipped() {
    let catalog = CrdCatalog::load(&shared_crds()).unwrap();
    let widget =
        json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}});
    let found = catalog.check(std::slice::from_ref(&widget), &[]);
    assert_eq!(found.len(), 1);
    assert!(found[0].message.contains("--skip-crd Widget"), "{found:#?}");
    assert_eq!(catalog.check(&[widget], &["Widget".to_owned()]), vec![]);
}

/// `kubectl get crd -o yaml` prints a `List`; that is a CRD folder's file too.
#[test]
fn a_kubectl_list_of_crds_loads() {
    let text =
        std::fs::read_to_string(shared_crds().join("postgresql.cnpg.io_clusters.yaml")).unwrap();
    let crd: Value = serde_saphyr::from_str(&text).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let list = json!({"apiVersion": "v1", "kind": "List", "items": [crd]});
    std::fs::write(dir.path().join("crds.json"), list.to_string()).unwrap();
    let catalog = CrdCatalog::load(dir.path()).unwrap();
    assert_eq!(catalog.check(&[valid_cluster()], &[]), vec![]);
    let empty = tempfile::tempdir().unwrap();
    let err = CrdCatalog::load(empty.path()).unwrap_err().to_string();
    assert!(err.contains("holds no CustomResourceDefinition"), "{err}");
}
