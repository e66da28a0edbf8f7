//! Replica counts: autoscalers, disruption budgets, shared volumes and quotas agree.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Container;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::super::index::{
    PodOwner, access_modes, display, pulls_models, quantity_value, selector_is_empty,
};
use super::{Findings, Index};

pub(super) fn check(index: &Index<'_>, f: &mut Findings<'_>) {
    autoscalers(index, f);
    budgets(index, f);
    shared_claims(index, f);
    quotas(index, f);
}

fn autoscalers(index: &Index<'_>, f: &mut Findings<'_>) {
    for h in index.autoscalers() {
        let who = display("HorizontalPodAutoscaler", h.metadata.name.as_ref());
        let Some(spec) = &h.spec else { continue };
        let min = spec.min_replicas.unwrap_or(1);
        if min < 1 || min > spec.max_replicas {
            f.add(
                "hpa-min-within-max",
                who.clone(),
                "spec.minReplicas",
                format!("is {min} with maxReplicas {}", spec.max_replicas),
            );
        }
        let target = &spec.scale_target_ref;
        let Some(d) = index.pod_owner(&target.kind, &target.name) else {
            f.add(
                "hpa-target-exists",
                who,
                "spec.scaleTargetRef",
                format!("{} `{}` is not emitted", target.kind, target.name),
            );
            continue;
        };
        if let Some(r) = d.replicas {
            f.add(
                "hpa-owns-replicas",
                d.who(),
                "spec.replicas",
                format!("is {r} but {who} owns the count; remove it"),
            );
        }
        for (i, m) in spec.metrics.iter().flatten().enumerate() {
            let Some(res) = &m.resource else { continue };
            for c in d.containers() {
                let has = c
                    .resources
                    .as_ref()
                    .and_then(|r| r.requests.as_ref())
                    .is_some_and(|r| r.contains_key(&res.name));
                if !has {
                    f.add(
                        "hpa-metrics-have-requests",
                        who.clone(),
                        format!("spec.metrics[{i}].resource.name"),
                        format!(
                            "scales on {} but container `{}` requests none",
                            res.name, c.name
                        ),
                    );
                }
            }
        }
    }
}

/// Pods a budget leaves evictable when `pods` are running.
fn evictable(spec: &k8s_openapi::api::policy::v1::PodDisruptionBudgetSpec, pods: i32) -> i32 {
    let resolve = |v: &IntOrString| match v {
        IntOrString::Int(n) => *n,
        IntOrString::String(p) => {
            let pct: i32 = p.trim_end_matches('%').parse().unwrap_or(0);
            // Kubernetes rounds percentages up.
            (pct * pods + 99) / 100
        }
    };
    match (&spec.max_unavailable, &spec.min_available) {
        (Some(max), _) => resolve(max).min(pods),
        (None, Some(min)) => (pods - resolve(min)).max(0),
        (None, None) => 0,
    }
}

fn budgets(index: &Index<'_>, f: &mut Findings<'_>) {
    for b in index.budgets() {
        let who = display("PodDisruptionBudget", b.metadata.name.as_ref());
        let Some(spec) = &b.spec else { continue };
        let selector = spec.selector.clone().unwrap_or_default();
        let selected: Vec<PodOwner<'_>> = if selector_is_empty(&selector) {
            Vec::new()
        } else {
            index.pod_owners_selected_by(&selector).collect()
        };
        if selected.is_empty() {
            f.add(
                "pdb-selects-pods",
                who,
                "spec.selector",
                "selects the pods of no Deployment or StatefulSet",
            );
            continue;
        }
        let min_pods: i32 = selected.iter().map(|d| index.replica_range(d).0).sum();
        if evictable(spec, min_pods) < 1 {
            let field = if spec.max_unavailable.is_some() {
                "spec.maxUnavailable"
            } else {
                "spec.minAvailable"
            };
            f.add(
                "pdb-permits-disruption",
                who,
                field,
                format!("leaves no pod evictable at the minimum of {min_pods} replica(s); node drains would hang"),
            );
        }
    }
}

fn shared_claims(index: &Index<'_>, f: &mut Findings<'_>) {
    for d in index.pod_owners() {
        let (_, max) = index.replica_range(&d);
        if max < 2 {
            continue;
        }
        let Some(pod) = d.pod_spec() else { continue };
        for v in pod.volumes.iter().flatten() {
            let Some(pvc) = &v.persistent_volume_claim else {
                continue;
            };
            let Some(claim) = index.claims_named(Some(&pvc.claim_name)).next() else {
                continue;
            };
            let modes = access_modes(claim);
            let single_node = modes
                .iter()
                .all(|m| m == "ReadWriteOnce" || m == "ReadWriteOncePod");
            // The model pull takes a lock and publishes by rename, so pods that pull into
            // one claim at once cannot corrupt it: it does not count as a writer.
            let writes = pvc.read_only != Some(true)
                && d.containers()
                    .filter(|c| pulls_models(c).is_none())
                    .flat_map(|c| c.volume_mounts.iter().flatten())
                    .any(|m| m.name == v.name && m.read_only != Some(true));
            if single_node {
                // Read-only or not, the volume attaches to one node; read-write is worse.
                let (rule, message) = if writes {
                    (
                        "rwo-claim-single-writer",
                        format!(
                            "mounts {modes:?} claim `{}` read-write but can run {max} replicas",
                            pvc.claim_name
                        ),
                    )
                } else {
                    (
                        "rwo-claim-one-node",
                        format!(
                            "claim `{}` is {modes:?}: all {max} replicas must share one node; use ReadOnlyMany or ReadWriteMany",
                            pvc.claim_name
                        ),
                    )
                };
                f.add(
                    rule,
                    d.who(),
                    format!("spec.template.spec.volumes[{}]", v.name),
                    message,
                );
            }
        }
    }
}

/// Per-pod requests and limits as a quota counts them, keyed like quota entries
/// (`requests.cpu`, ...): the sum over the containers, or the largest init container's
/// when that is more (init containers run one at a time, before the others).
fn per_pod(d: &PodOwner<'_>) -> BTreeMap<String, f64> {
    let Some(pod) = d.pod_spec() else {
        return BTreeMap::new();
    };
    let mut out = BTreeMap::new();
    for c in &pod.containers {
        for (key, value) in container_resources(c) {
            *out.entry(key).or_insert(0.0) += value;
        }
    }
    for c in pod.init_containers.iter().flatten() {
        for (key, value) in container_resources(c) {
            let total = out.entry(key).or_insert(0.0);
            *total = total.max(value);
        }
    }
    out
}

fn container_resources(c: &Container) -> Vec<(String, f64)> {
    let Some(r) = &c.resources else {
        return Vec::new();
    };
    [("requests", &r.requests), ("limits", &r.limits)]
        .into_iter()
        .flat_map(|(kind, map)| {
            map.iter()
                .flatten()
                .map(move |(res, q)| (format!("{kind}.{res}"), quantity_value(&q.0).unwrap_or(0.0)))
        })
        .collect()
}

fn quotas(index: &Index<'_>, f: &mut Findings<'_>) {
    for q in index.quotas() {
        let who = display("ResourceQuota", q.metadata.name.as_ref());
        let hard = q
            .spec
            .as_ref()
            .and_then(|s| s.hard.clone())
            .unwrap_or_default();
        let mut at_min: BTreeMap<String, f64> = BTreeMap::new();
        let mut at_rollout: BTreeMap<String, f64> = BTreeMap::new();
        // Claims: the emitted ones, plus one per template for each pod a StatefulSet
        // may run (they outlive scale-downs, so its most replicas count).
        let mut claims = index.claims().count() as f64;
        for d in index.pod_owners() {
            let (min, max) = index.replica_range(&d);
            for (k, v) in per_pod(&d) {
                *at_min.entry(k.clone()).or_insert(0.0) += v * f64::from(min);
                *at_rollout.entry(k).or_insert(0.0) += v * f64::from(min + d.surge(min));
            }
            claims += (d.claim_templates.len() as f64) * f64::from(max);
        }
        // A CloudNativePG cluster: one claim and one pod per instance, made by the operator.
        for c in index.postgres_clusters() {
            let instances = f64::from(c.spec.instances);
            claims += instances;
            for (kind, map) in c
                .spec
                .resources
                .iter()
                .flat_map(|r| [("requests", &r.requests), ("limits", &r.limits)])
            {
                for (res, q) in map.iter().flatten() {
                    let value = quantity_value(&q.0).unwrap_or(0.0) * instances;
                    *at_min.entry(format!("{kind}.{res}")).or_insert(0.0) += value;
                    *at_rollout.entry(format!("{kind}.{res}")).or_insert(0.0) += value;
                }
            }
        }
        at_min.insert("persistentvolumeclaims".into(), claims);
        at_rollout.insert("persistentvolumeclaims".into(), claims);
        for (key, limit) in &hard {
            let Some(limit_value) = quantity_value(&limit.0) else {
                continue;
            };
            let lookup = match key.as_str() {
                "cpu" => "requests.cpu",
                "memory" => "requests.memory",
                k => k,
            };
            let needed = at_min.get(lookup).copied().unwrap_or(0.0);
            if needed > limit_value * (1.0 + 1e-9) {
                f.add(
                    "quota-admits-minimum",
                    who.clone(),
                    format!("spec.hard.{key}"),
                    format!(
                        "is {} but the workloads need {} at their minimum replicas",
                        limit.0,
                        human(lookup, needed)
                    ),
                );
            } else if at_rollout.get(lookup).copied().unwrap_or(0.0) > limit_value * (1.0 + 1e-9) {
                f.add(
                    "quota-admits-rollout",
                    who.clone(),
                    format!("spec.hard.{key}"),
                    format!(
                        "is {} but a rolling update needs {}",
                        limit.0,
                        human(lookup, at_rollout[lookup])
                    ),
                );
            }
        }
    }
}

fn human(key: &str, value: f64) -> String {
    if key.ends_with("memory") {
        format!("{:.0}Mi", value / 1_048_576.0)
    } else if key.ends_with("cpu") {
        format!("{:.0}m", value * 1000.0)
    } else {
        format!("{value:.0}")
    }
}
