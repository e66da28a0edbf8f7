//! Namespace: one per environment, enforcing the `restricted` Pod Security Standard that
//! the server's pods already meet.

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::workload::Plan;

/// The Pod Security Standard level enforced on the namespace.
pub const POD_SECURITY_LEVEL: &str = "restricted";

/// Builds the Namespace.
#[must_use]
pub fn build(plan: &Plan<'_>) -> Namespace {
    let mut labels = plan.labels();
    // The namespace is shared by the workload's objects; the instance/name labels still help
    // `kubectl get ns -l app.kubernetes.io/part-of=akidb`.
    for mode in ["enforce", "audit", "warn"] {
        labels.insert(
            format!("pod-security.kubernetes.io/{mode}"),
            POD_SECURITY_LEVEL.to_owned(),
        );
    }
    Namespace {
        metadata: ObjectMeta {
            name: Some(plan.namespace().to_owned()),
            labels: Some(labels),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    }
}
