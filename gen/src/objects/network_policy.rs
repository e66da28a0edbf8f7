//! NetworkPolicy: the API only from the ingress controller (and any listed blocks),
//! metrics only from Prometheus, and no egress but DNS unless the environment opens more.

use std::collections::BTreeMap;

use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer,
    NetworkPolicyPort, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{int, meta, pod_selector};
use crate::workload::{Controller, HTTP_PORT_NAME, METRICS_PORT_NAME, Plan};

/// Label every namespace carries with its own name (set by the API server since 1.22).
const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// Builds the policy, unless the environment turns it off.
#[must_use]
pub fn build(plan: &Plan<'_>) -> Option<NetworkPolicy> {
    let np = &plan.settings.network_policy;
    if !np.enabled {
        return None;
    }
    let named = |name: &str| NetworkPolicyPort {
        port: Some(IntOrString::String(name.to_owned())),
        protocol: Some("TCP".to_owned()),
        end_port: None,
    };
    let mut api_from = vec![namespace_peer(np.ingress_controller_namespace.as_str())];
    api_from.extend(np.allow_api_from_cidrs.iter().map(|c| ip_peer(c.as_str())));
    let mut ingress = vec![NetworkPolicyIngressRule {
        from: Some(api_from),
        ports: Some(vec![named(HTTP_PORT_NAME)]),
    }];
    // Components of the application that call this one, on every port it serves.
    let served: Vec<&str> = std::iter::once(HTTP_PORT_NAME)
        .chain(plan.workload.extra_ports.iter().map(|(n, _)| n.as_str()))
        .collect();
    // Other applications' namespaces, likewise.
    if !np.allow_api_from_namespaces.is_empty() {
        ingress.push(NetworkPolicyIngressRule {
            from: Some(
                np.allow_api_from_namespaces
                    .iter()
                    .map(|n| namespace_peer(n.as_str()))
                    .collect(),
            ),
            ports: Some(served.iter().map(|n| named(n)).collect()),
        });
    }
    ingress.extend(
        plan.connections
            .from
            .iter()
            .map(|(labels, port)| NetworkPolicyIngressRule {
                from: Some(vec![pod_peer(labels)]),
                ports: Some(match port {
                    // One port, by number: the dependent declared which.
                    Some(n) => vec![tcp_port(*n)],
                    None => served.iter().map(|n| named(n)).collect(),
                }),
            }),
    );
    // A StatefulSet's pods are peers (a store's replicas, a broker's controllers): they
    // reach each other on every port they serve.
    let peers = matches!(plan.workload.controller, Controller::StatefulSet(_));
    if peers {
        ingress.push(NetworkPolicyIngressRule {
            from: Some(vec![pod_peer(&plan.selector_labels())]),
            ports: Some(served.iter().map(|n| named(n)).collect()),
        });
    }
    if let Some(m) = &plan.workload.metrics {
        let port = if m.separate_from(plan.workload.api_port) {
            METRICS_PORT_NAME
        } else {
            HTTP_PORT_NAME
        };
        ingress.push(NetworkPolicyIngressRule {
            from: Some(vec![namespace_peer(np.prometheus_namespace.as_str())]),
            ports: Some(vec![named(port)]),
        });
    }

    let dns_port = |protocol: &str| NetworkPolicyPort {
        port: Some(IntOrString::Int(53)),
        protocol: Some(protocol.to_owned()),
        end_port: None,
    };
    let mut dns_peer = namespace_peer(np.dns_namespace.as_str());
    dns_peer.pod_selector = Some(LabelSelector {
        match_labels: Some(BTreeMap::from([(
            "k8s-app".to_owned(),
            "kube-dns".to_owned(),
        )])),
        ..LabelSelector::default()
    });
    let mut egress = vec![NetworkPolicyEgressRule {
        to: Some(vec![dns_peer]),
        ports: Some(vec![dns_port("UDP"), dns_port("TCP")]),
    }];
    // What the workload itself connects to (the model pull's hub). A rule with no
    // destinations would mean every destination, so none is written for an empty list.
    egress.extend(
        plan.workload
            .egress
            .iter()
            .filter(|e| !e.cidrs.is_empty())
            .map(|e| NetworkPolicyEgressRule {
                to: Some(e.cidrs.iter().map(|c| ip_peer(c)).collect()),
                ports: Some(vec![tcp_port(e.port)]),
            }),
    );
    if peers {
        egress.push(NetworkPolicyEgressRule {
            to: Some(vec![pod_peer(&plan.selector_labels())]),
            ports: Some(
                plan.workload
                    .served_ports()
                    .into_iter()
                    .map(tcp_port)
                    .collect(),
            ),
        });
    }
    // Components this one calls, on the ports they serve.
    egress.extend(
        plan.connections
            .to
            .iter()
            .map(|(labels, ports)| NetworkPolicyEgressRule {
                to: Some(vec![pod_peer(labels)]),
                ports: Some(ports.iter().copied().map(tcp_port).collect()),
            }),
    );
    egress.extend(np.extra_egress.iter().map(|rule| {
        NetworkPolicyEgressRule {
            to: Some(vec![match (&rule.cidr, &rule.namespace) {
                (Some(cidr), _) => ip_peer(cidr.as_str()),
                (None, Some(ns)) => {
                    let mut peer = namespace_peer(ns.as_str());
                    if !rule.pod_labels.is_empty() {
                        peer.pod_selector = pod_peer(&rule.pod_labels).pod_selector;
                    }
                    peer
                }
                // The load stage requires one of the two.
                (None, None) => ip_peer("0.0.0.0/32"),
            }]),
            ports: (!rule.tcp_ports.is_empty())
                .then(|| rule.tcp_ports.iter().copied().map(tcp_port).collect()),
        }
    }));

    Some(NetworkPolicy {
        metadata: meta(plan, plan.name()),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(pod_selector(plan)),
            policy_types: Some(vec!["Ingress".to_owned(), "Egress".to_owned()]),
            ingress: Some(ingress),
            egress: Some(egress),
        }),
    })
}

/// TCP to one port, by number.
pub(super) fn tcp_port(port: u16) -> NetworkPolicyPort {
    NetworkPolicyPort {
        port: Some(IntOrString::Int(int(port))),
        protocol: Some("TCP".to_owned()),
        end_port: None,
    }
}

/// Every pod of the namespace named `namespace`.
pub(super) fn namespace_peer(namespace: &str) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        namespace_selector: Some(LabelSelector {
            match_labels: Some(BTreeMap::from([(
                NAMESPACE_NAME_LABEL.to_owned(),
                namespace.to_owned(),
            )])),
            ..LabelSelector::default()
        }),
        ..NetworkPolicyPeer::default()
    }
}

/// Pods of this namespace with `labels`.
pub(super) fn pod_peer(labels: &BTreeMap<String, String>) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        pod_selector: Some(LabelSelector {
            match_labels: Some(labels.clone()),
            ..LabelSelector::default()
        }),
        ..NetworkPolicyPeer::default()
    }
}

fn ip_peer(cidr: &str) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        ip_block: Some(IPBlock {
            cidr: cidr.to_owned(),
            except: None,
        }),
        ..NetworkPolicyPeer::default()
    }
}
