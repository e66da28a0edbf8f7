//! StatefulSet: the same pod template as a Deployment's, with stable pod names, one claim
//! per pod from each template, and the headless Service that names them in DNS.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    StatefulSet, StatefulSetPersistentVolumeClaimRetentionPolicy, StatefulSetSpec,
    StatefulSetUpdateStrategy,
};
use k8s_openapi::api::core::v1::{
    PersistentVolumeClaim, PersistentVolumeClaimSpec, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::{deployment, int, meta, pod_selector};
use crate::workload::{Controller, Plan, PodClaim};

/// Builds the StatefulSet, when the plan's pods run under one.
#[must_use]
pub fn build(plan: &Plan<'_>) -> Option<StatefulSet> {
    let Controller::StatefulSet(pods) = &plan.workload.controller else {
        return None;
    };
    let settings = &plan.settings;
    Some(StatefulSet {
        metadata: meta(plan, plan.workload_name()),
        spec: Some(StatefulSetSpec {
            service_name: Some(plan.headless_service_name()),
            // The autoscaler owns the count when there is one.
            replicas: settings
                .autoscaling
                .is_none()
                .then(|| int(settings.replicas.unwrap_or(1))),
            revision_history_limit: Some(5),
            selector: pod_selector(plan),
            pod_management_policy: Some(
                if pods.parallel {
                    "Parallel"
                } else {
                    "OrderedReady"
                }
                .to_owned(),
            ),
            update_strategy: Some(StatefulSetUpdateStrategy {
                type_: Some("RollingUpdate".to_owned()),
                rolling_update: None,
            }),
            // Data outlives the pods: deleting or scaling down the set keeps the claims,
            // said here rather than left to the cluster's default.
            persistent_volume_claim_retention_policy: Some(
                StatefulSetPersistentVolumeClaimRetentionPolicy {
                    when_deleted: Some("Retain".to_owned()),
                    when_scaled: Some("Retain".to_owned()),
                },
            ),
            template: deployment::pod_template(plan),
            volume_claim_templates: (!pods.claims.is_empty()).then(|| {
                pods.claims
                    .iter()
                    .map(|c| claim_template(plan, c))
                    .collect()
            }),
            ..StatefulSetSpec::default()
        }),
        ..StatefulSet::default()
    })
}

fn claim_template(plan: &Plan<'_>, claim: &PodClaim) -> PersistentVolumeClaim {
    PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some(claim.name.clone()),
            labels: Some(claim_labels(plan)),
            ..ObjectMeta::default()
        },
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec![claim.access_mode.clone()]),
            storage_class_name: claim.storage_class.clone(),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([(
                    "storage".to_owned(),
                    Quantity(claim.size.clone()),
                )])),
                limits: None,
            }),
            ..PersistentVolumeClaimSpec::default()
        }),
        status: None,
    }
}

/// Labels of the claims: the workload's, less the version. A StatefulSet's claim templates
/// cannot change once applied, so nothing that changes between releases may be in them.
fn claim_labels(plan: &Plan<'_>) -> BTreeMap<String, String> {
    let mut labels = plan.labels();
    labels.remove("app.kubernetes.io/version");
    labels
}
