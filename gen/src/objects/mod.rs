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
pub mod postgres;
pub mod resource_quota;
pub mod service;
pub mod service_account;
pub mod stateful_set;
pub mod volume_claim;

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{
    ConfigMap, Namespace, PersistentVolumeClaim, ResourceQuota, Service, ServiceAccount,
};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::{Metadata, Resource};
use serde::{Serialize, Serializer};

use crate::monitoring::CustomResource;
use crate::monitoring::rules::PrometheusRuleSpec;
use crate::monitoring::service_monitor::ServiceMonitorSpec;
use crate::workload::{Plan, Plans};

use self::postgres::ClusterSpec;

/// Declares [`Object`] from one list of kinds: the listed order is the emission order,
/// and `kind`, `apiVersion`, metadata, parsing and serialisation all follow from each
/// type's k8s-openapi [`Resource`] and [`Metadata`] traits, so a new kind is one line.
/// Each kind is `built_in` (read back by [`parse`]) or `custom` (validated against its
/// CRD instead).
macro_rules! kinds {
    ($($origin:ident $variant:ident($ty:ty),)*) => {
        /// A typed Kubernetes object. The variant order is the emission order: what others
        /// depend on comes first, as `kubectl apply` and Helm install them.
        #[derive(Debug, Clone, PartialEq)]
        #[allow(missing_docs)]
        // A render holds each of these once; boxing the large variants would buy nothing.
        #[allow(clippy::large_enum_variant)]
        pub enum Object {
            $($variant($ty),)*
        }

        impl Object {
            /// The object's `kind`.
            #[must_use]
            pub fn kind(&self) -> &'static str {
                match self {
                    $(Object::$variant(_) => <$ty as Resource>::KIND,)*
                }
            }

            /// The object's `apiVersion`.
            #[must_use]
            pub fn api_version(&self) -> &'static str {
                match self {
                    $(Object::$variant(_) => <$ty as Resource>::API_VERSION,)*
                }
            }

            /// The object's metadata.
            #[must_use]
            pub fn metadata(&self) -> &ObjectMeta {
                match self {
                    $(Object::$variant(o) => Metadata::metadata(o),)*
                }
            }

            /// Whether the object is a custom resource (its kind needs a CRD in the cluster).
            #[must_use]
            pub fn is_custom(&self) -> bool {
                match self {
                    $(Object::$variant(_) => kinds!(@custom $origin),)*
                }
            }

            /// Position of the object's kind in the emission order.
            #[must_use]
            pub fn order(&self) -> usize {
                let order: &[&str] = &[$(stringify!($variant),)*];
                let name = match self {
                    $(Object::$variant(_) => stringify!($variant),)*
                };
                order.iter().position(|v| *v == name).unwrap_or(order.len())
            }

            /// `apiVersion` and `kind` of every built-in kind, as a reader of YAML meets them
            /// (custom kinds hold empty pairs).
            pub const BUILT_IN: &'static [(&'static str, &'static str)] = &[$(
                kinds!(@pair $origin $ty),
            )*];

            /// The built-in object `doc` holds, when `api_version` and `kind` name one.
            fn from_document(
                api_version: &str,
                kind: &str,
                doc: serde_json::Value,
            ) -> Option<Result<Object, serde_json::Error>> {
                $(kinds!(@read $origin $variant($ty), api_version, kind, doc);)*
                None
            }
        }

        impl Serialize for Object {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                match self {
                    $(Object::$variant(o) => o.serialize(s),)*
                }
            }
        }
    };
    (@custom built_in) => { false };
    (@custom custom) => { true };
    // Custom kinds are listed as empty pairs, which match no document.
    (@pair built_in $ty:ty) => { (<$ty as Resource>::API_VERSION, <$ty as Resource>::KIND) };
    (@pair custom $ty:ty) => { ("", "") };
    (@read built_in $variant:ident($ty:ty), $api_version:ident, $kind:ident, $doc:ident) => {
        if $api_version == <$ty as Resource>::API_VERSION && $kind == <$ty as Resource>::KIND {
            return Some(serde_json::from_value($doc).map(Object::$variant));
        }
    };
    (@read custom $variant:ident($ty:ty), $api_version:ident, $kind:ident, $doc:ident) => {};
}

// Databases and StatefulSets come before the Deployments that use them (as an ordered
// apply would have it); policies, quota and monitoring after the workloads.
kinds! {
    built_in Namespace(Namespace),
    built_in ServiceAccount(ServiceAccount),
    built_in ConfigMap(ConfigMap),
    built_in PersistentVolumeClaim(PersistentVolumeClaim),
    built_in Service(Service),
    custom PostgresCluster(CustomResource<ClusterSpec>),
    built_in StatefulSet(StatefulSet),
    built_in Deployment(Deployment),
    built_in HorizontalPodAutoscaler(HorizontalPodAutoscaler),
    built_in PodDisruptionBudget(PodDisruptionBudget),
    built_in Ingress(Ingress),
    built_in NetworkPolicy(NetworkPolicy),
    built_in ResourceQuota(ResourceQuota),
    custom ServiceMonitor(CustomResource<ServiceMonitorSpec>),
    custom PrometheusRule(CustomResource<PrometheusRuleSpec>),
}

impl Object {
    /// The object's name.
    #[must_use]
    pub fn name(&self) -> &str {
        self.metadata().name.as_deref().unwrap_or_default()
    }
}

/// Every object of an application's component `plans`, in emission order (by kind, then
/// component); objects the settings turn off are absent. The namespace-level objects come
/// once, labelled as the application.
#[must_use]
pub fn build_all(all: &Plans<'_>) -> Vec<Object> {
    let app = match (all.pods.first(), all.databases.first()) {
        (Some(p), _) => p.app,
        (None, Some(d)) => d.app,
        (None, None) => return Vec::new(),
    };
    let plans = &all.pods;
    let mut out = vec![Object::Namespace(namespace::build(app))];
    for db in &all.databases {
        out.push(Object::PostgresCluster(postgres::build(db)));
        out.push(Object::NetworkPolicy(postgres::network_policy(db)));
    }
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
        out.extend(service::build_headless(plan).map(Object::Service));
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
    out.extend(ingress::build_routes(app).map(Object::Ingress));
    out.extend(
        volume_claim::build_shared(app)
            .into_iter()
            .map(Object::PersistentVolumeClaim),
    );
    // Labelled like the first component's objects, as before applications had several.
    let quota_labels = match (plans.first(), all.databases.first()) {
        (Some(p), _) => p.labels(),
        (None, Some(d)) => d.labels(),
        (None, None) => BTreeMap::new(),
    };
    out.extend(resource_quota::build(app, quota_labels).map(Object::ResourceQuota));
    // Stable: within a kind, components keep their (sorted) order.
    out.sort_by_key(Object::order);
    out
}

/// The Deployment or StatefulSet of `plan` with its autoscaler and budget.
fn pods(plan: &Plan<'_>) -> Vec<Object> {
    let mut out = vec![match stateful_set::build(plan) {
        Some(s) => Object::StatefulSet(s),
        None => Object::Deployment(deployment::build(plan)),
    }];
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
        annotations: sync_wave(plan.app, plan.name),
        ..ObjectMeta::default()
    }
}

/// Annotation key Argo CD orders its sync by.
pub const SYNC_WAVE_ANNOTATION: &str = "argocd.argoproj.io/sync-wave";

/// The sync-wave annotation of component `name`'s objects, when the environment asks for
/// waves.
#[must_use]
pub fn sync_wave(
    app: &crate::settings::Environment,
    name: &crate::settings::DnsLabel,
) -> Option<BTreeMap<String, String>> {
    app.sync_waves.then(|| {
        BTreeMap::from([(
            SYNC_WAVE_ANNOTATION.to_owned(),
            app.sync_wave(name).to_string(),
        )])
    })
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
