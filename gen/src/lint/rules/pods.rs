//! What every pod needs around it: a StatefulSet's governing headless Service, each
//! variable set once, and a NetworkPolicy that selects it.

use std::collections::BTreeSet;

use k8s_openapi::api::networking::v1::NetworkPolicySpec;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::super::index::{PodOwner, selector_matches};
use super::{Findings, Index};

pub(super) fn check(index: &Index<'_>, f: &mut Findings<'_>) {
    headless_services(index, f);
    env_names(index, f);
    policies(index, f);
    dependencies_admitted(index, f);
}

/// Every path a policy opens out of a pod to the pods of another workload is admitted by
/// the policies of those pods: a dependency let out but not let in fails at run time,
/// every connection timing out.
fn dependencies_admitted(index: &Index<'_>, f: &mut Findings<'_>) {
    for caller in index.pod_owners() {
        let caller_labels = caller.labels();
        for (policy, spec) in index.network_policies_selecting(caller_labels) {
            for rule in spec.egress.iter().flatten() {
                let ports: Vec<i32> = rule
                    .ports
                    .iter()
                    .flatten()
                    .filter_map(|p| match &p.port {
                        Some(IntOrString::Int(n)) => Some(*n),
                        _ => None,
                    })
                    .collect();
                for peer in rule.to.iter().flatten() {
                    // Pods of this namespace only: another namespace's policies are not here.
                    let (Some(selector), None) = (&peer.pod_selector, &peer.namespace_selector)
                    else {
                        continue;
                    };
                    for callee in index.pod_owners_selected_by(selector) {
                        for port in &ports {
                            if !admits(index, &callee, caller_labels, *port) {
                                f.add(
                                    "dependency-admitted",
                                    caller.who(),
                                    format!(
                                        "NetworkPolicy/{}",
                                        policy.metadata.name.as_deref().unwrap_or_default()
                                    ),
                                    format!(
                                        "lets these pods out to {} on port {port}, but no NetworkPolicy of {} lets them in there",
                                        callee.who(),
                                        callee.who()
                                    ),
                                );
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Whether the policies selecting `callee`'s pods let pods labelled `from` in on `port`
/// (no policy selecting them for ingress: everything is let in).
fn admits(
    index: &Index<'_>,
    callee: &PodOwner<'_>,
    from: &std::collections::BTreeMap<String, String>,
    port: i32,
) -> bool {
    let labels = callee.labels();
    let named: Vec<(String, i32)> = callee
        .containers()
        .flat_map(|c| c.ports.iter().flatten())
        .filter_map(|p| Some((p.name.clone()?, p.container_port)))
        .collect();
    let policies: Vec<_> = ingress_policies(index, labels).collect();
    if policies.is_empty() {
        return true;
    }
    policies
        .iter()
        .flat_map(|s| s.ingress.iter().flatten())
        .any(|rule| {
            let from_ok = rule.from.as_ref().is_none_or(|peers| {
                peers.iter().any(|p| {
                    p.namespace_selector.is_none()
                        && p.ip_block.is_none()
                        && p.pod_selector
                            .as_ref()
                            .is_some_and(|s| selector_matches(s, from))
                })
            });
            let port_ok = rule.ports.as_ref().is_none_or(|ports| {
                ports.iter().any(|p| match &p.port {
                    None => true,
                    Some(IntOrString::Int(n)) => *n == port,
                    Some(IntOrString::String(name)) => {
                        named.iter().any(|(n, number)| n == name && *number == port)
                    }
                })
            });
            from_ok && port_ok
        })
}

/// A StatefulSet's `serviceName` is an emitted headless Service that selects its pods:
/// without it the pods get no DNS names, and peers cannot find each other.
fn headless_services(index: &Index<'_>, f: &mut Findings<'_>) {
    for owner in index.pod_owners().filter(|o| o.kind == "StatefulSet") {
        let Some(set) = index
            .stateful_sets_named(owner.metadata.name.as_deref())
            .next()
        else {
            continue;
        };
        let name = set
            .spec
            .as_ref()
            .and_then(|s| s.service_name.clone())
            .unwrap_or_default();
        let labels = owner.labels();
        let headless = index.services_named(Some(&name)).find(|s| {
            s.spec.as_ref().is_some_and(|spec| {
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
        for (field, c) in owner.containers_at() {
            let mut seen = BTreeSet::new();
            for e in c.env.iter().flatten() {
                if !seen.insert(e.name.as_str()) {
                    f.add(
                        "env-names-unique",
                        owner.who(),
                        format!("{field}.env[{}]", e.name),
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

/// Some NetworkPolicy selects every pod for ingress: a pod no policy selects accepts
/// traffic from anywhere in the cluster.
fn policies(index: &Index<'_>, f: &mut Findings<'_>) {
    for owner in index.pod_owners() {
        let labels = owner.labels();
        let covered = ingress_policies(index, labels).next().is_some();
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

/// The specs of the NetworkPolicies that select pods labelled `labels` for ingress.
fn ingress_policies<'i, 'a>(
    index: &'i Index<'a>,
    labels: &'i std::collections::BTreeMap<String, String>,
) -> impl Iterator<Item = &'a NetworkPolicySpec> + 'i {
    index
        .network_policies_selecting(labels)
        .map(|(_, s)| s)
        .filter(|s| {
            s.policy_types
                .as_ref()
                .is_none_or(|t| t.iter().any(|t| t == "Ingress"))
        })
}
