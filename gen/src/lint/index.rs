//! Lookups the rules share: objects by kind, selectors against labels, replica ranges,
//! and quantities as numbers.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Container, PersistentVolumeClaim, PodSpec, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use crate::objects::Object;

/// The objects of one render, with typed accessors.
#[derive(Debug, Clone, Copy)]
pub struct Index<'a> {
    /// Every object.
    pub objects: &'a [Object],
}

macro_rules! by_kind {
    ($fn:ident, $variant:ident, $ty:ty) => {
        /// Every object of this kind.
        pub fn $fn(&self) -> impl Iterator<Item = &'a $ty> + 'a {
            self.objects.iter().filter_map(|o| {
                if let Object::$variant(x) = o {
                    Some(x)
                } else {
                    None
                }
            })
        }
    };
}

impl<'a> Index<'a> {
    /// Indexes `objects`.
    #[must_use]
    pub fn new(objects: &'a [Object]) -> Index<'a> {
        Index { objects }
    }

    by_kind!(deployments, Deployment, Deployment);
    by_kind!(services, Service, Service);
    by_kind!(
        autoscalers,
        HorizontalPodAutoscaler,
        HorizontalPodAutoscaler
    );
    by_kind!(
        budgets,
        PodDisruptionBudget,
        k8s_openapi::api::policy::v1::PodDisruptionBudget
    );
    by_kind!(
        ingresses,
        Ingress,
        k8s_openapi::api::networking::v1::Ingress
    );
    by_kind!(claims, PersistentVolumeClaim, PersistentVolumeClaim);
    by_kind!(
        config_maps,
        ConfigMap,
        k8s_openapi::api::core::v1::ConfigMap
    );
    by_kind!(
        service_accounts,
        ServiceAccount,
        k8s_openapi::api::core::v1::ServiceAccount
    );
    by_kind!(
        network_policies,
        NetworkPolicy,
        k8s_openapi::api::networking::v1::NetworkPolicy
    );
    by_kind!(
        quotas,
        ResourceQuota,
        k8s_openapi::api::core::v1::ResourceQuota
    );

    /// Whether an object of `kind` named `name` is emitted.
    #[must_use]
    pub fn has(&self, kind: &str, name: &str) -> bool {
        self.objects
            .iter()
            .any(|o| o.kind() == kind && o.name() == name)
    }

    /// The autoscaler that targets `d`, if any.
    #[must_use]
    pub fn autoscaler_of(&self, d: &Deployment) -> Option<&'a HorizontalPodAutoscaler> {
        let name = d.metadata.name.as_deref()?;
        self.autoscalers().find(|h| {
            h.spec.as_ref().is_some_and(|s| {
                s.scale_target_ref.kind == "Deployment" && s.scale_target_ref.name == name
            })
        })
    }

    /// Fewest and most replicas `d` can run with: its autoscaler's range, or its fixed count.
    #[must_use]
    pub fn replica_range(&self, d: &Deployment) -> (i32, i32) {
        if let Some(spec) = self.autoscaler_of(d).and_then(|h| h.spec.as_ref()) {
            return (spec.min_replicas.unwrap_or(1), spec.max_replicas);
        }
        let n = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        (n, n)
    }

    /// Deployments whose pods `selector` selects.
    pub fn deployments_selected_by<'s>(
        &self,
        selector: &'s LabelSelector,
    ) -> impl Iterator<Item = &'a Deployment> + 's
    where
        'a: 's,
    {
        self.deployments()
            .filter(move |d| selector_matches(selector, &pod_labels(d)))
    }

    /// Deployments whose pods a plain label map (a Service selector) selects.
    pub fn deployments_matching<'s>(
        &self,
        selector: &'s BTreeMap<String, String>,
    ) -> impl Iterator<Item = &'a Deployment> + 's
    where
        'a: 's,
    {
        self.deployments().filter(move |d| {
            let labels = pod_labels(d);
            selector.iter().all(|(k, v)| labels.get(k) == Some(v))
        })
    }
}

/// `Kind/name` for messages.
#[must_use]
pub fn display(kind: &str, name: Option<&String>) -> String {
    format!("{kind}/{}", name.map_or("<unnamed>", String::as_str))
}

/// The labels of a Deployment's pod template.
#[must_use]
pub fn pod_labels(d: &Deployment) -> BTreeMap<String, String> {
    d.spec
        .as_ref()
        .and_then(|s| s.template.metadata.as_ref())
        .and_then(|m| m.labels.clone())
        .unwrap_or_default()
}

/// A Deployment's pod spec.
#[must_use]
pub fn pod_spec(d: &Deployment) -> Option<&PodSpec> {
    d.spec.as_ref().and_then(|s| s.template.spec.as_ref())
}

/// The annotations of a Deployment's pod template.
#[must_use]
pub fn pod_annotations(d: &Deployment) -> BTreeMap<String, String> {
    d.spec
        .as_ref()
        .and_then(|s| s.template.metadata.as_ref())
        .and_then(|m| m.annotations.clone())
        .unwrap_or_default()
}

/// Every container of a Deployment's pods, init containers included.
pub fn all_containers(d: &Deployment) -> impl Iterator<Item = &Container> {
    pod_spec(d).into_iter().flat_map(|p| {
        p.init_containers
            .iter()
            .flatten()
            .chain(p.containers.iter())
    })
}

/// Whether `selector` selects objects labelled `labels`. An empty selector selects
/// everything, as in Kubernetes.
#[must_use]
pub fn selector_matches(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    let labels_ok = selector
        .match_labels
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    let exprs_ok = selector.match_expressions.iter().flatten().all(|e| {
        let value = labels.get(&e.key);
        let values = e.values.as_deref().unwrap_or_default();
        match e.operator.as_str() {
            "In" => value.is_some_and(|v| values.contains(v)),
            "NotIn" => value.is_none_or(|v| !values.contains(v)),
            "Exists" => value.is_some(),
            "DoesNotExist" => value.is_none(),
            _ => false,
        }
    });
    labels_ok && exprs_ok
}

/// Whether a selector has no terms at all.
#[must_use]
pub fn selector_is_empty(selector: &LabelSelector) -> bool {
    selector
        .match_labels
        .as_ref()
        .is_none_or(BTreeMap::is_empty)
        && selector
            .match_expressions
            .as_ref()
            .is_none_or(Vec::is_empty)
}

/// The access modes of a claim.
#[must_use]
pub fn access_modes(c: &PersistentVolumeClaim) -> Vec<String> {
    c.spec
        .as_ref()
        .and_then(|s| s.access_modes.clone())
        .unwrap_or_default()
}

/// A Kubernetes quantity as a number of base units (`500m` -> 0.5, `2Gi` -> 2147483648).
#[must_use]
pub fn quantity_value(q: &str) -> Option<f64> {
    let q = q.trim();
    const SUFFIXES: [(&str, f64); 13] = [
        ("Ki", 1024.0),
        ("Mi", 1_048_576.0),
        ("Gi", 1_073_741_824.0),
        ("Ti", 1_099_511_627_776.0),
        ("Pi", 1_125_899_906_842_624.0),
        ("Ei", 1_152_921_504_606_846_976.0),
        ("m", 0.001),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("P", 1e15),
        ("E", 1e18),
    ];
    let (number, factor) = SUFFIXES
        .iter()
        .find_map(|(s, f)| q.strip_suffix(s).map(|n| (n, *f)))
        .unwrap_or((q, 1.0));
    if number.is_empty()
        || !number
            .chars()
            .all(|c| c.is_ascii_digit() || ".+-eE".contains(c))
    {
        return None;
    }
    number
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .map(|v| v * factor)
}

/// The hub `c` pulls models from, when it runs the server's pull subcommand
/// (`akidb-embed models pull`): its `HF_ENDPOINT`, else the contract's default hub.
#[must_use]
pub fn pulls_models(c: &Container) -> Option<String> {
    let args = c.args.as_deref().unwrap_or_default();
    let pull = app::container::PULL_SUBCOMMAND;
    let pulls = args
        .windows(pull.len())
        .any(|w| w.iter().zip(pull).all(|(a, b)| a == b));
    if !pulls {
        return None;
    }
    let endpoint = c
        .env
        .iter()
        .flatten()
        .find(|v| v.name == app::env_vars::HF_ENDPOINT)
        .and_then(|v| v.value.clone());
    Some(endpoint.unwrap_or_else(|| app::hub::DEFAULT_ENDPOINT.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::quantity_value;

    #[test]
    fn quantities_become_numbers() {
        assert_eq!(quantity_value("500m"), Some(0.5));
        assert_eq!(quantity_value("2"), Some(2.0));
        assert_eq!(quantity_value("1.5Gi"), Some(1.5 * 1_073_741_824.0));
        assert_eq!(quantity_value("1e3"), Some(1000.0));
        assert_eq!(quantity_value("10G"), Some(1e10));
        assert_eq!(quantity_value("two"), None);
        assert_eq!(quantity_value(""), None);
    }
}
