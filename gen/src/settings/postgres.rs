//! Settings of the `postgres` component: a PostgreSQL database run by the CloudNativePG
//! operator. The generator emits the operator's `Cluster`; the operator makes the pods,
//! their claims, the Services `<name>-rw`, `-ro`, `-r` and the Secret `<name>-app`.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::image::PinnedImage;
use super::{Bytes, DnsLabel, DnsSubdomain, Resources};

/// The port PostgreSQL serves on, in every CloudNativePG instance.
pub const POSTGRES_PORT: u16 = 5432;

/// The keys CloudNativePG writes into the `<name>-app` Secret it generates for the owner
/// (its `pkg/specs/secrets.go`).
pub const APP_SECRET_KEYS: [&str; 11] = [
    "username",
    "user",
    "password",
    "dbname",
    "host",
    "port",
    "pgpass",
    "uri",
    "jdbc-uri",
    "fqdn-uri",
    "fqdn-jdbc-uri",
];

/// A PostgreSQL database of one component, as a CloudNativePG `Cluster`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Postgres {
    /// PostgreSQL instances: one primary, the others streaming replicas that take over
    /// when it fails. Default `1`.
    #[serde(default = "one")]
    pub instances: u32,
    /// The PostgreSQL image (`imageName`), pinned. Absent: the operator's default, which
    /// changes when the operator is upgraded.
    #[serde(default)]
    pub image: Option<PinnedImage>,
    /// Each instance's volume. Required.
    pub storage: PostgresStorage,
    /// CPU and memory of each instance. Absent: none set (the operator's default).
    #[serde(default)]
    pub resources: Option<Resources>,
    /// `postgresql.conf` parameters, e.g. `max_connections: "200"`. Default none.
    #[serde(default)]
    pub parameters: BTreeMap<String, String>,
    /// The application database created at bootstrap (a PostgreSQL identifier: lowercase
    /// letters, digits and `_`). Default: the component's name with `-` as `_`.
    #[serde(default)]
    pub database: Option<String>,
    /// The role that owns it. Default: the database's name.
    #[serde(default)]
    pub owner: Option<String>,
    /// A Secret (created outside the generator, `kubernetes.io/basic-auth`: `username`
    /// and `password`) with the owner's credentials. Absent: the operator generates them
    /// into `<name>-app`, which pods read with `secrets`.
    #[serde(default)]
    pub credentials: Option<DnsSubdomain>,
    /// A PodMonitor for the instances' metrics (needs the Prometheus operator).
    /// Default `false`.
    #[serde(default)]
    pub pod_monitor: bool,
    /// Namespace of the CloudNativePG operator, which the instances admit on their status
    /// port. Default `cnpg-system`.
    #[serde(default = "default_operator_namespace")]
    pub operator_namespace: DnsLabel,
    /// Namespace of Prometheus, admitted on the metrics port when `pod_monitor` is on.
    /// Default `monitoring`.
    #[serde(default = "default_prometheus_namespace")]
    pub prometheus_namespace: DnsLabel,
}

fn default_operator_namespace() -> DnsLabel {
    DnsLabel::new("cnpg-system").unwrap_or_else(|e| unreachable!("a valid label: {e}"))
}

fn default_prometheus_namespace() -> DnsLabel {
    DnsLabel::new("monitoring").unwrap_or_else(|e| unreachable!("a valid label: {e}"))
}

const fn one() -> u32 {
    1
}

/// The volume of each instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PostgresStorage {
    /// Requested size, e.g. `5Gi`. Required.
    pub size: Bytes,
    /// StorageClass; absent: the environment's `storage_class`, else the cluster's default.
    #[serde(default)]
    pub storage_class: Option<DnsSubdomain>,
}

impl Postgres {
    /// The application database's name for component `name`.
    #[must_use]
    pub fn database_name(&self, name: &str) -> String {
        self.database
            .clone()
            .unwrap_or_else(|| name.replace('-', "_"))
    }

    /// The owner role's name for component `name`.
    #[must_use]
    pub fn owner_name(&self, name: &str) -> String {
        self.owner
            .clone()
            .unwrap_or_else(|| self.database_name(name))
    }

    /// Name of the Secret that holds the owner's credentials.
    #[must_use]
    pub fn app_secret(&self, name: &str) -> String {
        self.credentials
            .as_ref()
            .map_or_else(|| format!("{name}-app"), ToString::to_string)
    }
}
