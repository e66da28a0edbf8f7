//! PersistentVolumeClaim for the workload's data (the model files).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    PersistentVolumeClaim, PersistentVolumeClaimSpec, VolumeResourceRequirements,
};

use super::meta;
use crate::workload::Plan;

/// Builds the claim, when the workload has a data volume.
#[must_use]
pub fn build(plan: &Plan<'_>) -> Option<PersistentVolumeClaim> {
    let name = plan.claim_name()?;
    let cache = plan.settings.data_claim?;
    Some(PersistentVolumeClaim {
        metadata: meta(plan, name),
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec![cache.access_mode.as_str().to_owned()]),
            storage_class_name: cache
                .storage_class
                .as_ref()
                .or(plan.app.storage_class.as_ref())
                .map(|c| c.as_str().to_owned()),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([(
                    "storage".to_owned(),
                    cache.size.to_quantity(),
                )])),
                ..VolumeResourceRequirements::default()
            }),
            ..PersistentVolumeClaimSpec::default()
        }),
        ..PersistentVolumeClaim::default()
    })
}
