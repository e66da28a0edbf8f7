//! Settings of the `akidb_embed` component: the embedding server of this repository.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::blue_green::BlueGreen;
use super::models::{ApiKeys, Models};
use super::objectives::Objectives;
use super::pod::PodSettings;
use super::{
    Autoscaling, Dependency, DisruptionBudget, DnsLabel, Image, IngressSettings, ModelCache,
    NetworkPolicySettings, Probes, Resources, SecretRef, ServiceSettings, Spread,
};

/// The akidb-embed server: its pods, Service, Ingress, volume and configuration. Ports,
/// probe paths, command and files come from the server's own contract; these settings say
/// how many, how big and how exposed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AkidbEmbed {
    /// Container image. Default `ghcr.io/akidb/akidb-embed` tagged with the server's version.
    #[serde(default)]
    pub image: Image,
    /// Blue-green: two colours, each a Deployment (with its own autoscaler and budget when
    /// those are on) pinned to its own image, a Service per colour for smoke tests
    /// (`<name>-blue`, `<name>-green`), and the API Service and Ingress on the active one.
    /// With it, each colour's `image` replaces `image` above. Absent: one Deployment.
    #[serde(default)]
    pub blue_green: Option<BlueGreen>,
    /// Fixed replica count. Only without `autoscaling` (the autoscaler owns the count
    /// otherwise). Default `1`.
    #[serde(default)]
    pub replicas: Option<u32>,
    /// HorizontalPodAutoscaler. Absent: no autoscaling.
    #[serde(default)]
    pub autoscaling: Option<Autoscaling>,
    /// CPU and memory of the server container. Default: the plan's 1 CPU / 2Gi requested,
    /// 2 CPU / 4Gi limit.
    #[serde(default)]
    pub resources: Resources,
    /// The Service in front of the pods. Default: ClusterIP on port 80.
    #[serde(default)]
    pub service: ServiceSettings,
    /// Ingress. Absent: no Ingress.
    #[serde(default)]
    pub ingress: Option<IngressSettings>,
    /// PodDisruptionBudget. Absent: no budget.
    #[serde(default)]
    pub disruption_budget: Option<DisruptionBudget>,
    /// Volume holding the model files, mounted read-only at the server's `model_dir`.
    #[serde(default)]
    pub model_cache: ModelCache,
    /// How the model volume is filled: pulled from a hub by an init container (default) or
    /// prefilled by you.
    #[serde(default)]
    pub models: Models,
    /// API keys: the server then requires `Authorization: Bearer <key>` on every route but
    /// the probes and `/metrics` (this sets `config.auth.required`). The Secret's key is
    /// mounted as the file `config.auth.keys_file` names, so a rotated Secret applies
    /// without a restart. Absent: the API is open to whoever reaches it.
    #[serde(default)]
    pub api_keys: Option<ApiKeys>,
    /// NetworkPolicy. Default: on, admitting the ingress controller and Prometheus only.
    #[serde(default)]
    pub network_policy: NetworkPolicySettings,
    /// How replicas spread over nodes. Default: prefer different nodes.
    #[serde(default)]
    pub spread: Spread,
    /// Components this one calls: its NetworkPolicy lets its pods reach theirs on their API
    /// port, and theirs admit it. Default none.
    #[serde(default)]
    pub connects_to: Vec<DnsLabel>,
    /// Components this one needs before it can serve, each on one port or all: opened in
    /// both NetworkPolicies like `connects_to`, and ordered by `sync_waves`. Default none.
    #[serde(default)]
    pub depends_on: Vec<Dependency>,
    /// Probe timings; paths and ports come from the server. Defaults on each probe.
    #[serde(default)]
    pub probes: Probes,
    /// Seconds the pod keeps serving after it is told to stop, so every Service endpoint
    /// and ingress controller has dropped it before SIGTERM arrives. Default `10`.
    #[serde(default = "default_pre_stop_sleep")]
    pub pre_stop_sleep_seconds: u32,
    /// Secrets the pods read. They are always created outside the generator (kubectl,
    /// External Secrets, Sealed Secrets); only their names and keys appear in the output.
    /// Default none.
    #[serde(default)]
    pub secrets: Vec<SecretRef>,
    /// Prometheus Operator monitoring: a ServiceMonitor for the metrics Service, a
    /// PrometheusRule with recording rules and alerts at the objectives, and a Grafana
    /// dashboard ConfigMap for the Grafana sidecar. Absent: none (scrape annotations only).
    #[serde(default)]
    pub monitoring: Option<Monitoring>,
    /// The server's own `config.toml`; its types and defaults come from the server crate.
    #[serde(default)]
    pub config: app::Config,
}

const fn default_pre_stop_sleep() -> u32 {
    10
}

impl AkidbEmbed {
    /// The settings every pod-owning kind has, as the generic checks and builders read them.
    #[must_use]
    pub fn pod(&self) -> PodSettings<'_> {
        PodSettings {
            replicas: self.replicas,
            autoscaling: self.autoscaling.as_ref(),
            resources: &self.resources,
            service: &self.service,
            ingress: self.ingress.as_ref(),
            disruption_budget: self.disruption_budget.as_ref(),
            data_claim: Some(&self.model_cache),
            data_claim_key: "model_cache",
            network_policy: &self.network_policy,
            spread: &self.spread,
            probes: &self.probes,
            pre_stop_sleep_seconds: self.pre_stop_sleep_seconds,
            secrets: &self.secrets,
            connects_to: &self.connects_to,
            depends_on: &self.depends_on,
            monitoring: self.monitoring.as_ref(),
        }
    }

    /// Every Secret the component's pods read, with the keys they read from it: the
    /// declared `secrets`, the API keys and the hub token.
    #[must_use]
    pub fn declared_secrets(&self) -> Vec<(String, Vec<String>)> {
        let mut out: Vec<(String, Vec<String>)> =
            self.secrets.iter().map(SecretRef::declared).collect();
        out.extend(
            self.api_keys
                .iter()
                .map(|k| (k.secret.to_string(), vec![k.key.to_string()])),
        );
        out.extend(
            self.models
                .hub_token
                .iter()
                .map(|t| (t.secret.to_string(), vec![t.key.to_string()])),
        );
        out
    }

    /// Fewest replicas the server runs with: the autoscaler's minimum or the fixed count.
    #[must_use]
    pub fn min_replicas(&self) -> u32 {
        self.autoscaling
            .as_ref()
            .map_or(self.replicas.unwrap_or(1), |a| a.min_replicas)
    }

    /// Most replicas the server runs with: the autoscaler's maximum or the fixed count.
    #[must_use]
    pub fn max_replicas(&self) -> u32 {
        self.autoscaling
            .as_ref()
            .map_or(self.replicas.unwrap_or(1), |a| a.max_replicas)
    }
}

/// Monitoring objects of the server (they need the Prometheus Operator's CRDs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Monitoring {
    /// What the alerts hold the server to. Default: 99 % of requests within 1 s, at most
    /// 1 % answered 5xx.
    pub objectives: Objectives,
    /// Where `docs/operations.md` is published; each alert's `runbook_url` links to its
    /// section there. Default: this repository's copy.
    pub runbook_url: String,
}

impl Default for Monitoring {
    fn default() -> Self {
        Monitoring {
            objectives: Objectives::default(),
            runbook_url: concat!(
                env!("CARGO_PKG_REPOSITORY"),
                "/blob/main/docs/operations.md"
            )
            .to_owned(),
        }
    }
}
