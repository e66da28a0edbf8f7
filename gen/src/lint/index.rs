//! Lookups the rules share: objects by kind, selectors against labels, replica ranges,
//! and quantities as numbers.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{
    Container, PersistentVolumeClaim, PodSpec, PodTemplateSpec, Service,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

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
    by_kind!(stateful_sets, StatefulSet, StatefulSet);
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
    by_kind!(
        postgres_clusters,
        PostgresCluster,
        crate::custom::CustomResource<crate::objects::postgres::ClusterSpec>
    );

    /// Every object that runs pods from a template (Deployments, StatefulSets), in
    /// emission order.
    pub fn pod_owners(&self) -> impl Iterator<Item = PodOwner<'a>> + 'a {
        self.objects.iter().filter_map(|o| match o {
            Object::Deployment(d) => PodOwner::of_deployment(d),
            Object::StatefulSet(s) => PodOwner::of_stateful_set(s),
            _ => None,
        })
    }

    /// Whether an object of `kind` named `name` is emitted.
    #[must_use]
    pub fn has(&self, kind: &str, name: &str) -> bool {
        self.objects
            .iter()
            .any(|o| o.kind() == kind && o.name() == name)
    }

    /// The autoscaler that targets `owner`, if any.
    #[must_use]
    pub fn autoscaler_of(&self, owner: &PodOwner<'_>) -> Option<&'a HorizontalPodAutoscaler> {
        let name = owner.metadata.name.as_deref()?;
        self.autoscalers().find(|h| {
            h.spec.as_ref().is_some_and(|s| {
                s.scale_target_ref.kind == owner.kind && s.scale_target_ref.name == name
            })
        })
    }

    /// Fewest and most replicas `owner` can run with: its autoscaler's range, or its fixed
    /// count.
    #[must_use]
    pub fn replica_range(&self, owner: &PodOwner<'_>) -> (i32, i32) {
        if let Some(spec) = self.autoscaler_of(owner).and_then(|h| h.spec.as_ref()) {
            return (spec.min_replicas.unwrap_or(1), spec.max_replicas);
        }
        let n = owner.replicas.unwrap_or(1);
        (n, n)
    }

    /// Pod owners whose pods `selector` selects.
    pub fn pod_owners_selected_by<'s>(
        &self,
        selector: &'s LabelSelector,
    ) -> impl Iterator<Item = PodOwner<'a>> + 's
    where
        'a: 's,
    {
        self.pod_owners()
            .filter(move |o| selector_matches(selector, o.labels()))
    }

    /// Pod owners whose pods a plain label map (a Service selector) selects.
    pub fn pod_owners_matching<'s>(
        &self,
        selector: &'s BTreeMap<String, String>,
    ) -> impl Iterator<Item = PodOwner<'a>> + 's
    where
        'a: 's,
    {
        self.pod_owners().filter(move |o| {
            let labels = o.labels();
            selector.iter().all(|(k, v)| labels.get(k) == Some(v))
        })
    }
}

/// What an absent label or annotation map reads as.
static NO_ENTRIES: BTreeMap<String, String> = BTreeMap::new();

/// An object that runs pods from a template, as the rules see it whatever its kind: so a
/// rule about pods is written once and holds for every kind that has them.
#[derive(Debug, Clone, Copy)]
pub struct PodOwner<'a> {
    /// `kind`, e.g. `Deployment`.
    pub kind: &'static str,
    /// The owner's metadata.
    pub metadata: &'a ObjectMeta,
    /// `spec.selector`.
    pub selector: &'a LabelSelector,
    /// `spec.replicas`, when set.
    pub replicas: Option<i32>,
    /// `spec.template`.
    pub template: &'a PodTemplateSpec,
    /// Claims made for each pod from templates (a StatefulSet's volumeClaimTemplates).
    pub claim_templates: &'a [PersistentVolumeClaim],
    /// What a rolling update may add above the count: `None` for kinds that replace pods
    /// one at a time without surging.
    surge: Option<Option<&'a IntOrString>>,
}

impl<'a> PodOwner<'a> {
    /// The view of a Deployment (none without a spec).
    #[must_use]
    pub fn of_deployment(d: &'a Deployment) -> Option<Self> {
        let spec = d.spec.as_ref()?;
        let surge = spec
            .strategy
            .as_ref()
            .and_then(|s| s.rolling_update.as_ref())
            .and_then(|r| r.max_surge.as_ref());
        Some(PodOwner {
            kind: "Deployment",
            metadata: &d.metadata,
            selector: &spec.selector,
            replicas: spec.replicas,
            template: &spec.template,
            claim_templates: &[],
            surge: Some(surge),
        })
    }

    /// The view of a StatefulSet (none without a spec).
    #[must_use]
    pub fn of_stateful_set(s: &'a StatefulSet) -> Option<Self> {
        let spec = s.spec.as_ref()?;
        Some(PodOwner {
            kind: "StatefulSet",
            metadata: &s.metadata,
            selector: &spec.selector,
            replicas: spec.replicas,
            template: &spec.template,
            claim_templates: spec.volume_claim_templates.as_deref().unwrap_or_default(),
            surge: None,
        })
    }

    /// `Kind/name` for messages.
    #[must_use]
    pub fn who(&self) -> String {
        display(self.kind, self.metadata.name.as_ref())
    }

    /// The labels of the pod template. Borrowed: selectors are matched against every
    /// owner, and a copy per match made rendering grow faster than the components.
    #[must_use]
    pub fn labels(&self) -> &'a BTreeMap<String, String> {
        self.template
            .metadata
            .as_ref()
            .and_then(|m| m.labels.as_ref())
            .unwrap_or(&NO_ENTRIES)
    }

    /// The annotations of the pod template.
    #[must_use]
    pub fn annotations(&self) -> &'a BTreeMap<String, String> {
        self.template
            .metadata
            .as_ref()
            .and_then(|m| m.annotations.as_ref())
            .unwrap_or(&NO_ENTRIES)
    }

    /// The pod spec.
    #[must_use]
    pub fn pod_spec(&self) -> Option<&'a PodSpec> {
        self.template.spec.as_ref()
    }

    /// Every container of the pods, init containers included.
    pub fn containers(&self) -> impl Iterator<Item = &'a Container> + 'a {
        self.pod_spec().into_iter().flat_map(|p| {
            p.init_containers
                .iter()
                .flatten()
                .chain(p.containers.iter())
        })
    }

    /// Every container of the pods with its field path (`spec.template.spec.containers[0]`,
    /// `...initContainers[0]`), init containers first.
    pub fn containers_at(&self) -> impl Iterator<Item = (String, &'a Container)> + 'a {
        self.pod_spec().into_iter().flat_map(|p| {
            let init = p
                .init_containers
                .iter()
                .flatten()
                .enumerate()
                .map(|(i, c)| (format!("spec.template.spec.initContainers[{i}]"), c));
            let main = p
                .containers
                .iter()
                .enumerate()
                .map(|(i, c)| (format!("spec.template.spec.containers[{i}]"), c));
            init.chain(main)
        })
    }

    /// Pods a rolling update runs above `replicas` (Kubernetes' default surge is 25%,
    /// rounded up).
    #[must_use]
    pub fn surge(&self, replicas: i32) -> i32 {
        let percent = |p: i32| (p * replicas + 99) / 100;
        match self.surge {
            None => 0,
            Some(Some(IntOrString::Int(n))) => *n,
            Some(Some(IntOrString::String(p))) => {
                percent(p.trim_end_matches('%').parse::<i32>().unwrap_or(25))
            }
            Some(None) => percent(25),
        }
    }
}

/// `Kind/name` for messages.
#[must_use]
pub fn display(kind: &str, name: Option<&String>) -> String {
    format!("{kind}/{}", name.map_or("<unnamed>", String::as_str))
}

/// The labels of a Deployment's pod template.
#[must_use]
pub fn pod_labels(d: &Deployment) -> &BTreeMap<String, String> {
    PodOwner::of_deployment(d).map_or(&NO_ENTRIES, |o| o.labels())
}

/// A Deployment's pod spec.
#[must_use]
pub fn pod_spec(d: &Deployment) -> Option<&PodSpec> {
    PodOwner::of_deployment(d)?.pod_spec()
}

/// The annotations of a Deployment's pod template.
#[must_use]
pub fn pod_annotations(d: &Deployment) -> &BTreeMap<String, String> {
    PodOwner::of_deployment(d).map_or(&NO_ENTRIES, |o| o.annotations())
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
