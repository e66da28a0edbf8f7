//! ServiceAccount: the server never talks to the Kubernetes API, so no token is mounted.

use k8s_openapi::api::core::v1::ServiceAccount;

use super::meta;
use crate::workload::Plan;

/// Builds the ServiceAccount.
#[must_use]
pub fn build(plan: &Plan<'_>) -> ServiceAccount {
    ServiceAccount {
        metadata: meta(plan, plan.name()),
        automount_service_account_token: Some(false),
        ..ServiceAccount::default()
    }
}
