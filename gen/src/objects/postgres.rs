//! CloudNativePG: the `Cluster` of a `postgres` component, typed (the fields the generator
//! sets), and the NetworkPolicy that fences its instances off from all but their callers,
//! their peers and the operator.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyIngressRule, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use serde::{Deserialize, Serialize};

use super::deployment::cpu_memory;
use super::int;
use super::network_policy::{namespace_peer, pod_peer, tcp_port};
use crate::custom::{CustomKind, CustomResource};
use crate::settings::image::Tag;
use crate::workload::Database;

/// Port of each instance's manager, which the operator polls for status.
pub const INSTANCE_STATUS_PORT: u16 = 8000;
/// Port of each instance's Prometheus exporter.
pub const INSTANCE_METRICS_PORT: u16 = 9187;

/// `spec` of a CloudNativePG `Cluster` (the fields this generator sets).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterSpec {
    /// Instances: one primary and streaming replicas.
    pub instances: i32,
    /// PostgreSQL image; absent: the operator's default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_name: Option<String>,
    /// Labels the operator copies onto everything it makes for the cluster.
    pub inherited_metadata: InheritedMetadata,
    /// Each instance's volume.
    pub storage: Storage,
    /// Each instance's CPU and memory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// `postgresql.conf`.
    pub postgresql: PostgresConfiguration,
    /// How the cluster is created.
    pub bootstrap: Bootstrap,
    /// Metrics.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monitoring: Option<Monitoring>,
}

impl CustomKind for ClusterSpec {
    const API_VERSION: &'static str = "postgresql.cnpg.io/v1";
    const GROUP: &'static str = "postgresql.cnpg.io";
    const VERSION: &'static str = "v1";
    const KIND: &'static str = "Cluster";
    const PLURAL: &'static str = "clusters";
}

/// `inheritedMetadata`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InheritedMetadata {
    /// Labels.
    pub labels: BTreeMap<String, String>,
}

/// `storage`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Storage {
    /// Size, as a quantity.
    pub size: String,
    /// StorageClass; absent: the cluster's default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage_class: Option<String>,
}

/// `postgresql`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PostgresConfiguration {
    /// Parameters.
    pub parameters: BTreeMap<String, String>,
}

/// `bootstrap`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bootstrap {
    /// A new, empty cluster.
    pub initdb: InitDb,
}

/// `bootstrap.initdb`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InitDb {
    /// The application database.
    pub database: String,
    /// Its owner role.
    pub owner: String,
    /// The owner's credentials; absent: generated into `<name>-app`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<SecretName>,
}

/// A reference to a Secret by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecretName {
    /// Its name.
    pub name: String,
}

/// `monitoring`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Monitoring {
    /// Whether the operator creates a PodMonitor.
    pub enable_pod_monitor: bool,
}

/// Builds the `Cluster` of `db`.
#[must_use]
pub fn build(db: &Database<'_>) -> CustomResource<ClusterSpec> {
    let s = db.settings;
    let name = db.name.as_str();
    // The load stage requires a tag or a digest, so this default is never used.
    let no_tag = Tag::new("unpinned").unwrap_or_else(|e| unreachable!("a valid tag: {e}"));
    CustomResource::new(
        meta(db),
        ClusterSpec {
            instances: int(s.instances),
            image_name: s.image.as_ref().map(|i| i.to_image().reference(&no_tag)),
            inherited_metadata: InheritedMetadata {
                labels: db.labels(),
            },
            storage: Storage {
                size: s.storage.size.to_quantity().0,
                storage_class: s
                    .storage
                    .storage_class
                    .as_ref()
                    .or(db.app.storage_class.as_ref())
                    .map(ToString::to_string),
            },
            resources: s.resources.as_ref().map(|r| ResourceRequirements {
                requests: Some(cpu_memory(&r.requests)),
                limits: Some(cpu_memory(&r.limits)),
                ..ResourceRequirements::default()
            }),
            postgresql: PostgresConfiguration {
                parameters: s.parameters.clone(),
            },
            bootstrap: Bootstrap {
                initdb: InitDb {
                    database: s.database_name(name),
                    owner: s.owner_name(name),
                    secret: s.credentials.as_ref().map(|c| SecretName {
                        name: c.to_string(),
                    }),
                },
            },
            monitoring: s.pod_monitor.then_some(Monitoring {
                enable_pod_monitor: true,
            }),
        },
    )
}

/// The instances admit PostgreSQL connections from their callers and from each other
/// (replication), the operator on the status port, and Prometheus on the metrics port when
/// the PodMonitor is on. Egress stays open: the instance manager talks to the API server.
#[must_use]
pub fn network_policy(db: &Database<'_>) -> NetworkPolicy {
    let s = db.settings;
    let mut peers = vec![pod_peer(&db.selector_labels())];
    peers.extend(db.callers.iter().map(pod_peer));
    let mut ingress = vec![
        NetworkPolicyIngressRule {
            from: Some(peers),
            ports: Some(vec![tcp_port(db.port())]),
        },
        NetworkPolicyIngressRule {
            from: Some(vec![
                namespace_peer(s.operator_namespace.as_str()),
                pod_peer(&db.selector_labels()),
            ]),
            ports: Some(vec![tcp_port(INSTANCE_STATUS_PORT)]),
        },
    ];
    if s.pod_monitor {
        ingress.push(NetworkPolicyIngressRule {
            from: Some(vec![namespace_peer(s.prometheus_namespace.as_str())]),
            ports: Some(vec![tcp_port(INSTANCE_METRICS_PORT)]),
        });
    }
    NetworkPolicy {
        metadata: meta(db),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector {
                match_labels: Some(db.selector_labels()),
                ..LabelSelector::default()
            }),
            policy_types: Some(vec!["Ingress".to_owned()]),
            ingress: Some(ingress),
            egress: None,
        }),
    }
}

/// Metadata of the objects the generator emits for `db`.
fn meta(db: &Database<'_>) -> ObjectMeta {
    ObjectMeta {
        name: Some(db.name.to_string()),
        namespace: Some(db.app.namespace.to_string()),
        labels: Some(db.labels()),
        annotations: super::sync_wave(db.app, db.name),
        ..ObjectMeta::default()
    }
}
