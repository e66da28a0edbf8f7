//! What every pod needs around it: a StatefulSet's governing headless Service, each
//! variable set once, and a NetworkPolicy that selects it.

use std::collections::BTreeSet;

use super::super::index::selector_matches;
use super::{Findings, Index};

pub(super) fn check(index: &Index<'_>, f: &mut Findings<'_>) {
    headless_services(index, f);
    env_names(index, f);
    policies(index, f);
}

/// A StatefulSet's `serviceName` is an emitted headless Service that selects its pods:
/// without it the pods get no DNS names, and peers cannot find each other.
fn headless_services(index: &Index<'_>, f: &mut Findings<'_>) {
    for owner in index.pod_owners().filter(|o| o.kind == "StatefulSet") {
        let Some(set) = index
            .stateful_sets()
            .find(|s| s.metadata.name.as_deref() == owner.metadata.name.as_deref())
        else {
            continue;
        };
        let name = set
            .spec
            .as_ref()
            .and_then(|s| s.service_name.clone())
            .unwrap_or_default();
        let labels = owner.labels();
        let headless = index.services().find(|s| {
            s.metadata.name.as_deref() == Some(name.as_str())
                && s.spec.as_ref().is_some_and(|spec| {
                    spec.cluster_ip.as_deref() == Some("None")
                        && spec.selector.as_ref().is_some_and(|sel| {
                            !sel.is_empty() && sel.iter().all(|(k, v)| labels.get(k) == Some(v))
                        })
                })
        });
        if headless.is_none() {
            f.add(
                "stateful-set-has-headless-service",
                owner.who(),
                "spec.serviceName",
                format!(
                    "`{name}` is not an emitted headless Service (clusterIP: None) that selects the StatefulSet's pods"
                ),
            );
        }
    }
}

/// No container sets a variable twice: Kubernetes keeps the last silently.
fn env_names(index: &Index<'_>, f: &mut Findings<'_>) {
    for owner in index.pod_owners() {
        let Some(pod) = owner.pod_spec() else {
            continue;
        };
        let lists = [
            (
                "initContainers",
                pod.init_containers.as_deref().unwrap_or_default(),
            ),
            ("containers", pod.containers.as_slice()),
        ];
        for (list, containers) in lists {
            for (i, c) in containers.iter().enumerate() {
                let mut seen = BTreeSet::new();
                for e in c.env.iter().flatten() {
                    if !seen.insert(e.name.as_str()) {
                        f.add(
                            "env-names-unique",
                            owner.who(),
                            format!("spec.template.spec.{list}[{i}].env[{}]", e.name),
                            format!(
                                "`{}` is set more than once in container `{}`; Kubernetes keeps the last",
                                e.name, c.name
                            ),
                        );
                    }
                }
            }
        }
    }
}

/// Some NetworkPolicy selects every pod for ingress: a pod no policy selects accepts
/// traffic from anywhere in the cluster.
fn policies(index: &Index<'_>, f: &mut Findings<'_>) {
    for owner in index.pod_owners() {
        let labels = owner.labels();
        let covered = index.network_policies().any(|p| {
            p.spec.as_ref().is_some_and(|s| {
                s.pod_selector
                    .as_ref()
                    .is_none_or(|sel| selector_matches(sel, &labels))
                    && s.policy_types
                        .as_ref()
                        .is_none_or(|t| t.iter().any(|t| t == "Ingress"))
            })
        });
        if !covered {
            f.add(
                "pods-have-network-policy",
                owner.who(),
                "spec.template.metadata.labels",
                "no NetworkPolicy selects these pods, so any pod in the cluster can reach them; turn network_policy on or add one",
            );
        }
    }
}
