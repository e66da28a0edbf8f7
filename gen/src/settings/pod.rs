//! The settings every pod-owning component kind has, as one borrowed view: what the
//! generic checks and the object builders read, whatever the kind.

use super::akidb_embed::Monitoring;
use super::{
    Autoscaling, Dependency, DisruptionBudget, DnsLabel, IngressSettings, ModelCache,
    NetworkPolicySettings, Probes, Resources, SecretRef, ServiceSettings, Spread,
};

/// The parts every kind that owns pods has, borrowed from the kind's own settings so no
/// check or builder needs to know the kind.
#[derive(Debug, Clone, Copy)]
pub struct PodSettings<'a> {
    /// Fixed replica count (without autoscaling).
    pub replicas: Option<u32>,
    /// HorizontalPodAutoscaler.
    pub autoscaling: Option<&'a Autoscaling>,
    /// CPU and memory of the main container.
    pub resources: &'a Resources,
    /// The Service in front of the pods.
    pub service: &'a ServiceSettings,
    /// Ingress.
    pub ingress: Option<&'a IngressSettings>,
    /// PodDisruptionBudget.
    pub disruption_budget: Option<&'a DisruptionBudget>,
    /// The claim behind the workload's data volume.
    pub data_claim: Option<&'a ModelCache>,
    /// The key of [`PodSettings::data_claim`] in the kind's settings, for messages.
    pub data_claim_key: &'static str,
    /// NetworkPolicy.
    pub network_policy: &'a NetworkPolicySettings,
    /// How replicas spread over nodes.
    pub spread: &'a Spread,
    /// Probe timings.
    pub probes: &'a Probes,
    /// Seconds the pod keeps serving after it is told to stop.
    pub pre_stop_sleep_seconds: u32,
    /// Secrets the pods read.
    pub secrets: &'a [SecretRef],
    /// Components the pods call.
    pub connects_to: &'a [DnsLabel],
    /// Components this one needs, each opened to it on one port or all.
    pub depends_on: &'a [Dependency],
    /// Prometheus Operator objects.
    pub monitoring: Option<&'a Monitoring>,
}

impl PodSettings<'_> {
    /// Fewest replicas: the autoscaler's minimum or the fixed count.
    #[must_use]
    pub fn min_replicas(&self) -> u32 {
        self.autoscaling
            .map_or(self.replicas.unwrap_or(1), |a| a.min_replicas)
    }

    /// Most replicas: the autoscaler's maximum or the fixed count.
    #[must_use]
    pub fn max_replicas(&self) -> u32 {
        self.autoscaling
            .map_or(self.replicas.unwrap_or(1), |a| a.max_replicas)
    }
}
