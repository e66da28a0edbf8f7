//! What the objects need to know about one containerised service, in plain data.
//!
//! The object builders read a [`Workload`] plus the generic deployment settings of an
//! [`Environment`]; they never look at a particular server's configuration. A second
//! service is described by writing a function like [`crate::components::akidb_embed::plan`] for it.

use std::collections::BTreeMap;

use crate::settings::blue_green::Color;
pub use crate::settings::pod::PodSettings;
use crate::settings::postgres::{POSTGRES_PORT, Postgres};
use crate::settings::{CpuMemory, DnsLabel, Environment};

/// Name of the container port (and Service port) that carries the API and the probes.
pub const HTTP_PORT_NAME: &str = "http";
/// Name of the container port (and Service port) that serves Prometheus metrics.
pub const METRICS_PORT_NAME: &str = "metrics";

/// One containerised service, as its own contract describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Workload {
    /// `app.kubernetes.io/name`: what the software is.
    pub app: String,
    /// `app.kubernetes.io/component`.
    pub component: String,
    /// `app.kubernetes.io/part-of`.
    pub part_of: String,
    /// `app.kubernetes.io/version`, when the image is pinned by a tag.
    pub version: Option<String>,
    /// Name of the container.
    pub container_name: String,
    /// Full image reference.
    pub image: String,
    /// `imagePullPolicy`.
    pub pull_policy: String,
    /// Entrypoint; empty: the image's own.
    pub command: Vec<String>,
    /// Arguments; empty: the image's own (with no command) or none.
    pub args: Vec<String>,
    /// Environment variables, in order.
    pub env: Vec<(String, String)>,
    /// Variables from ConfigMap keys: variable, ConfigMap, key.
    pub config_map_env: Vec<(String, String, String)>,
    /// ConfigMaps whose every key becomes a variable.
    pub env_from_config_maps: Vec<String>,
    /// Port of the API and the probes.
    pub api_port: u16,
    /// The API port's `appProtocol` on Services; `None`: plain TCP.
    pub api_protocol: Option<&'static str>,
    /// Further ports, by name: on the container, the Services and the policies.
    pub extra_ports: Vec<(String, u16)>,
    /// Where Prometheus scrapes, when metrics are on.
    pub metrics: Option<MetricsEndpoint>,
    /// The probes; HTTP and TCP ones go to [`Workload::api_port`].
    pub probe_paths: ProbePaths,
    /// Files mounted read-only from a ConfigMap.
    pub config: Option<ConfigFiles>,
    /// Persistent data, mounted from a claim.
    pub data: Option<DataVolume>,
    /// A container that runs to completion before the main one starts (same image, same
    /// user, same hardening), e.g. to fill the data volume.
    pub init: Option<InitContainer>,
    /// Keys of Secrets mounted as files, read-only.
    pub secret_files: Vec<SecretFiles>,
    /// Connections the pod opens beyond the cluster DNS: the NetworkPolicy's egress.
    pub egress: Vec<Egress>,
    /// Writable scratch directory (an emptyDir), since the root filesystem is read-only.
    pub scratch_dir: String,
    /// Further folders the process writes, each an emptyDir.
    pub writable_dirs: Vec<String>,
    /// Claims shared with other components: claim name, folder, read-only.
    pub shared: Vec<(String, String, bool)>,
    /// Numeric user and group the process runs as.
    pub run_as: (i64, i64),
    /// Seconds the process needs after SIGTERM to finish accepted work.
    pub drain_timeout_secs: u32,
    /// Largest request body, in bytes, for proxies in front of the service.
    pub body_limit_bytes: u64,
    /// Longest request, in seconds, for proxies in front of the service.
    pub request_timeout_secs: u32,
    /// The controller that runs the pods.
    pub controller: Controller,
}

/// What runs a workload's pods.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Controller {
    /// Interchangeable pods, replaced by surging.
    #[default]
    Deployment,
    /// Pods with stable names and a claim of their own each, behind a headless Service.
    StatefulSet(StatefulPods),
}

/// How a StatefulSet runs its pods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatefulPods {
    /// One claim per pod for each of these.
    pub claims: Vec<PodClaim>,
    /// Whether pods start and stop all at once rather than one by one, in order.
    pub parallel: bool,
}

/// A claim each pod gets, from a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodClaim {
    /// Template (and pod volume) name.
    pub name: String,
    /// Folder it appears in.
    pub mount_path: String,
    /// Requested size, as a quantity.
    pub size: String,
    /// StorageClass; `None`: the cluster's default.
    pub storage_class: Option<String>,
    /// Access mode, as the API spells it.
    pub access_mode: String,
}

impl Controller {
    /// The controller's `kind`.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Controller::Deployment => "Deployment",
            Controller::StatefulSet(_) => "StatefulSet",
        }
    }
}

/// Names of the volumes every pod has; a per-pod claim must not take one.
pub mod volume_names {
    /// The configuration files.
    pub const CONFIG: &str = "config";
    /// The scratch folder.
    pub const SCRATCH: &str = "tmp";
    /// Prefixes of the numbered and named ones: writable folders, shared claims, Secrets.
    pub const PREFIXES: [&str; 3] = ["writable-", "shared-", "secret-"];

    /// Whether `name` is, or may be, one of the pod's own volume names.
    #[must_use]
    pub fn is_reserved(name: &str) -> bool {
        name == CONFIG || name == SCRATCH || PREFIXES.iter().any(|p| name.starts_with(p))
    }
}

impl Workload {
    /// Every port the workload serves to other pods: the API port, then the further ones.
    #[must_use]
    pub fn served_ports(&self) -> Vec<u16> {
        std::iter::once(self.api_port)
            .chain(self.extra_ports.iter().map(|(_, n)| *n))
            .collect()
    }
}

/// A metrics listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsEndpoint {
    /// Container port.
    pub port: u16,
    /// HTTP path.
    pub path: String,
}

impl MetricsEndpoint {
    /// Whether metrics have a port of their own rather than sharing the API port.
    #[must_use]
    pub fn separate_from(&self, api_port: u16) -> bool {
        self.port != api_port
    }
}

/// What each probe asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbePaths {
    /// Start-up probe, when there is one.
    pub startup: Option<ProbeAction>,
    /// Liveness probe.
    pub liveness: ProbeAction,
    /// Readiness probe.
    pub readiness: ProbeAction,
}

/// How the kubelet asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeAction {
    /// `GET` of this path on the API port.
    Http(String),
    /// A TCP connection to the API port.
    Tcp,
    /// This command inside the container; exit 0 is healthy.
    Exec(Vec<String>),
}

/// Configuration files shipped in a ConfigMap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigFiles {
    /// Directory the ConfigMap is mounted on.
    pub mount_dir: String,
    /// File name to contents.
    pub files: BTreeMap<String, String>,
}

/// A persistent volume for data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataVolume {
    /// Suffix of the claim's name and the volume's name, e.g. `models`.
    pub name: String,
    /// Where the container sees it.
    pub mount_path: String,
    /// Whether the container only reads it.
    pub read_only: bool,
}

/// A container run before the main one.
#[derive(Debug, Clone, PartialEq)]
pub struct InitContainer {
    /// Container name.
    pub name: String,
    /// Arguments to the workload's own command.
    pub args: Vec<String>,
    /// Environment variables, in order.
    pub env: Vec<(String, EnvValue)>,
    /// Requests and limits.
    pub resources: Resources,
    /// Whether it writes the data volume (the main container still only reads it).
    pub writes_data: bool,
}

/// The value of an environment variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvValue {
    /// Written in the manifest.
    Plain(String),
    /// Read from a Secret's key; the value never appears.
    Secret {
        /// Secret name.
        secret: String,
        /// Key inside it.
        key: String,
    },
}

/// CPU and memory, requested and limited.
#[derive(Debug, Clone, PartialEq)]
pub struct Resources {
    /// What the scheduler reserves.
    pub requests: CpuMemory,
    /// The most the container may use.
    pub limits: CpuMemory,
}

/// Keys of one Secret, projected as files into a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretFiles {
    /// Volume name.
    pub volume: String,
    /// Secret name.
    pub secret: String,
    /// Directory the files appear in.
    pub mount_dir: String,
    /// Secret key to file name.
    pub items: Vec<(String, String)>,
}

/// An egress the pod needs: TCP to one port of some address blocks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Egress {
    /// Destination blocks.
    pub cidrs: Vec<String>,
    /// Destination port.
    pub port: u16,
}

/// A workload in an environment: everything the builders read.
#[derive(Debug, Clone)]
pub struct Plan<'a> {
    /// The application's namespace-level settings.
    pub app: &'a Environment,
    /// The component's name: of its Deployment, Service and the objects it has one of.
    pub name: &'a DnsLabel,
    /// Generic deployment settings (replicas, resources, exposure, policies), whatever
    /// the component's kind.
    pub settings: PodSettings<'a>,
    /// The service's own facts.
    pub workload: Workload,
    /// The blue-green colour these objects belong to; `None` for objects of the whole
    /// component (and for a component without colours).
    pub color: Option<Color>,
    /// Blue-green: the colours that run and the one that serves. `None`: one Deployment.
    pub blue_green: Option<Colors>,
    /// Pods of other components this one calls, and those that call it.
    pub connections: Connections,
}

/// Traffic between the components of one application, as NetworkPolicies admit it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Connections {
    /// Pods this component calls: their selector labels and every port they serve.
    pub to: Vec<(BTreeMap<String, String>, Vec<u16>)>,
    /// Pods that call this component: their selector labels, and the one port they use
    /// (`None`: every port it serves).
    pub from: Vec<(BTreeMap<String, String>, Option<u16>)>,
}

/// The colours of a blue-green component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Colors {
    /// The colour the API Service selects.
    pub active: Color,
    /// Each running colour with its image reference and version label.
    pub images: Vec<(Color, String, Option<String>)>,
}

impl Plan<'_> {
    /// Name of the Deployment, Service and the objects that have one per workload.
    #[must_use]
    pub fn name(&self) -> &str {
        self.name.as_str()
    }

    /// Name of the Deployment (and its autoscaler and budget): the component's name, with
    /// the colour appended under blue-green.
    #[must_use]
    pub fn workload_name(&self) -> String {
        match self.color {
            Some(c) => format!("{}-{}", self.name(), c.as_str()),
            None => self.name().to_owned(),
        }
    }

    /// This plan for one colour, running `image` (a full reference) at `version`.
    #[must_use]
    pub fn colored(&self, color: Color, image: String, version: Option<String>) -> Self {
        let mut plan = self.clone();
        plan.color = Some(color);
        plan.workload.image = image;
        plan.workload.version = version;
        plan
    }

    /// One plan per running colour (none without blue-green).
    #[must_use]
    pub fn colors(&self) -> Vec<Self> {
        self.blue_green
            .iter()
            .flat_map(|bg| &bg.images)
            .map(|(color, image, version)| self.colored(*color, image.clone(), version.clone()))
            .collect()
    }

    /// The colour the API Service selects, under blue-green.
    #[must_use]
    pub fn active_color(&self) -> Option<Color> {
        self.blue_green.as_ref().map(|bg| bg.active)
    }

    /// Namespace of every namespaced object.
    #[must_use]
    pub fn namespace(&self) -> &str {
        self.app.namespace.as_str()
    }

    /// Name of the ConfigMap.
    #[must_use]
    pub fn config_map_name(&self) -> String {
        format!("{}-config", self.name())
    }

    /// Name of the headless Service that gives a StatefulSet's pods their DNS names.
    #[must_use]
    pub fn headless_service_name(&self) -> String {
        format!("{}-headless", self.name())
    }

    /// Name of the data claim, when there is one.
    #[must_use]
    pub fn claim_name(&self) -> Option<String> {
        self.workload
            .data
            .as_ref()
            .map(|d| format!("{}-{}", self.name(), d.name))
    }

    /// The labels a selector matches on. They never change between releases: a
    /// Deployment's selector is immutable.
    #[must_use]
    pub fn selector_labels(&self) -> BTreeMap<String, String> {
        let mut labels = BTreeMap::from([
            (
                "app.kubernetes.io/name".to_owned(),
                self.workload.app.clone(),
            ),
            (
                "app.kubernetes.io/instance".to_owned(),
                self.name().to_owned(),
            ),
        ]);
        if let Some(c) = self.color {
            labels.insert(COLOR_LABEL.to_owned(), c.as_str().to_owned());
        }
        labels
    }

    /// Labels on every object: the selector labels plus descriptive ones.
    #[must_use]
    pub fn labels(&self) -> BTreeMap<String, String> {
        let mut labels = self.selector_labels();
        labels.insert(
            "app.kubernetes.io/component".into(),
            self.workload.component.clone(),
        );
        labels.insert(
            "app.kubernetes.io/part-of".into(),
            self.workload.part_of.clone(),
        );
        labels.insert("app.kubernetes.io/managed-by".into(), MANAGED_BY.into());
        if let Some(v) = &self.workload.version {
            labels.insert("app.kubernetes.io/version".into(), v.clone());
        }
        labels
    }

    /// Seconds between the stop signal and SIGKILL: the pre-stop pause, the server's own
    /// drain and a margin for the process to exit.
    #[must_use]
    pub fn termination_grace_seconds(&self) -> u32 {
        self.settings.pre_stop_sleep_seconds + self.workload.drain_timeout_secs + EXIT_MARGIN_SECS
    }
}

/// Every component of an application, planned: the pods the generator builds and the
/// databases an operator runs.
#[derive(Debug, Clone)]
pub struct Plans<'a> {
    /// Components whose pods the generator builds, in name order.
    pub pods: Vec<Plan<'a>>,
    /// Databases run by CloudNativePG, in name order.
    pub databases: Vec<Database<'a>>,
}

/// A PostgreSQL database the CloudNativePG operator runs for the application.
#[derive(Debug, Clone)]
pub struct Database<'a> {
    /// The application's namespace-level settings.
    pub app: &'a Environment,
    /// The component's name: of its `Cluster`, and the prefix of what the operator makes.
    pub name: &'a DnsLabel,
    /// Its settings.
    pub settings: &'a Postgres,
    /// Selector labels of the pods that connect to it.
    pub callers: Vec<BTreeMap<String, String>>,
}

/// Label CloudNativePG puts on every instance pod of a cluster, with the cluster's name.
pub const CNPG_CLUSTER_LABEL: &str = "cnpg.io/cluster";

impl Database<'_> {
    /// Labels that select the database's instance pods.
    #[must_use]
    pub fn selector_labels(&self) -> BTreeMap<String, String> {
        BTreeMap::from([(CNPG_CLUSTER_LABEL.to_owned(), self.name.to_string())])
    }

    /// Labels of the objects the generator emits for it, passed on by the operator to
    /// what it makes.
    #[must_use]
    pub fn labels(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("app.kubernetes.io/name".to_owned(), "postgresql".to_owned()),
            (
                "app.kubernetes.io/instance".to_owned(),
                self.name.to_string(),
            ),
            (
                "app.kubernetes.io/component".to_owned(),
                self.name.to_string(),
            ),
            (
                "app.kubernetes.io/part-of".to_owned(),
                self.app.part_of().to_string(),
            ),
            (
                "app.kubernetes.io/managed-by".to_owned(),
                MANAGED_BY.to_owned(),
            ),
        ])
    }

    /// The port callers connect to.
    #[must_use]
    pub const fn port(&self) -> u16 {
        POSTGRES_PORT
    }
}

/// Label of a blue-green colour's pods and objects.
pub const COLOR_LABEL: &str = "akidb-gen/color";

/// `app.kubernetes.io/managed-by` of every object.
pub const MANAGED_BY: &str = "akidb-gen";

/// Seconds allowed for the process to exit after its drain finished.
pub const EXIT_MARGIN_SECS: u32 = 5;
