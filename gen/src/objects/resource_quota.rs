//! ResourceQuota for the environment's namespace.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ResourceQuota, ResourceQuotaSpec};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use super::meta;
use crate::workload::Plan;

/// Builds the quota, when the environment sets one.
#[must_use]
pub fn build(plan: &Plan<'_>) -> Option<ResourceQuota> {
    let q = plan.app.resource_quota.as_ref()?;
    let mut hard = BTreeMap::new();
    let mut put = |key: &str, value: Option<String>| {
        if let Some(v) = value {
            hard.insert(key.to_owned(), Quantity(v));
        }
    };
    put("requests.cpu", q.requests_cpu.map(|c| c.to_string()));
    put("requests.memory", q.requests_memory.map(|m| m.to_string()));
    put("limits.cpu", q.limits_cpu.map(|c| c.to_string()));
    put("limits.memory", q.limits_memory.map(|m| m.to_string()));
    put(
        "persistentvolumeclaims",
        q.persistent_volume_claims.map(|n| n.to_string()),
    );
    Some(ResourceQuota {
        // One per namespace: named after the application, not one of its components.
        metadata: meta(plan, plan.app.part_of().as_str()),
        spec: Some(ResourceQuotaSpec {
            hard: Some(hard),
            ..ResourceQuotaSpec::default()
        }),
        ..ResourceQuota::default()
    })
}
