//! One builder per Kubernetes kind, and the fixed order they are emitted in.

pub mod autoscaler;
pub mod config_map;
pub mod deployment;
pub mod disruption_budget;
pub mod ingress;
pub mod monitoring;
pub mod namespace;
pub mod network_policy;
pub mod parse;
pub mod resource_quota;
pub mod service;
pub mod service_account;
pub mod volume_claim;

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{
    ConfigMap, Namespace, PersistentVolumeClaim, ResourceQuota, Service, ServiceAccount,
};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use serde::{Serialize, Serializer};

use crate::monitoring::CustomResource;
use crate::monitoring::rules::PrometheusRuleSpec;
use crate::monitoring::service_monitor::ServiceMonitorSpec;
use crate::workload::Plan;

/// A typed Kubernetes object. The variant order is the emission order: what others
/// depend on comes first, as `kubectl apply` and Helm install them.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
// A render holds ten of these once; boxing the large variants would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum Object {
    Namespace(Namespace),
    ServiceAccount(ServiceAccount),
    ConfigMap(ConfigMap),
    PersistentVolumeClaim(PersistentVolumeClaim),
    Service(Service),
    Deployment(Deployment),
    HorizontalPodAutoscaler(HorizontalPodAutoscaler),
    PodDisruptionBudget(PodDisruptionBudget),
    Ingress(Ingress),
    NetworkPolicy(NetworkPolicy),
    ResourceQuota(ResourceQuota),
    ServiceMonitor(CustomResource<ServiceMonitorSpec>),
    PrometheusRule(CustomResource<PrometheusRuleSpec>),
}

impl Object {
    /// The object's `kind`.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Object::Namespace(_) => "Namespace",
            Object::ServiceAccount(_) => "ServiceAccount",
            Object::ConfigMap(_) => "ConfigMap",
            Object::PersistentVolumeClaim(_) => "PersistentVolumeClaim",
            Object::Service(_) => "Service",
            Object::Deployment(_) => "Deployment",
            Object::HorizontalPodAutoscaler(_) => "HorizontalPodAutoscaler",
            Object::PodDisruptionBudget(_) => "PodDisruptionBudget",
            Object::Ingress(_) => "Ingress",
            Object::NetworkPolicy(_) => "NetworkPolicy",
            Object::ResourceQuota(_) => "ResourceQuota",
            Object::ServiceMonitor(o) => o.kind(),
            Object::PrometheusRule(o) => o.kind(),
        }
    }

    /// The object's metadata.
    #[must_use]
    pub fn metadata(&self) -> &ObjectMeta {
        match self {
            Object::Namespace(o) => &o.metadata,
            Object::ServiceAccount(o) => &o.metadata,
            Object::ConfigMap(o) => &o.metadata,
            Object::PersistentVolumeClaim(o) => &o.metadata,
            Object::Service(o) => &o.metadata,
            Object::Deployment(o) => &o.metadata,
            Object::HorizontalPodAutoscaler(o) => &o.metadata,
            Object::PodDisruptionBudget(o) => &o.metadata,
            Object::Ingress(o) => &o.metadata,
            Object::NetworkPolicy(o) => &o.metadata,
            Object::ResourceQuota(o) => &o.metadata,
            Object::ServiceMonitor(o) => &o.metadata,
            Object::PrometheusRule(o) => &o.metadata,
        }
    }

    /// Whether the object is a custom resource (its kind needs a CRD in the cluster).
    #[must_use]
    pub fn is_custom(&self) -> bool {
        matches!(self, Object::ServiceMonitor(_) | Object::PrometheusRule(_))
    }

    /// Position of the object's kind in the emission order (the variant order).
    #[must_use]
    pub fn order(&self) -> usize {
        match self {
            Object::Namespace(_) => 0,
            Object::ServiceAccount(_) => 1,
            Object::ConfigMap(_) => 2,
            Object::PersistentVolumeClaim(_) => 3,
            Object::Service(_) => 4,
            Object::Deployment(_) => 5,
            Object::HorizontalPodAutoscaler(_) => 6,
            Object::PodDisruptionBudget(_) => 7,
            Object::Ingress(_) => 8,
            Object::NetworkPolicy(_) => 9,
            Object::ResourceQuota(_) => 10,
            Object::ServiceMonitor(_) => 11,
            Object::PrometheusRule(_) => 12,
        }
    }

    /// The object's name.
    #[must_use]
    pub fn name(&self) -> &str {
        self.metadata().name.as_deref().unwrap_or_default()
    }
}

impl Serialize for Object {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Object::Namespace(o) => o.serialize(s),
            Object::ServiceAccount(o) => o.serialize(s),
            Object::ConfigMap(o) => o.serialize(s),
            Object::PersistentVolumeClaim(o) => o.serialize(s),
            Object::Service(o) => o.serialize(s),
            Object::Deployment(o) => o.serialize(s),
            Object::HorizontalPodAutoscaler(o) => o.serialize(s),
            Object::PodDisruptionBudget(o) => o.serialize(s),
            Object::Ingress(o) => o.serialize(s),
            Object::NetworkPolicy(o) => o.serialize(s),
            Object::ResourceQuota(o) => o.serialize(s),
            Object::ServiceMonitor(o) => o.serialize(s),
            Object::PrometheusRule(o) => o.serialize(s),
        }
    }
}

/// Every object of an application's component `plans`, in emission order (by kind, then
/// component); objects the settings turn off are absent. The namespace-level objects come
/// once, labelled as the application.
#[must_use]
pub fn build_all(plans: &[Plan<'_>]) -> Vec<Object> {
    let Some(first) = plans.first() else {
        return Vec::new();
    };
    let mut out = vec![Object::Namespace(namespace::build(first.app))];
    for plan in plans {
        // Under blue-green the pods come once per colour and the API Service follows the
        // active one; what serves every pod (config, claim, metrics, policy) stays single.
        let colors = plan.colors();
        let serving = colors
            .iter()
            .find(|c| c.color == plan.active_color())
            .unwrap_or(plan);
        out.push(Object::ServiceAccount(service_account::build(plan)));
        out.extend(config_map::build(plan).map(Object::ConfigMap));
        out.extend(volume_claim::build(plan).map(Object::PersistentVolumeClaim));
        out.push(Object::Service(service::build(serving)));
        out.extend(service::build_metrics(plan).map(Object::Service));
        if colors.is_empty() {
            out.extend(pods(plan));
        }
        for colored in &colors {
            out.push(Object::Service(service::build_for_color(colored)));
            out.extend(pods(colored));
        }
        out.extend(ingress::build(plan).map(Object::Ingress));
        out.extend(network_policy::build(plan).map(Object::NetworkPolicy));
        if let Some(m) = monitoring::build(plan, serving) {
            out.push(Object::ConfigMap(m.dashboard));
            out.push(Object::ServiceMonitor(m.service_monitor));
            out.push(Object::PrometheusRule(m.prometheus_rule));
        }
    }
    out.extend(
        volume_claim::build_shared(first.app)
            .into_iter()
            .map(Object::PersistentVolumeClaim),
    );
    out.extend(resource_quota::build(first).map(Object::ResourceQuota));
    // Stable: within a kind, components keep their (sorted) order.
    out.sort_by_key(Object::order);
    out
}

/// The Deployment of `plan` with its autoscaler and budget.
fn pods(plan: &Plan<'_>) -> Vec<Object> {
    let mut out = vec![Object::Deployment(deployment::build(plan))];
    out.extend(autoscaler::build(plan).map(Object::HorizontalPodAutoscaler));
    out.extend(disruption_budget::build(plan).map(Object::PodDisruptionBudget));
    out
}

/// Metadata of a namespaced object of the workload.
#[must_use]
pub fn meta(plan: &Plan<'_>, name: impl Into<String>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: Some(plan.namespace().to_owned()),
        labels: Some(plan.labels()),
        ..ObjectMeta::default()
    }
}

/// A selector for the workload's pods.
#[must_use]
pub fn pod_selector(plan: &Plan<'_>) -> LabelSelector {
    LabelSelector {
        match_labels: Some(plan.selector_labels()),
        ..LabelSelector::default()
    }
}

/// Annotations map from pairs.
#[must_use]
pub fn annotations<const N: usize>(pairs: [(&str, String); N]) -> BTreeMap<String, String> {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// Converts a count from the settings' unsigned type to the API's `i32`, saturating.
#[must_use]
pub fn int(n: impl Into<u64>) -> i32 {
    i32::try_from(n.into()).unwrap_or(i32::MAX)
}
