//! Per-environment settings: the typed form of `environments/<name>.yaml`.
//!
//! Every struct refuses unknown keys, every choice is an enum, and every default lives
//! here, documented where it is declared, so an environment file holds only what differs.

pub mod akidb_embed;
pub mod blue_green;
pub mod check;
pub mod container;
pub mod image;
pub mod include;
pub mod load;
pub mod messages;
pub mod models;
pub mod names;
pub mod objectives;
pub mod pod;
pub mod postgres;
pub mod quantity;

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use self::akidb_embed::AkidbEmbed;
pub use self::check::{Problem, check};
pub use self::image::{Image, PullPolicy};
pub use self::load::{LoadError, SyntaxError, parse_components, parse_str, read_file};
pub use self::names::{Cidr, DnsLabel, DnsSubdomain, EnvVarName, Host, SecretKey};
pub use self::quantity::{Bytes, Cpu};

/// One environment of an application: the namespace-level settings and its components.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "gen environment")]
pub struct Environment {
    /// Namespace of every object; each environment needs its own. Required.
    pub namespace: DnsLabel,
    /// The application every object belongs to (`app.kubernetes.io/part-of`). Default: the
    /// namespace.
    #[serde(default)]
    pub part_of: Option<DnsLabel>,
    /// StorageClass of every claim that names none. Absent: the cluster's default class.
    #[serde(default)]
    pub storage_class: Option<DnsSubdomain>,
    /// A components file (path relative to this file) whose `components` this environment
    /// runs too, so environments share them without copying. Absent: none.
    #[serde(default)]
    pub include: Option<String>,
    /// The application's parts, by name (a DNS label; it names their objects). Each is
    /// one kind, written as the only key under its name: `akidb_embed` (this repository's
    /// embedding server), `deployment` (any other container image), `stateful_set` (one
    /// whose pods keep their names and claims) or `postgres` (a CloudNativePG database).
    /// Default none.
    #[serde(default)]
    pub components: BTreeMap<DnsLabel, Component>,
    /// Sizes for included components, by name: each given field replaces the component's
    /// own, whole (no merging inside it). A name that no component has is an error.
    /// Default none.
    #[serde(default)]
    pub sizing: BTreeMap<DnsLabel, Sizing>,
    /// ResourceQuota for the namespace. Absent: no quota.
    #[serde(default)]
    pub resource_quota: Option<ResourceQuota>,
    /// Volumes several components share, by name (a PersistentVolumeClaim of that name);
    /// a component mounts one under its `volumes`. Default none.
    #[serde(default)]
    pub volumes: BTreeMap<DnsLabel, SharedVolume>,
    /// Objects that pods may reference although this environment does not emit them
    /// (e.g. added by a kustomize overlay). Default none.
    #[serde(default)]
    pub external: External,
    /// Cross-object rules this environment is exempt from, each with its reason.
    /// Default none.
    #[serde(default)]
    pub waivers: Vec<Waiver>,
    /// Annotate every component's objects with an Argo CD sync wave from `depends_on`
    /// (`argocd.argoproj.io/sync-wave`: 0 for what depends on nothing, one more than its
    /// deepest dependency otherwise), so Argo CD applies dependencies first. Default
    /// `false`.
    #[serde(default)]
    pub sync_waves: bool,
    /// One Ingress (named after `part_of`) routing paths of shared hosts to several
    /// components, e.g. `/api/search` to `search` and `/` to `web`. Absent: none (each
    /// component may still have an Ingress of its own).
    #[serde(default)]
    pub ingress_routes: Option<IngressRoutes>,
}

/// Paths of shared hosts, each routed to a component's Service (its `http` port).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IngressRoutes {
    /// IngressClass to use. Default `nginx`.
    #[serde(default = "default_ingress_class")]
    pub class_name: DnsSubdomain,
    /// Host to its paths, each path (a prefix, starting with `/`) to the component that
    /// serves it. Required.
    pub hosts: BTreeMap<Host, BTreeMap<String, DnsLabel>>,
    /// TLS for every host. Absent: plain HTTP.
    #[serde(default)]
    pub tls: Option<IngressTls>,
}

impl Environment {
    /// `app.kubernetes.io/part-of` of every object.
    #[must_use]
    pub fn part_of(&self) -> &DnsLabel {
        self.part_of.as_ref().unwrap_or(&self.namespace)
    }

    /// The Argo CD sync wave of component `name`: 0 when it depends on nothing, else one
    /// more than its deepest dependency (a cycle, which the load stage refuses, stops at
    /// the number of components).
    #[must_use]
    pub fn sync_wave(&self, name: &DnsLabel) -> u32 {
        fn depth(env: &Environment, name: &DnsLabel, budget: usize) -> u32 {
            let deps = env
                .components
                .get(name)
                .and_then(Component::pod)
                .map(|p| p.depends_on.to_vec())
                .unwrap_or_default();
            if budget == 0 {
                return 0;
            }
            deps.iter()
                .map(|d| 1 + depth(env, &d.component, budget - 1))
                .max()
                .unwrap_or(0)
        }
        depth(self, name, self.components.len())
    }

    /// Every `akidb_embed` component, with its name.
    pub fn akidb_embeds(&self) -> impl Iterator<Item = (&DnsLabel, &AkidbEmbed)> {
        self.components.iter().filter_map(|(name, c)| match c {
            Component::AkidbEmbed(s) => Some((name, s.as_ref())),
            Component::Deployment(_) | Component::StatefulSet(_) | Component::Postgres(_) => None,
        })
    }
}

/// One part of an application, tagged by its kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Component {
    /// The akidb-embed server of this repository: ports, probes, command and configuration
    /// from its own contract.
    AkidbEmbed(Box<AkidbEmbed>),
    /// A container image we did not write, as a Deployment: image, command, env, port,
    /// probe paths, writable folders and user all from these settings.
    Deployment(Box<container::ContainerDeployment>),
    /// A container image we did not write, as a StatefulSet: the settings of `deployment`
    /// plus a claim of its own per pod and stable pod names.
    StatefulSet(Box<container::ContainerStatefulSet>),
    /// A PostgreSQL database run by the CloudNativePG operator (a `Cluster`); the operator
    /// makes its pods, the Services `<name>-rw`, `-ro`, `-r` and the Secret `<name>-app`.
    Postgres(Box<postgres::Postgres>),
}

impl Component {
    /// The kind, as written in the file.
    #[must_use]
    pub const fn kind(&self) -> &'static str {
        match self {
            Component::AkidbEmbed(_) => "akidb_embed",
            Component::Deployment(_) => "deployment",
            Component::StatefulSet(_) => "stateful_set",
            Component::Postgres(_) => "postgres",
        }
    }

    /// The settings every pod-owning kind has; `None` for a kind whose pods an operator
    /// makes.
    #[must_use]
    pub fn pod(&self) -> Option<pod::PodSettings<'_>> {
        match self {
            Component::AkidbEmbed(s) => Some(s.pod()),
            Component::Deployment(s) => Some(s.pod()),
            Component::StatefulSet(s) => Some(s.pod()),
            Component::Postgres(_) => None,
        }
    }

    /// The image the component's pods run, when the settings name one.
    #[must_use]
    pub fn image(&self) -> Option<Image> {
        match self {
            Component::AkidbEmbed(s) => Some(s.image.clone()),
            Component::Deployment(s) => Some(s.image.to_image()),
            Component::StatefulSet(s) => Some(s.image.to_image()),
            Component::Postgres(s) => s.image.as_ref().map(image::PinnedImage::to_image),
        }
    }

    /// Every Secret the component's pods read, with the keys they read from it.
    #[must_use]
    pub fn declared_secrets(&self) -> Vec<(String, Vec<String>)> {
        match self {
            Component::AkidbEmbed(s) => s.declared_secrets(),
            Component::Deployment(s) => s.secrets.iter().map(SecretRef::declared).collect(),
            Component::StatefulSet(s) => s.secrets.iter().map(SecretRef::declared).collect(),
            // The operator's pods read these; the generator's pods do not.
            Component::Postgres(_) => Vec::new(),
        }
    }
}

/// What an environment may change of an included component: how many, how big, where.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Sizing {
    /// Fixed replica count (replaces the component's; for `postgres`, its instances).
    pub replicas: Option<u32>,
    /// Autoscaler (replaces the component's).
    pub autoscaling: Option<Autoscaling>,
    /// Requests and limits (replace the component's).
    pub resources: Option<Resources>,
    /// Size of the component's volume (for `akidb_embed`, the model cache; for a
    /// `stateful_set`, its one volume claim).
    pub size: Option<Bytes>,
    /// StorageClass of the component's volume.
    pub storage_class: Option<DnsSubdomain>,
    /// Ingress hosts (replace the component's; it must have an Ingress).
    pub hosts: Option<Vec<Host>>,
}

/// A file of components, shared by several environments through `include`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "gen components file")]
pub struct ComponentsFile {
    /// The components, as under an environment's `components`.
    pub components: BTreeMap<DnsLabel, Component>,
}

/// A namespace ResourceQuota. Every field is optional; only the given ones are limited.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ResourceQuota {
    /// Sum of CPU requests of all pods.
    pub requests_cpu: Option<Cpu>,
    /// Sum of memory requests of all pods.
    pub requests_memory: Option<Bytes>,
    /// Sum of CPU limits of all pods.
    pub limits_cpu: Option<Cpu>,
    /// Sum of memory limits of all pods.
    pub limits_memory: Option<Bytes>,
    /// Number of PersistentVolumeClaims.
    pub persistent_volume_claims: Option<u32>,
}

/// A component another one needs: it is opened to the dependent (on `port`, or every port
/// it serves) and, with `sync_waves`, applied in an earlier wave.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Dependency {
    /// The component depended on. Required.
    pub component: DnsLabel,
    /// The one port of it this component uses (e.g. `5432`). Absent: every port it
    /// serves.
    #[serde(default)]
    pub port: Option<u16>,
}

/// A Secret the pods read, created outside the generator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretRef {
    /// Name of the Secret in the environment's namespace. Required.
    pub name: DnsSubdomain,
    /// Environment variables filled from keys of the Secret: variable name to key.
    /// Default none.
    #[serde(default)]
    pub env: std::collections::BTreeMap<EnvVarName, SecretKey>,
    /// Directory where the Secret's keys appear as files (read-only). Absent: not mounted.
    #[serde(default)]
    pub mount_path: Option<String>,
    /// Every key of the Secret as a variable of the same name (`envFrom`). Default
    /// `false`.
    #[serde(default)]
    pub all_keys: bool,
}

impl SecretRef {
    /// The Secret's name with the keys its variables read (a mounted Secret is read whole).
    #[must_use]
    pub fn declared(&self) -> (String, Vec<String>) {
        (
            self.name.to_string(),
            self.env.values().map(ToString::to_string).collect(),
        )
    }
}

/// Objects a pod may reference that the environment does not emit.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct External {
    /// ConfigMaps created elsewhere.
    pub config_maps: Vec<DnsSubdomain>,
    /// PersistentVolumeClaims created elsewhere.
    pub persistent_volume_claims: Vec<DnsSubdomain>,
    /// ServiceAccounts created elsewhere.
    pub service_accounts: Vec<DnsSubdomain>,
}

/// An exemption from one cross-object rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Waiver {
    /// Rule id, e.g. `pod-read-only-root` (see docs/rules.md). Required.
    pub rule: String,
    /// Why the rule does not apply here; reviewed like code. Required, not empty.
    pub reason: String,
}

/// HorizontalPodAutoscaler settings (autoscaling/v2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Autoscaling {
    /// Fewest replicas. Required.
    pub min_replicas: u32,
    /// Most replicas. Required.
    pub max_replicas: u32,
    /// Average CPU use, in percent of the request, to aim for. Default `70`.
    #[serde(default = "default_cpu_target")]
    pub target_cpu_utilization: u32,
    /// Average memory use, in percent of the request, to aim for; `null` turns the memory
    /// metric off. Default `80`.
    #[serde(default = "default_memory_target")]
    pub target_memory_utilization: Option<u32>,
    /// How fast to add pods. Default: after 60 s, the larger of +50 % or +2 pods a minute.
    #[serde(default = "ScaleUp::default")]
    pub scale_up: ScaleUp,
    /// How fast to remove pods. Default: after 300 s, at most 1 pod every 2 minutes.
    #[serde(default = "ScaleDown::default")]
    pub scale_down: ScaleDown,
    /// Further metrics to scale on, beside CPU and memory: a metric of the pods
    /// (`{pods: {name, average_value}}`) or one from outside the cluster's objects, such
    /// as a queue's length (`{external: {name, selector, value | average_value}}`); both
    /// need a metrics adapter (Prometheus Adapter, KEDA's) in the cluster. Default none.
    #[serde(default)]
    pub metrics: Vec<ScalingMetric>,
}

/// A metric an autoscaler scales on, beside CPU and memory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ScalingMetric {
    /// A metric each pod reports (e.g. requests per second), averaged over the pods.
    Pods(PodsMetric),
    /// A metric of something outside the cluster's objects (e.g. a queue's length).
    External(ExternalMetric),
}

/// A per-pod metric and its target average.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PodsMetric {
    /// The metric's name, as the metrics adapter serves it. Required.
    pub name: String,
    /// Labels that narrow the metric's series. Default none.
    #[serde(default)]
    pub selector: BTreeMap<String, String>,
    /// The average per pod to aim for, a quantity (e.g. `100` or `500m`). Required.
    pub average_value: String,
}

/// An external metric and its target: the total (`value`) or the total per pod
/// (`average_value`); give one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExternalMetric {
    /// The metric's name, as the metrics adapter serves it. Required.
    pub name: String,
    /// Labels that pick the series (e.g. `{topic: documents}`). Default none.
    #[serde(default)]
    pub selector: BTreeMap<String, String>,
    /// The total to aim for, a quantity.
    #[serde(default)]
    pub value: Option<String>,
    /// The total divided by the pods to aim for, a quantity.
    #[serde(default)]
    pub average_value: Option<String>,
}

const fn default_cpu_target() -> u32 {
    70
}

#[allow(clippy::unnecessary_wraps)]
const fn default_memory_target() -> Option<u32> {
    Some(80)
}

/// Scale-up behaviour: the larger of the two policies wins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ScaleUp {
    /// Seconds of sustained load before scaling up. Default `60`.
    pub stabilization_window_seconds: u32,
    /// Most pods added per period, in percent of the current count. Default `50`.
    pub max_percent: u32,
    /// Most pods added per period, as a count. Default `2`.
    pub max_pods: u32,
    /// Length of a period in seconds. Default `60`.
    pub period_seconds: u32,
}

impl Default for ScaleUp {
    fn default() -> Self {
        ScaleUp {
            stabilization_window_seconds: 60,
            max_percent: 50,
            max_pods: 2,
            period_seconds: 60,
        }
    }
}

/// Scale-down behaviour.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ScaleDown {
    /// Seconds of low load before scaling down. Default `300`.
    pub stabilization_window_seconds: u32,
    /// Most pods removed per period. Default `1`.
    pub max_pods: u32,
    /// Length of a period in seconds. Default `120`.
    pub period_seconds: u32,
}

impl Default for ScaleDown {
    fn default() -> Self {
        ScaleDown {
            stabilization_window_seconds: 300,
            max_pods: 1,
            period_seconds: 120,
        }
    }
}

/// Requests and limits of the server container.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Resources {
    /// What the scheduler reserves. Default `cpu: 1`, `memory: 2Gi`.
    pub requests: CpuMemory,
    /// The most the container may use. The CPU limit also sets the compute thread count.
    /// Default `cpu: 2`, `memory: 4Gi`.
    pub limits: CpuMemory,
}

impl Default for Resources {
    fn default() -> Self {
        Resources {
            requests: CpuMemory {
                cpu: Cpu::from_millis(1000),
                memory: Bytes::gibibytes(2),
            },
            limits: CpuMemory {
                cpu: Cpu::from_millis(2000),
                memory: Bytes::gibibytes(4),
            },
        }
    }
}

/// A CPU and memory pair. Both are required when the pair is given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CpuMemory {
    /// CPU, e.g. `500m` or `2`.
    pub cpu: Cpu,
    /// Memory, e.g. `512Mi` or `4Gi`.
    pub memory: Bytes,
}

/// The Service in front of the pods.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ServiceSettings {
    /// How the Service is exposed. Default `ClusterIP`.
    #[serde(rename = "type")]
    pub kind: ServiceType,
    /// Port the Service listens on for the API; it forwards to the server's port.
    /// Default `80`.
    pub port: u16,
    /// Fixed node port (30000-32767) for `NodePort` or `LoadBalancer`; absent lets the
    /// cluster choose.
    pub node_port: Option<u16>,
}

impl Default for ServiceSettings {
    fn default() -> Self {
        ServiceSettings {
            kind: ServiceType::ClusterIP,
            port: 80,
            node_port: None,
        }
    }
}

/// Kubernetes Service types this workload may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ServiceType {
    /// Reachable inside the cluster only.
    ClusterIP,
    /// Also on a port of every node.
    NodePort,
    /// Also through a cloud load balancer.
    LoadBalancer,
    /// Inside the cluster, without a virtual IP: the name resolves to the ready pods' own
    /// addresses, for clients that balance connections themselves (gRPC, databases' own
    /// drivers). The port is the container's own.
    Headless,
}

impl ServiceType {
    /// The value Kubernetes expects.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            ServiceType::ClusterIP => "ClusterIP",
            ServiceType::NodePort => "NodePort",
            ServiceType::LoadBalancer => "LoadBalancer",
            ServiceType::Headless => "Headless",
        }
    }

    /// The Service's `type`: a headless Service is a ClusterIP one without the IP.
    #[must_use]
    pub const fn kubernetes_type(self) -> &'static str {
        match self {
            ServiceType::Headless => "ClusterIP",
            other => other.as_str(),
        }
    }

    /// Whether the Service is reached from outside the cluster (node ports, a balancer).
    #[must_use]
    pub const fn is_exposed(self) -> bool {
        matches!(self, ServiceType::NodePort | ServiceType::LoadBalancer)
    }
}

/// Ingress settings (networking.k8s.io/v1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IngressSettings {
    /// IngressClass to use. Default `nginx`.
    #[serde(default = "default_ingress_class")]
    pub class_name: DnsSubdomain,
    /// Hosts routed to the server. At least one.
    pub hosts: Vec<Host>,
    /// TLS termination. Absent: plain HTTP.
    #[serde(default)]
    pub tls: Option<IngressTls>,
    /// ingress-nginx annotations; the body size and read timeout follow the server's own
    /// `body_limit_bytes` and `request_timeout_secs`. Absent: no nginx annotations.
    #[serde(default)]
    pub nginx: Option<NginxSettings>,
}

fn default_ingress_class() -> DnsSubdomain {
    DnsSubdomain::new("nginx").unwrap_or_else(|e| unreachable!("constant class: {e}"))
}

/// TLS for the Ingress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IngressTls {
    /// Secret holding `tls.crt` and `tls.key`; created by cert-manager when
    /// `cluster_issuer` is set, otherwise by you. Required.
    pub secret_name: DnsSubdomain,
    /// cert-manager ClusterIssuer that issues the certificate. Absent: bring your own.
    #[serde(default)]
    pub cluster_issuer: Option<DnsSubdomain>,
}

/// ingress-nginx behaviour.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct NginxSettings {
    /// Redirect plain HTTP to HTTPS (only meaningful with TLS). Default `true`.
    pub ssl_redirect: bool,
}

impl Default for NginxSettings {
    fn default() -> Self {
        NginxSettings { ssl_redirect: true }
    }
}

/// PodDisruptionBudget (policy/v1). Give exactly one of the two fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DisruptionBudget {
    /// Most pods that may be down for voluntary disruptions (drains). Recommended: `1`.
    #[serde(default)]
    pub max_unavailable: Option<u32>,
    /// Fewest pods that must stay up; must be below the smallest replica count, or no
    /// node could ever be drained.
    #[serde(default)]
    pub min_available: Option<u32>,
}

/// A claim shared between components.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SharedVolume {
    /// Requested size, e.g. `20Gi`. Required.
    pub size: Bytes,
    /// Access mode. Pods of several components (and replicas on several nodes) need
    /// `ReadWriteMany`, or `ReadOnlyMany` when all of them only read. Default
    /// `ReadWriteMany`.
    #[serde(default = "read_write_many")]
    pub access_mode: AccessMode,
    /// StorageClass; absent: the environment's `storage_class`, else the cluster's default.
    #[serde(default)]
    pub storage_class: Option<DnsSubdomain>,
}

const fn read_write_many() -> AccessMode {
    AccessMode::ReadWriteMany
}

/// The PersistentVolumeClaim that holds the model files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ModelCache {
    /// Requested size. Default `10Gi`.
    pub size: Bytes,
    /// StorageClass; absent uses the cluster's default class.
    pub storage_class: Option<DnsSubdomain>,
    /// Access mode. Pods mount the volume read-only, so `ReadOnlyMany` or `ReadWriteMany`
    /// let replicas share it across nodes; `ReadWriteOnce` ties them to one node.
    /// Default `ReadWriteOnce`.
    pub access_mode: AccessMode,
}

impl Default for ModelCache {
    fn default() -> Self {
        ModelCache {
            size: Bytes::gibibytes(10),
            storage_class: None,
            access_mode: AccessMode::ReadWriteOnce,
        }
    }
}

/// PersistentVolume access modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[allow(missing_docs)]
pub enum AccessMode {
    ReadWriteOnce,
    ReadOnlyMany,
    ReadWriteMany,
    ReadWriteOncePod,
}

impl AccessMode {
    /// The value Kubernetes expects.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            AccessMode::ReadWriteOnce => "ReadWriteOnce",
            AccessMode::ReadOnlyMany => "ReadOnlyMany",
            AccessMode::ReadWriteMany => "ReadWriteMany",
            AccessMode::ReadWriteOncePod => "ReadWriteOncePod",
        }
    }
}

/// NetworkPolicy: who may reach the pods, and where the pods may connect.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct NetworkPolicySettings {
    /// Emit the NetworkPolicy. Default `true`.
    pub enabled: bool,
    /// Namespace of the ingress controller, admitted on the API port. Default `ingress-nginx`.
    pub ingress_controller_namespace: DnsLabel,
    /// Namespace of Prometheus, admitted on the metrics port. Default `monitoring`.
    pub prometheus_namespace: DnsLabel,
    /// Further sources admitted on the API port (e.g. `0.0.0.0/0` for a NodePort).
    /// Default none.
    pub allow_api_from_cidrs: Vec<Cidr>,
    /// Namespaces of other applications whose pods are admitted on the API port (and the
    /// component's further ports). Default none.
    pub allow_api_from_namespaces: Vec<DnsLabel>,
    /// Namespace of the cluster DNS, the only egress by default. Default `kube-system`.
    pub dns_namespace: DnsLabel,
    /// Further egress destinations. Default none.
    pub extra_egress: Vec<EgressRule>,
}

impl Default for NetworkPolicySettings {
    fn default() -> Self {
        let label =
            |s: &str| DnsLabel::new(s).unwrap_or_else(|e| unreachable!("constant namespace: {e}"));
        NetworkPolicySettings {
            enabled: true,
            ingress_controller_namespace: label("ingress-nginx"),
            prometheus_namespace: label("monitoring"),
            allow_api_from_cidrs: Vec::new(),
            allow_api_from_namespaces: Vec::new(),
            dns_namespace: label("kube-system"),
            extra_egress: Vec::new(),
        }
    }
}

/// An egress destination the pods may open connections to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EgressRule {
    /// Destination block, for an address outside the cluster. Give this or `namespace`.
    #[serde(default)]
    pub cidr: Option<Cidr>,
    /// Destination namespace, by name, for a service of another application in the
    /// cluster. Give this or `cidr`.
    #[serde(default)]
    pub namespace: Option<DnsLabel>,
    /// With `namespace`: only its pods with these labels. Default: every pod in it.
    #[serde(default)]
    pub pod_labels: BTreeMap<String, String>,
    /// TCP ports; empty means every port. Default none.
    #[serde(default)]
    pub tcp_ports: Vec<u16>,
}

/// How replicas spread over the cluster (a topology spread constraint).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Spread {
    /// Domain to spread over. Default `nodes`.
    pub across: SpreadDomain,
    /// `prefer` schedules anyway when the spread cannot be kept; `require` leaves pods
    /// pending instead. Default `prefer`.
    pub mode: SpreadMode,
}

impl Default for Spread {
    fn default() -> Self {
        Spread {
            across: SpreadDomain::Nodes,
            mode: SpreadMode::Prefer,
        }
    }
}

/// Topology domains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SpreadDomain {
    /// `kubernetes.io/hostname`.
    Nodes,
    /// `topology.kubernetes.io/zone`.
    Zones,
}

/// Whether a spread is a preference or a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SpreadMode {
    /// `whenUnsatisfiable: ScheduleAnyway`.
    Prefer,
    /// `whenUnsatisfiable: DoNotSchedule`.
    Require,
}

/// Timings of the three probes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Probes {
    /// Start-up: how long model loading may take (period x failures). Default every 2 s,
    /// 60 failures (2 minutes).
    pub startup: ProbeTiming,
    /// Liveness: restarts a hung server. Default every 10 s, 3 failures.
    pub liveness: ProbeTiming,
    /// Readiness: takes a busy or draining pod out of the Service. Default every 5 s,
    /// 2 failures.
    pub readiness: ProbeTiming,
}

impl Default for Probes {
    fn default() -> Self {
        Probes {
            startup: ProbeTiming {
                period_seconds: 2,
                timeout_seconds: 2,
                failure_threshold: 60,
            },
            liveness: ProbeTiming {
                period_seconds: 10,
                timeout_seconds: 3,
                failure_threshold: 3,
            },
            readiness: ProbeTiming {
                period_seconds: 5,
                timeout_seconds: 2,
                failure_threshold: 2,
            },
        }
    }
}

/// When and how often a probe runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProbeTiming {
    /// Seconds between probes.
    pub period_seconds: u32,
    /// Seconds before one probe counts as failed.
    pub timeout_seconds: u32,
    /// Consecutive failures before acting.
    pub failure_threshold: u32,
}
