//! Settings of the `deployment` and `stateful_set` components: a container image we did
//! not write, run as a Deployment or a StatefulSet. Nothing comes from a contract here, so
//! everything the pod needs (ports, probe paths, writable folders, user) is said in the
//! settings and checked.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::image::PinnedImage;
use super::pod::PodSettings;
use super::{
    AccessMode, Autoscaling, Bytes, Dependency, DisruptionBudget, DnsLabel, DnsSubdomain,
    EnvVarName, IngressSettings, NetworkPolicySettings, Probes, Resources, SecretRef,
    ServiceSettings, Spread,
};

/// Declares one container kind's settings: the fields every container kind shares (listed
/// once, in [`with_shared_fields`]) followed by the kind's own, with `deny_unknown_fields`
/// (which serde's `flatten` would switch off), and [`container`](ContainerDeployment) to
/// read the shared part as a `deployment`'s settings.
macro_rules! container_kind {
    (
        shared { $($(#[$sm:meta])* $sf:ident: $st:ty,)* }
        $(#[$m:meta])*
        pub struct $name:ident { $($(#[$fm:meta])* $f:ident: $t:ty,)* }
    ) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            $($(#[$sm])* pub $sf: $st,)*
            $($(#[$fm])* pub $f: $t,)*
        }

        impl $name {
            /// The shared settings, as a `deployment` component's.
            #[must_use]
            pub fn container(&self) -> ContainerDeployment {
                ContainerDeployment { $($sf: self.$sf.clone(),)* }
            }

            /// The settings every pod-owning kind has.
            #[must_use]
            pub fn pod(&self) -> PodSettings<'_> {
                PodSettings {
                    replicas: self.replicas,
                    autoscaling: self.autoscaling.as_ref(),
                    resources: &self.resources,
                    service: &self.service,
                    ingress: self.ingress.as_ref(),
                    disruption_budget: self.disruption_budget.as_ref(),
                    data_claim: None,
                    data_claim_key: "",
                    network_policy: &self.network_policy,
                    spread: &self.spread,
                    probes: &self.probes,
                    pre_stop_sleep_seconds: self.pre_stop_sleep_seconds,
                    secrets: &self.secrets,
                    connects_to: &self.connects_to,
                    depends_on: &self.depends_on,
                    monitoring: None,
                }
            }
        }
    };
}

/// Calls `container_kind!` with the shared fields.
macro_rules! with_shared_fields {
    ($($kind:tt)*) => {
        container_kind! {
            shared {
                /// The image, pinned by tag or digest. Required.
                image: PinnedImage,
                /// Entrypoint. Default: the image's own.
                #[serde(default)]
                command: Vec<String>,
                /// Arguments. Default: the image's own.
                #[serde(default)]
                args: Vec<String>,
                /// ConfigMaps whose keys become environment variables (emitted here, such as
                /// another component's `<name>-config`, or listed under `external.config_maps`).
                /// Default none.
                #[serde(default)]
                config_maps: Vec<ConfigMapEnv>,
                /// Environment variables with literal values; values from Secrets go under `secrets`.
                /// Default none.
                #[serde(default)]
                env: BTreeMap<EnvVarName, String>,
                /// The container port that serves the API and the probes (named `http`). Required.
                port: u16,
                /// What `port` speaks, for meshes and proxies (the Service's `appProtocol`):
                /// `http`, `http2`, `grpc`, or `tcp` for anything else (a database's or a
                /// broker's own protocol), which leaves `appProtocol` unset. Default `http`.
                #[serde(default)]
                app_protocol: AppProtocol,
                /// Further ports the container listens on, by name (at most 15 lowercase
                /// letters, digits and `-`, e.g. `bolt`): declared on the container, served by
                /// the Service under the same name and number, and open to the components
                /// that connect to this one. Default none.
                #[serde(default)]
                ports: BTreeMap<String, u16>,
                /// HTTP paths of the probes, on `port`. Required.
                health: HealthPaths,
                /// Configuration files, shipped in a ConfigMap `<name>-config` and mounted read-only
                /// in `mount_dir`; a change to any file rolls the pods (the pod template carries their
                /// checksum). Absent: none.
                #[serde(default)]
                config_files: Option<ConfigFilesSettings>,
                /// Shared volumes (the application's `volumes`) this component mounts. Default none.
                #[serde(default)]
                volumes: Vec<VolumeMountSettings>,
                /// Folders the process writes, each an emptyDir, so the root filesystem stays
                /// read-only (`/tmp` always is one). Absolute paths. Default none.
                #[serde(default)]
                writable_dirs: Vec<String>,
                /// Numeric user and group the process runs as; never root. Default `1000`/`1000`.
                #[serde(default)]
                run_as: RunAs,
                /// Seconds the process needs after SIGTERM to finish its work. Default `20`.
                #[serde(default = "default_drain_seconds")]
                drain_seconds: u32,
                /// Fixed replica count. Only without `autoscaling`. Default `1`.
                #[serde(default)]
                replicas: Option<u32>,
                /// HorizontalPodAutoscaler. Absent: no autoscaling.
                #[serde(default)]
                autoscaling: Option<Autoscaling>,
                /// CPU and memory of the container. Default: 1 CPU / 2Gi requested, 2 CPU / 4Gi limit.
                #[serde(default)]
                resources: Resources,
                /// The Service in front of the pods. Default: ClusterIP on port 80.
                #[serde(default)]
                service: ServiceSettings,
                /// Ingress. Absent: none.
                #[serde(default)]
                ingress: Option<IngressSettings>,
                /// PodDisruptionBudget. Absent: none.
                #[serde(default)]
                disruption_budget: Option<DisruptionBudget>,
                /// NetworkPolicy. Default: on, admitting the ingress controller only, egress DNS only.
                #[serde(default)]
                network_policy: NetworkPolicySettings,
                /// How replicas spread over nodes. Default: prefer different nodes.
                #[serde(default)]
                spread: Spread,
                /// Components this one calls: its NetworkPolicy lets its pods reach theirs on their API
                /// port, and theirs admit it. Default none.
                #[serde(default)]
                connects_to: Vec<DnsLabel>,
                /// Components this one needs before it can serve, each on one port
                /// (`{component: db, port: 5432}`) or all: opened in both NetworkPolicies
                /// like `connects_to`, and ordered by `sync_waves`. Default none.
                #[serde(default)]
                depends_on: Vec<Dependency>,
                /// Probe timings. Defaults on each probe.
                #[serde(default)]
                probes: Probes,
                /// Seconds the pod keeps serving after it is told to stop. Default `10`.
                #[serde(default = "default_pre_stop_sleep")]
                pre_stop_sleep_seconds: u32,
                /// Secrets the pods read (created outside the generator). Default none.
                #[serde(default)]
                secrets: Vec<SecretRef>,
            }
            $($kind)*
        }
    };
}

with_shared_fields! {
    /// A container of someone else's image, its Deployment, Service and policies.
    pub struct ContainerDeployment {}
}

with_shared_fields! {
    /// A container of someone else's image run as a StatefulSet: each pod keeps its name
    /// (`<name>-0`, `<name>-1`, ...), its own claims and its DNS name through a headless
    /// Service `<name>-headless`, as databases and brokers need.
    pub struct ContainerStatefulSet {
        /// Volumes each pod gets a claim of its own of (volumeClaimTemplates), by name;
        /// they outlive the pods and scale-downs. Default none.
        #[serde(default)]
        volume_claims: BTreeMap<DnsLabel, ClaimTemplate>,
        /// How pods start and stop: `ordered` (one at a time, each ready before the next,
        /// as clustered stores expect) or `parallel`. Default `ordered`.
        #[serde(default)]
        pod_management: PodManagement,
    }
}

/// Environment variables from one ConfigMap.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfigMapEnv {
    /// Name of the ConfigMap in the environment's namespace. Required.
    pub name: DnsSubdomain,
    /// Variables filled from single keys: variable name to key. Default none.
    #[serde(default)]
    pub env: BTreeMap<EnvVarName, String>,
    /// Every key of the ConfigMap as a variable of the same name (`envFrom`). Default
    /// `false`.
    #[serde(default)]
    pub all_keys: bool,
}

/// What a port speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AppProtocol {
    /// HTTP/1.1.
    #[default]
    Http,
    /// HTTP/2 in clear text.
    Http2,
    /// gRPC.
    Grpc,
    /// Another protocol over TCP.
    Tcp,
}

impl AppProtocol {
    /// The Service port's `appProtocol`; `None` for plain TCP.
    #[must_use]
    pub const fn service_value(self) -> Option<&'static str> {
        match self {
            AppProtocol::Http => Some("http"),
            AppProtocol::Http2 => Some("kubernetes.io/h2c"),
            AppProtocol::Grpc => Some("grpc"),
            AppProtocol::Tcp => None,
        }
    }
}

/// A claim each pod of a StatefulSet gets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimTemplate {
    /// Absolute folder it appears in. Required.
    pub path: String,
    /// Requested size, e.g. `10Gi`. Required.
    pub size: Bytes,
    /// StorageClass; absent: the environment's `storage_class`, else the cluster's default.
    #[serde(default)]
    pub storage_class: Option<DnsSubdomain>,
    /// Access mode. Default `ReadWriteOnce` (each pod has its own claim).
    #[serde(default = "read_write_once")]
    pub access_mode: AccessMode,
}

const fn read_write_once() -> AccessMode {
    AccessMode::ReadWriteOnce
}

/// `podManagementPolicy` of a StatefulSet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PodManagement {
    /// One pod at a time, in order, each ready before the next (`OrderedReady`).
    #[default]
    Ordered,
    /// All at once (`Parallel`).
    Parallel,
}

const fn default_drain_seconds() -> u32 {
    20
}

const fn default_pre_stop_sleep() -> u32 {
    10
}

/// One of the application's shared volumes, mounted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VolumeMountSettings {
    /// Name of the volume under the application's `volumes`. Required.
    pub volume: DnsLabel,
    /// Absolute folder it appears in. Required.
    pub path: String,
    /// Whether this component only reads it. Default `false`.
    #[serde(default)]
    pub read_only: bool,
}

/// Files of a ConfigMap and where they appear.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfigFilesSettings {
    /// Absolute folder the files appear in (read-only). Required.
    pub mount_dir: String,
    /// File name to contents. At least one. Required.
    pub files: BTreeMap<String, String>,
}

/// What the kubelet probes: `{http: /path}` (a GET on `port`), `tcp` (a connection to
/// `port`) or `{exec: [command, args...]}` (run in the container; exit 0 is healthy).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HealthPaths {
    /// Start-up probe: until it succeeds, liveness waits. Absent: none.
    #[serde(default)]
    pub startup: Option<ProbeCheck>,
    /// Liveness: a failure restarts the container. Required.
    pub liveness: ProbeCheck,
    /// Readiness: a failure takes the pod out of its Services. Required.
    pub readiness: ProbeCheck,
}

/// One probe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ProbeCheck {
    /// `GET` of this path on `port`; 2xx and 3xx are healthy.
    Http(String),
    /// A TCP connection to `port`.
    Tcp,
    /// A command run in the container (no shell unless you name one).
    Exec(Vec<String>),
}

/// A numeric user and group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct RunAs {
    /// User id, at least 1. Default `1000`.
    pub user: i64,
    /// Group id, at least 1. Default `1000`.
    pub group: i64,
}

impl Default for RunAs {
    fn default() -> Self {
        RunAs {
            user: 1000,
            group: 1000,
        }
    }
}
