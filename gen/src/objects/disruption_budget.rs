//! PodDisruptionBudget (policy/v1). The settings checks guarantee it always permits at
//! least one voluntary disruption, so node drains never hang on it.

use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{int, meta, pod_selector};
use crate::workload::Plan;

/// Builds the budget, when the environment asks for one.
#[must_use]
pub fn build(plan: &Plan<'_>) -> Option<PodDisruptionBudget> {
    let b = plan.settings.disruption_budget?;
    Some(PodDisruptionBudget {
        metadata: meta(plan, plan.workload_name()),
        spec: Some(PodDisruptionBudgetSpec {
            selector: Some(pod_selector(plan)),
            max_unavailable: b.max_unavailable.map(|n| IntOrString::Int(int(n))),
            min_available: b.min_available.map(|n| IntOrString::Int(int(n))),
            // A pod that is not ready (crash-looping, say) may always be evicted: counting it
            // against the budget would let one broken pod block every drain.
            unhealthy_pod_eviction_policy: Some("AlwaysAllow".to_owned()),
        }),
        ..PodDisruptionBudget::default()
    })
}
