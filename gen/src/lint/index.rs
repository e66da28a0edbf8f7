//! Lookups the rules share: objects by kind, selectors against labels, replica ranges,
//! and quantities as numbers.

use std::collections::BTreeMap;

use k8s_openapi::Resource;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{
    Container, PersistentVolumeClaim, PodSpec, PodTemplateSpec, Service,
};
use k8s_openapi::api::networking::v1::{NetworkPolicy, NetworkPolicySpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::by_label::ByLabel;
use crate::objects::Object;

/// The objects of one render, with typed accessors. The lookups the rules make per pod
/// owner or per selector are tables built here once, so that linting grows with the
/// number of objects rather than with its square.
#[derive(Debug, Clone)]
pub struct Index<'a> {
    /// Every object.
    pub objects: &'a [Object],
    /// Every pod owner, in emission order.
    owners: Vec<PodOwner<'a>>,
    /// Positions in `owners` under every pair of their pod template labels.
    owner_labels: ByLabel<'a>,
    /// Every NetworkPolicy that has a spec, in emission order.
    policies: Vec<(&'a NetworkPolicy, &'a NetworkPolicySpec)>,
    /// Positions in `policies`, each under one pair its podSelector requires: the pair
    /// fewest pod owners carry, so that the fewest pods it does not select look at it.
    policy_labels: ByLabel<'a>,
    /// Positions in `policies` whose podSelector requires no pair (none, empty, or
    /// expressions only): they are checked against every pod.
    policies_unlabelled: Vec<usize>,
    /// Positions in `objects` by name (unnamed: ""), whatever their kind: few objects
    /// share a name.
    named: BTreeMap<&'a str, Vec<usize>>,
    /// The first autoscaler with a spec that targets each kind and name.
    autoscaler_by_target: BTreeMap<(&'a str, &'a str), &'a HorizontalPodAutoscaler>,
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
    ($fn:ident, $named:ident, $variant:ident, $ty:ty) => {
        by_kind!($fn, $variant, $ty);

        /// The objects of this kind named `name` (`None`: the unnamed ones), in emission
        /// order.
        pub fn $named<'s>(&'s self, name: Option<&'s str>) -> impl Iterator<Item = &'a $ty> + 's {
            self.named(<$ty as Resource>::KIND, name).filter_map(|o| {
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
        let owners: Vec<PodOwner<'a>> = objects.iter().filter_map(PodOwner::of).collect();
        let mut owner_labels = ByLabel::default();
        for (i, owner) in owners.iter().enumerate() {
            for (k, v) in owner.labels() {
                owner_labels.file(k, v, i);
            }
        }
        let policies: Vec<_> = objects
            .iter()
            .filter_map(|o| match o {
                Object::NetworkPolicy(p) => Some((p, p.spec.as_ref()?)),
                _ => None,
            })
            .collect();
        let mut policy_labels = ByLabel::default();
        let mut policies_unlabelled = Vec::new();
        for (i, (_, spec)) in policies.iter().enumerate() {
            let rarest = spec
                .pod_selector
                .as_ref()
                .and_then(|s| s.match_labels.as_ref())
                .and_then(|m| m.iter().min_by_key(|(k, v)| owner_labels.get(k, v).len()));
            match rarest {
                Some((k, v)) => policy_labels.file(k, v, i),
                None => policies_unlabelled.push(i),
            }
        }
        let mut named: BTreeMap<_, Vec<usize>> = BTreeMap::new();
        for (i, o) in objects.iter().enumerate() {
            named.entry(o.name()).or_default().push(i);
        }
        let mut autoscaler_by_target = BTreeMap::new();
        for o in objects {
            if let Object::HorizontalPodAutoscaler(h) = o
                && let Some(spec) = &h.spec
            {
                let target = &spec.scale_target_ref;
                autoscaler_by_target
                    .entry((target.kind.as_str(), target.name.as_str()))
                    .or_insert(h);
            }
        }
        Index {
            objects,
            owners,
            owner_labels,
            policies,
            policy_labels,
            policies_unlabelled,
            named,
            autoscaler_by_target,
        }
    }

    by_kind!(deployments, Deployment, Deployment);
    by_kind!(stateful_sets, stateful_sets_named, StatefulSet, StatefulSet);
    by_kind!(services, services_named, Service, Service);
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
    by_kind!(
        claims,
        claims_named,
        PersistentVolumeClaim,
        PersistentVolumeClaim
    );
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
    by_kind!(network_policies, NetworkPolicy, NetworkPolicy);
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
    pub fn pod_owners(&self) -> impl Iterator<Item = PodOwner<'a>> + '_ {
        self.owners.iter().copied()
    }

    /// The objects of `kind` named `name` (`None`: the unnamed ones), in emission order.
    fn named<'s>(
        &'s self,
        kind: &'s str,
        name: Option<&'s str>,
    ) -> impl Iterator<Item = &'a Object> + 's {
        self.filed_as(name.unwrap_or_default())
            .filter(move |o| o.kind() == kind && o.metadata().name.as_deref() == name)
    }

    /// The objects whose `Object::name` is `name` (unnamed ones read as ""), in emission
    /// order.
    fn filed_as(&self, name: &str) -> impl Iterator<Item = &'a Object> + '_ {
        self.named
            .get(name)
            .into_iter()
            .flatten()
            .map(|&i| &self.objects[i])
    }

    /// Whether an object of `kind` named `name` is emitted (unnamed ones read as "").
    #[must_use]
    pub fn has(&self, kind: &str, name: &str) -> bool {
        self.filed_as(name).any(|o| o.kind() == kind)
    }

    /// The first pod owner of `kind` named `name`.
    #[must_use]
    pub fn pod_owner(&self, kind: &str, name: &str) -> Option<PodOwner<'a>> {
        self.named(kind, Some(name)).find_map(PodOwner::of)
    }

    /// The autoscaler that targets `owner`, if any.
    #[must_use]
    pub fn autoscaler_of(&self, owner: &PodOwner<'_>) -> Option<&'a HorizontalPodAutoscaler> {
        let name = owner.metadata.name.as_deref()?;
        self.autoscaler_by_target.get(&(owner.kind, name)).copied()
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

    /// The pod owners whose pod labels hold every pair of `pairs`, and maybe others: the
    /// candidates a selector with these matchLabels is checked against. Without pairs,
    /// every owner.
    fn owners_with<'s>(
        &'s self,
        pairs: &BTreeMap<String, String>,
    ) -> impl Iterator<Item = PodOwner<'a>> + 's {
        let (listed, all) = match self.owner_labels.rarest(pairs) {
            Some(listed) => (listed, 0..0),
            None => (&[][..], 0..self.owners.len()),
        };
        listed.iter().copied().chain(all).map(|i| self.owners[i])
    }

    /// Pod owners whose pods `selector` selects, in emission order.
    pub fn pod_owners_selected_by<'s>(
        &'s self,
        selector: &'s LabelSelector,
    ) -> impl Iterator<Item = PodOwner<'a>> + 's {
        self.owners_with(selector.match_labels.as_ref().unwrap_or(&NO_ENTRIES))
            .filter(move |o| selector_matches(selector, o.labels()))
    }

    /// Pod owners whose pods a plain label map (a Service selector) selects, in emission
    /// order.
    pub fn pod_owners_matching<'s>(
        &'s self,
        selector: &'s BTreeMap<String, String>,
    ) -> impl Iterator<Item = PodOwner<'a>> + 's {
        self.owners_with(selector).filter(move |o| {
            let labels = o.labels();
            selector.iter().all(|(k, v)| labels.get(k) == Some(v))
        })
    }

    /// The NetworkPolicies whose podSelector selects pods labelled `labels` (no podSelector
    /// selects every pod), with their specs, in emission order. Policies without a spec
    /// select nothing.
    pub fn network_policies_selecting<'s>(
        &'s self,
        labels: &'s BTreeMap<String, String>,
    ) -> impl Iterator<Item = (&'a NetworkPolicy, &'a NetworkPolicySpec)> + 's {
        let mut candidates: Vec<usize> = labels
            .iter()
            .flat_map(|(k, v)| self.policy_labels.get(k, v))
            .chain(&self.policies_unlabelled)
            .copied()
            .collect();
        // Each policy is filed once, under one pair or as unlabelled, so there are no
        // duplicates to remove; sorting restores emission order.
        candidates.sort_unstable();
        candidates
            .into_iter()
            .map(|i| self.policies[i])
            .filter(move |(_, spec)| {
                spec.pod_selector
                    .as_ref()
                    .is_none_or(|s| selector_matches(s, labels))
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
    /// The view of a Deployment or StatefulSet (none for other kinds, or without a spec).
    #[must_use]
    pub fn of(o: &'a Object) -> Option<Self> {
        match o {
            Object::Deployment(d) => PodOwner::of_deployment(d),
            Object::StatefulSet(s) => PodOwner::of_stateful_set(s),
            _ => None,
        }
    }

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

    /// The labels of the pod template. Borrowed: selectors are matched against many
    /// owners, and a copy per match made rendering grow faster than the components.
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
mod tests;
