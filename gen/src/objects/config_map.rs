//! ConfigMap carrying the workload's configuration files, and their checksum.

use k8s_openapi::api::core::v1::ConfigMap;
use sha2::{Digest, Sha256};

use super::meta;
use crate::workload::Plan;

/// Builds the ConfigMap, when the workload has configuration files.
#[must_use]
pub fn build(plan: &Plan<'_>) -> Option<ConfigMap> {
    let files = &plan.workload.config.as_ref()?.files;
    Some(ConfigMap {
        metadata: meta(plan, plan.config_map_name()),
        data: Some(files.clone()),
        ..ConfigMap::default()
    })
}

/// SHA-256 over every file name and content, in name order: the pod template carries it,
/// so changing any file changes the template and rolls the pods.
#[must_use]
pub fn checksum(plan: &Plan<'_>) -> Option<String> {
    let files = &plan.workload.config.as_ref()?.files;
    let mut hash = Sha256::new();
    for (name, contents) in files {
        hash.update(name.as_bytes());
        hash.update([0]);
        hash.update(contents.as_bytes());
        hash.update([0]);
    }
    Some(hash.finalize().iter().map(|b| format!("{b:02x}")).collect())
}
