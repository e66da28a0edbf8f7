//! PersistentVolumeClaim for the workload's data (the model files).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    PersistentVolumeClaim, PersistentVolumeClaimSpec, VolumeResourceRequirements,
};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::meta;
use crate::settings::{AccessMode, Bytes, DnsSubdomain, Environment};
use crate::workload::{MANAGED_BY, Plan};

/// Builds the application's shared claims, each named after its volume and labelled as
/// the application's (no one component owns it).
#[must_use]
pub fn build_shared(app: &Environment) -> Vec<PersistentVolumeClaim> {
    app.volumes
        .iter()
        .map(|(name, v)| PersistentVolumeClaim {
            metadata: ObjectMeta {
                name: Some(name.to_string()),
                namespace: Some(app.namespace.to_string()),
                labels: Some(BTreeMap::from([
                    ("app.kubernetes.io/name".to_owned(), name.to_string()),
                    (
                        "app.kubernetes.io/part-of".to_owned(),
                        app.part_of().to_string(),
                    ),
                    (
                        "app.kubernetes.io/managed-by".to_owned(),
                        MANAGED_BY.to_owned(),
                    ),
                ])),
                ..ObjectMeta::default()
            },
            spec: Some(claim_spec(
                v.access_mode,
                v.storage_class.as_ref().or(app.storage_class.as_ref()),
                v.size,
            )),
            ..PersistentVolumeClaim::default()
        })
        .collect()
}

fn claim_spec(
    mode: AccessMode,
    class: Option<&DnsSubdomain>,
    size: Bytes,
) -> PersistentVolumeClaimSpec {
    PersistentVolumeClaimSpec {
        access_modes: Some(vec![mode.as_str().to_owned()]),
        storage_class_name: class.map(|c| c.as_str().to_owned()),
        resources: Some(VolumeResourceRequirements {
            requests: Some(BTreeMap::from([("storage".to_owned(), size.to_quantity())])),
            ..VolumeResourceRequirements::default()
        }),
        ..PersistentVolumeClaimSpec::default()
    }
}

/// Builds the claim, when the workload has a data volume.
#[must_use]
pub fn build(plan: &Plan<'_>) -> Option<PersistentVolumeClaim> {
    let name = plan.claim_name()?;
    let cache = plan.settings.data_claim?;
    Some(PersistentVolumeClaim {
        metadata: meta(plan, name),
        spec: Some(claim_spec(
            cache.access_mode,
            cache
                .storage_class
                .as_ref()
                .or(plan.app.storage_class.as_ref()),
            cache.size,
        )),
        ..PersistentVolumeClaim::default()
    })
}
