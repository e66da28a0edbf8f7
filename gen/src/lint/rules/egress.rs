//! Pods that fetch something before they start can reach it through their NetworkPolicies.

use k8s_openapi::api::networking::v1::{NetworkPolicy, NetworkPolicyEgressRule};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::super::index::{display, pulls_models};
use super::{Findings, Index};
use crate::settings::models::port_of_url;

pub(super) fn check(index: &Index<'_>, f: &mut Findings<'_>) {
    for d in index.pod_owners() {
        let Some(pod) = d.pod_spec() else { continue };
        let labels = d.labels();
        let policies: Vec<&NetworkPolicy> = index
            .network_policies_selecting(labels)
            .filter(|(_, s)| s.policy_types.iter().flatten().any(|t| t == "Egress"))
            .map(|(p, _)| p)
            .collect();
        if policies.is_empty() {
            continue;
        }
        for (i, c) in pod.init_containers.iter().flatten().enumerate() {
            let Some(hub) = pulls_models(c) else { continue };
            let port = port_of_url(&hub);
            let open = policies.iter().any(|p| {
                p.spec
                    .as_ref()
                    .and_then(|s| s.egress.as_ref())
                    .is_some_and(|rules| rules.iter().any(|r| allows_tcp(r, port)))
            });
            if !open {
                let names: Vec<String> = policies
                    .iter()
                    .map(|p| display("NetworkPolicy", p.metadata.name.as_ref()))
                    .collect();
                f.add(
                    "pull-egress-open",
                    d.who(),
                    format!("spec.template.spec.initContainers[{i}]"),
                    format!(
                        "`{}` pulls models from {hub} (TCP {port}), but {} allows no egress to that port: the pull would wait out its timeouts and the pod never start; list the hub's addresses under models.hub_egress_cidrs",
                        c.name,
                        names.join(", ")
                    ),
                );
            }
        }
    }
}

/// Whether an egress rule lets TCP to `port` out to some destination.
fn allows_tcp(rule: &NetworkPolicyEgressRule, port: u16) -> bool {
    let port = i32::from(port);
    let Some(ports) = rule.ports.as_ref().filter(|p| !p.is_empty()) else {
        return true;
    };
    ports.iter().any(|p| {
        let tcp = p.protocol.as_deref().is_none_or(|proto| proto == "TCP");
        let matches = match &p.port {
            None => true,
            Some(IntOrString::Int(n)) => {
                *n == port || p.end_port.is_some_and(|end| (*n..=end).contains(&port))
            }
            // A named port belongs to the destination pod; an outside hub has none.
            Some(IntOrString::String(_)) => false,
        };
        tcp && matches
    })
}
