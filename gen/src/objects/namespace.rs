//! Namespace: one per environment, enforcing the `restricted` Pod Security Standard that
//! every component's pods already meet.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::settings::Environment;
use crate::workload::MANAGED_BY;

/// The Pod Security Standard level enforced on the namespace.
pub const POD_SECURITY_LEVEL: &str = "restricted";

/// Builds the Namespace of the application: labelled as the application (part-of and
/// managed-by), not as any one of its components.
#[must_use]
pub fn build(app: &Environment) -> Namespace {
    let mut labels = BTreeMap::from([
        (
            "app.kubernetes.io/part-of".to_owned(),
            app.part_of().to_string(),
        ),
        (
            "app.kubernetes.io/managed-by".to_owned(),
            MANAGED_BY.to_owned(),
        ),
    ]);
    for mode in ["enforce", "audit", "warn"] {
        labels.insert(
            format!("pod-security.kubernetes.io/{mode}"),
            POD_SECURITY_LEVEL.to_owned(),
        );
    }
    Namespace {
        metadata: ObjectMeta {
            name: Some(app.namespace.to_string()),
            labels: Some(labels),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    }
}
