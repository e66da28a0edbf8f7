//! The index's lookups against what they replaced (every selector checked against every
//! owner), and the helpers.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, StatefulSet, StatefulSetSpec};
use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HorizontalPodAutoscaler, HorizontalPodAutoscalerSpec,
};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::api::networking::v1::{NetworkPolicy, NetworkPolicySpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    LabelSelector, LabelSelectorRequirement, ObjectMeta,
};

use super::{Index, PodOwner, quantity_value, selector_matches};
use crate::objects::Object;

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn meta(namespace: &str, name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        namespace: Some(namespace.to_owned()),
        ..ObjectMeta::default()
    }
}

fn template(labels: &[(&str, &str)]) -> PodTemplateSpec {
    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(map(labels)),
            ..ObjectMeta::default()
        }),
        spec: None,
    }
}

fn deployment(namespace: &str, name: &str, labels: &[(&str, &str)]) -> Object {
    Object::Deployment(Deployment {
        metadata: meta(namespace, name),
        spec: Some(DeploymentSpec {
            template: template(labels),
            ..DeploymentSpec::default()
        }),
        status: None,
    })
}

fn stateful_set(name: &str, labels: &[(&str, &str)]) -> Object {
    Object::StatefulSet(StatefulSet {
        metadata: meta("ns", name),
        spec: Some(StatefulSetSpec {
            template: template(labels),
            ..StatefulSetSpec::default()
        }),
        status: None,
    })
}

fn autoscaler(name: &str, kind: &str, target: &str) -> Object {
    Object::HorizontalPodAutoscaler(HorizontalPodAutoscaler {
        metadata: meta("ns", name),
        spec: Some(HorizontalPodAutoscalerSpec {
            scale_target_ref: CrossVersionObjectReference {
                api_version: Some("apps/v1".to_owned()),
                kind: kind.to_owned(),
                name: target.to_owned(),
            },
            max_replicas: 3,
            ..HorizontalPodAutoscalerSpec::default()
        }),
        status: None,
    })
}

fn policy(name: &str, pod_selector: Option<LabelSelector>) -> Object {
    Object::NetworkPolicy(NetworkPolicy {
        metadata: meta("ns", name),
        spec: Some(NetworkPolicySpec {
            pod_selector,
            ..NetworkPolicySpec::default()
        }),
    })
}

fn labels(pairs: &[(&str, &str)]) -> LabelSelector {
    LabelSelector {
        match_labels: Some(map(pairs)),
        match_expressions: None,
    }
}

fn expression(key: &str, operator: &str, values: &[&str]) -> LabelSelector {
    LabelSelector {
        match_labels: None,
        match_expressions: Some(vec![LabelSelectorRequirement {
            key: key.to_owned(),
            operator: operator.to_owned(),
            values: Some(values.iter().map(|v| (*v).to_owned()).collect()),
        }]),
    }
}

/// The shop: three Deployments and a StatefulSet, labelled so that selectors overlap.
fn shop() -> Vec<Object> {
    vec![
        deployment("ns", "web", &[("app", "shop"), ("tier", "web")]),
        deployment("ns", "api", &[("app", "shop"), ("tier", "api")]),
        deployment("ns", "blog", &[("app", "blog"), ("tier", "web")]),
        stateful_set("db", &[("app", "shop"), ("tier", "db")]),
    ]
}

/// `namespace/Kind/name` of what the index selects, and the same by checking
/// every owner, which is what the rules did before the index.
fn selected(index: &Index<'_>, selector: &LabelSelector) -> Vec<String> {
    let found = names(index.pod_owners_selected_by(selector));
    let scanned = names(
        index
            .pod_owners()
            .filter(|o| selector_matches(selector, o.labels())),
    );
    assert_eq!(found, scanned, "{selector:?}");
    found
}

fn names<'a>(owners: impl Iterator<Item = PodOwner<'a>>) -> Vec<String> {
    owners
        .map(|o| {
            let namespace = o.metadata.namespace.as_deref().unwrap_or_default();
            format!("{namespace}/{}", o.who())
        })
        .collect()
}

#[test]
fn a_selector_selects_the_owners_holding_all_its_labels() {
    let objects = shop();
    let index = Index::new(&objects);
    assert_eq!(
        selected(&index, &labels(&[("app", "shop"), ("tier", "web")])),
        ["ns/Deployment/web"]
    );
    assert_eq!(
        selected(&index, &labels(&[("tier", "web"), ("app", "shop")])),
        ["ns/Deployment/web"]
    );
    assert_eq!(
        selected(&index, &labels(&[("app", "shop")])),
        [
            "ns/Deployment/web",
            "ns/Deployment/api",
            "ns/StatefulSet/db"
        ]
    );
    assert!(selected(&index, &labels(&[("app", "shop"), ("tier", "cache")])).is_empty());
    assert!(selected(&index, &labels(&[("app", "shop"), ("tier", "")])).is_empty());
    let mut both = labels(&[("app", "shop")]);
    both.match_expressions = expression("tier", "NotIn", &["web"]).match_expressions;
    assert_eq!(
        selected(&index, &both),
        ["ns/Deployment/api", "ns/StatefulSet/db"]
    );
    let service = map(&[("app", "shop"), ("tier", "api")]);
    assert_eq!(
        names(index.pod_owners_matching(&service)),
        ["ns/Deployment/api"]
    );
}

#[test]
fn a_selector_of_expressions_only_is_checked_against_every_owner() {
    let objects = shop();
    let index = Index::new(&objects);
    assert_eq!(
        selected(&index, &expression("tier", "In", &["web", "db"])),
        [
            "ns/Deployment/web",
            "ns/Deployment/blog",
            "ns/StatefulSet/db"
        ]
    );
    assert_eq!(
        selected(&index, &expression("app", "NotIn", &["shop"])),
        ["ns/Deployment/blog"]
    );
    assert!(selected(&index, &expression("tier", "DoesNotExist", &[])).is_empty());
}

#[test]
fn an_empty_selector_selects_every_owner() {
    let objects = shop();
    let index = Index::new(&objects);
    let every = [
        "ns/Deployment/web",
        "ns/Deployment/api",
        "ns/Deployment/blog",
        "ns/StatefulSet/db",
    ];
    assert_eq!(selected(&index, &LabelSelector::default()), every);
    assert_eq!(selected(&index, &labels(&[])), every);
    assert_eq!(names(index.pod_owners_matching(&BTreeMap::new())), every);
}

#[test]
fn owners_of_other_namespaces_are_selected_as_before() {
    // Matching never looked at namespaces: `single-namespace` rejects the stray
    // object instead. The index keeps that, and keeps the two owners apart.
    let objects = vec![
        deployment("blue", "api", &[("app", "api")]),
        deployment("green", "api", &[("app", "api")]),
    ];
    let index = Index::new(&objects);
    assert_eq!(
        selected(&index, &labels(&[("app", "api")])),
        ["blue/Deployment/api", "green/Deployment/api"]
    );
    assert_eq!(
        names(index.pod_owners_matching(&map(&[("app", "api")]))),
        ["blue/Deployment/api", "green/Deployment/api"]
    );
}

#[test]
fn policies_select_pods_by_their_labels_in_emission_order() {
    let mut objects = shop();
    objects.extend([
        policy(
            "shop-web",
            Some(labels(&[("app", "shop"), ("tier", "web")])),
        ),
        policy("everything", None),
        policy("empty", Some(LabelSelector::default())),
        policy("web-tier", Some(expression("tier", "In", &["web"]))),
        policy("shop", Some(labels(&[("app", "shop")]))),
        policy("cache", Some(labels(&[("tier", "cache")]))),
    ]);
    let index = Index::new(&objects);
    for owner in index.pod_owners() {
        let found: Vec<_> = index
            .network_policies_selecting(owner.labels())
            .map(|(p, _)| p.metadata.name.clone().unwrap_or_default())
            .collect();
        let scanned: Vec<_> = index
            .network_policies()
            .filter(|p| {
                p.spec.as_ref().is_some_and(|s| {
                    s.pod_selector
                        .as_ref()
                        .is_none_or(|sel| selector_matches(sel, owner.labels()))
                })
            })
            .map(|p| p.metadata.name.clone().unwrap_or_default())
            .collect();
        assert_eq!(found, scanned, "{}", owner.who());
    }
    let web = map(&[("app", "shop"), ("tier", "web")]);
    let found: Vec<_> = index
        .network_policies_selecting(&web)
        .map(|(p, _)| p.metadata.name.as_deref().unwrap_or_default())
        .collect();
    assert_eq!(
        found,
        ["shop-web", "everything", "empty", "web-tier", "shop"]
    );
}

#[test]
fn an_autoscaler_belongs_to_the_kind_it_targets() {
    let objects = vec![
        deployment("ns", "db", &[("app", "db")]),
        stateful_set("db", &[("app", "db")]),
        autoscaler("db-set", "StatefulSet", "db"),
        autoscaler("db-deployment", "Deployment", "db"),
        autoscaler("db-set-again", "StatefulSet", "db"),
    ];
    let index = Index::new(&objects);
    let of = |kind: &str| {
        let owner = index.pod_owner(kind, "db").unwrap();
        assert_eq!(owner.kind, kind);
        index
            .autoscaler_of(&owner)
            .and_then(|h| h.metadata.name.clone())
    };
    assert_eq!(of("Deployment").as_deref(), Some("db-deployment"));
    assert_eq!(of("StatefulSet").as_deref(), Some("db-set"));
    assert!(index.pod_owner("Service", "db").is_none());
    assert!(index.pod_owner("Deployment", "web").is_none());

    let alone = vec![deployment("ns", "db", &[("app", "db")]), objects[2].clone()];
    let index = Index::new(&alone);
    let owner = index.pod_owner("Deployment", "db").unwrap();
    assert!(index.autoscaler_of(&owner).is_none());
    assert_eq!(index.replica_range(&owner), (1, 1));
}

#[test]
fn has_reads_an_unnamed_object_as_named_empty() {
    let mut unnamed = deployment("ns", "x", &[]);
    if let Object::Deployment(d) = &mut unnamed {
        d.metadata.name = None;
    }
    let objects = vec![unnamed, stateful_set("db", &[])];
    let index = Index::new(&objects);
    assert!(index.has("Deployment", ""));
    assert!(!index.has("StatefulSet", ""));
    assert!(index.has("StatefulSet", "db"));
    assert!(!index.has("Deployment", "db"));
    assert_eq!(index.stateful_sets_named(Some("db")).count(), 1);
    assert_eq!(index.stateful_sets_named(None).count(), 0);
}

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
