//! ResourceQuota for the environment's namespace.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ResourceQuota, ResourceQuotaSpec};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::settings::Environment;

/// Builds the quota of `app`, labelled `labels`, when the environment sets one.
#[must_use]
pub fn build(app: &Environment, labels: BTreeMap<String, String>) -> Option<ResourceQuota> {
    let q = app.resource_quota.as_ref()?;
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
        metadata: ObjectMeta {
            name: Some(app.part_of().to_string()),
            namespace: Some(app.namespace.to_string()),
            labels: Some(labels),
            ..ObjectMeta::default()
        },
        spec: Some(ResourceQuotaSpec {
            hard: Some(hard),
            ..ResourceQuotaSpec::default()
        }),
        ..ResourceQuota::default()
    })
}
