//! Checks across settings that the types cannot rule out. They look at the settings
//! alone; what a component needs of them is checked beside that component, and waivers
//! beside the rules. Each problem names its setting and the values involved.

use std::fmt;

use super::container::AppProtocol;
use super::pod::PodSettings;
use super::{
    AccessMode, Component, DnsLabel, Environment, Image, ScalingMetric, SpreadDomain, SpreadMode,
};

/// One refused setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Dotted path of the setting, e.g. `autoscaling.min_replicas`.
    pub setting: String,
    /// What is wrong, with the values.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`: {}", self.setting, self.message)
    }
}

impl Problem {
    /// A problem with `setting`.
    #[must_use]
    pub fn new(setting: impl Into<String>, message: impl Into<String>) -> Problem {
        Problem {
            setting: setting.into(),
            message: message.into(),
        }
    }
}

/// Every problem of the settings on their own, component by component, in the order of
/// the settings.
#[must_use]
pub fn check(env: &Environment) -> Vec<Problem> {
    let mut out = Vec::new();
    if env.components.is_empty() {
        out.push(Problem::new(
            "components",
            "is empty; an environment runs at least one component (e.g. `akidb-embed: {akidb_embed: {}}`)",
        ));
    }
    out.extend(check_routes(env));
    for (name, component) in &env.components {
        let mut problems = Problems::under(&format!("components.{name}.{}", component.kind()));
        if let Some(pod) = component.pod() {
            check_pod(&pod, &mut problems);
            check_connections(env, name, &pod, &mut problems);
        }
        if let Some(image) = component.image() {
            check_image(&image, &mut problems);
        }
        out.extend(problems.list);
    }
    out
}

/// The application's ingress routes: paths that start with `/`, each to a component that
/// has a Service.
pub(crate) fn check_routes(env: &Environment) -> Vec<Problem> {
    let mut out = Problems::under("ingress_routes.hosts");
    let Some(routes) = &env.ingress_routes else {
        return Vec::new();
    };
    for (host, paths) in &routes.hosts {
        if paths.is_empty() {
            out.add(
                host.as_str(),
                "routes no path; give at least one, e.g. `/: web`",
            );
        }
        for (path, component) in paths {
            let key = format!("{host}.{path}");
            if !path.starts_with('/') {
                out.add(key.clone(), format!("`{path}` does not start with `/`"));
            }
            match env.components.get(component) {
                None => {
                    let names: Vec<String> =
                        env.components.keys().map(ToString::to_string).collect();
                    out.add(
                        key,
                        format!(
                            "`{component}` names no component; components: {}",
                            names.join(", ")
                        ),
                    );
                }
                Some(c) if c.pod().is_none() => out.add(
                    key,
                    format!(
                        "`{component}` is a `{}`, which has no Service to route to",
                        c.kind()
                    ),
                ),
                Some(Component::Deployment(d)) if d.app_protocol == AppProtocol::Tcp => {
                    out.add(key, not_http(component));
                }
                Some(Component::StatefulSet(d)) if d.app_protocol == AppProtocol::Tcp => {
                    out.add(key, not_http(component));
                }
                Some(_) => {}
            }
        }
    }
    out.list
}

fn not_http(component: &DnsLabel) -> String {
    format!("`{component}` speaks another protocol over TCP (its app_protocol), not HTTP")
}

/// Every component named in `connects_to` exists and is another one.
fn check_connections(
    env: &Environment,
    name: &DnsLabel,
    pod: &PodSettings<'_>,
    out: &mut Problems,
) {
    for (i, peer) in pod.connects_to.iter().enumerate() {
        if peer == name {
            out.add(
                format!("connects_to[{i}]"),
                "is the component itself; its pods reach each other without it",
            );
        } else if !env.components.contains_key(peer) {
            let names: Vec<String> = env.components.keys().map(ToString::to_string).collect();
            out.add(
                format!("connects_to[{i}]"),
                format!(
                    "`{peer}` names no component; components: {}",
                    names.join(", ")
                ),
            );
        } else if pod.connects_to[..i].contains(peer) {
            out.add(format!("connects_to[{i}]"), format!("repeats `{peer}`"));
        }
    }
    for (i, dep) in pod.depends_on.iter().enumerate() {
        let peer = &dep.component;
        let key = format!("depends_on[{i}].component");
        if peer == name {
            out.add(key, "is the component itself");
        } else if !env.components.contains_key(peer) {
            let names: Vec<String> = env.components.keys().map(ToString::to_string).collect();
            out.add(
                key,
                format!(
                    "`{peer}` names no component; components: {}",
                    names.join(", ")
                ),
            );
        } else if pod.depends_on[..i].iter().any(|d| &d.component == peer) {
            out.add(key, format!("repeats `{peer}`"));
        } else if pod.connects_to.contains(peer) {
            out.add(
                key,
                format!("`{peer}` is in connects_to too; depends_on opens the path itself, so list it once"),
            );
        }
    }
}

/// The checks every pod-owning kind shares, on its [`PodSettings`] view.
pub(crate) fn check_pod(pod: &PodSettings<'_>, out: &mut Problems) {
    check_replicas(pod, out);
    check_resources(pod, out);
    check_service(pod, out);
    check_ingress(pod, out);
    check_probes(pod, out);
    check_secrets(pod, out);
    check_egress(pod, out);
}

/// Each extra egress names one destination: a block or a namespace.
fn check_egress(pod: &PodSettings<'_>, out: &mut Problems) {
    for (i, rule) in pod.network_policy.extra_egress.iter().enumerate() {
        let key = format!("network_policy.extra_egress[{i}]");
        match (&rule.cidr, &rule.namespace) {
            (Some(_), Some(_)) => out.add(key, "gives both `cidr` and `namespace`; one rule has one destination"),
            (None, None) => out.add(key, "gives no destination; set `cidr` (outside the cluster) or `namespace` (another application in it)"),
            (Some(_), None) if !rule.pod_labels.is_empty() => out.add(
                format!("{key}.pod_labels"),
                "selects pods, which only a `namespace` destination has",
            ),
            _ => {}
        }
    }
}

/// Further autoscaler metrics: a name, and one target that is a positive quantity.
fn check_scaling_metrics(metrics: &[ScalingMetric], out: &mut Problems) {
    for (i, metric) in metrics.iter().enumerate() {
        let (kind, name, targets) = match metric {
            ScalingMetric::Pods(m) => (
                "pods",
                &m.name,
                vec![("average_value", Some(&m.average_value))],
            ),
            ScalingMetric::External(e) => (
                "external",
                &e.name,
                vec![
                    ("value", e.value.as_ref()),
                    ("average_value", e.average_value.as_ref()),
                ],
            ),
        };
        let key = format!("autoscaling.metrics[{i}].{kind}");
        if name.trim().is_empty() || name.chars().any(char::is_whitespace) {
            out.add(
                format!("{key}.name"),
                format!("is `{name}`; give the metric's name as the metrics adapter serves it"),
            );
        }
        let given: Vec<_> = targets.iter().filter(|(_, v)| v.is_some()).collect();
        if given.len() != 1 {
            out.add(
                key.clone(),
                "gives both `value` and `average_value`, or neither; give one target",
            );
        }
        for (field, value) in given {
            let value = value.map(String::as_str).unwrap_or_default();
            if !positive_quantity(value) {
                out.add(
                    format!("{key}.{field}"),
                    format!(
                        "is `{value}`; give a positive quantity such as `100`, `2.5` or `500m`"
                    ),
                );
            }
        }
    }
}

/// Whether `q` is a positive Kubernetes quantity (a decimal number with an optional SI or
/// binary suffix).
fn positive_quantity(q: &str) -> bool {
    const SUFFIXES: [&str; 13] = [
        "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "m", "k", "M", "G", "T", "P", "E",
    ];
    let number = SUFFIXES.iter().find_map(|s| q.strip_suffix(s)).unwrap_or(q);
    !number.is_empty()
        && number.chars().all(|c| c.is_ascii_digit() || c == '.')
        && number.parse::<f64>().is_ok_and(|v| v > 0.0)
}

/// Collects problems of the settings under one dotted prefix.
pub(crate) struct Problems {
    prefix: String,
    /// What was found, each setting with its full path.
    pub(crate) list: Vec<Problem>,
}

impl Problems {
    /// Problems of the settings under `prefix` (e.g. `components.api.akidb_embed`).
    pub(crate) fn under(prefix: &str) -> Problems {
        Problems {
            prefix: prefix.to_owned(),
            list: Vec::new(),
        }
    }

    /// The full path of `setting`, which is relative to the prefix.
    pub(crate) fn path(&self, setting: &str) -> String {
        if self.prefix.is_empty() {
            setting.to_owned()
        } else {
            format!("{}.{setting}", self.prefix)
        }
    }

    pub(crate) fn add(&mut self, setting: impl Into<String>, message: impl Into<String>) {
        let setting = self.path(&setting.into());
        self.list.push(Problem::new(setting, message));
    }
}

fn check_replicas(env: &PodSettings<'_>, out: &mut Problems) {
    if let Some(a) = &env.autoscaling {
        if let Some(r) = env.replicas {
            out.add(
                "replicas",
                format!("is {r} but `autoscaling` is on and owns the replica count; remove `replicas` (use autoscaling.min_replicas)"),
            );
        }
        if a.min_replicas == 0 {
            out.add("autoscaling.min_replicas", "is 0; it must be at least 1");
        }
        if a.min_replicas > a.max_replicas {
            out.add(
                "autoscaling.min_replicas",
                format!(
                    "is {} but autoscaling.max_replicas is {}; the minimum must not exceed the maximum",
                    a.min_replicas, a.max_replicas
                ),
            );
        }
        if !(1..=1000).contains(&a.target_cpu_utilization) {
            out.add(
                "autoscaling.target_cpu_utilization",
                format!(
                    "is {}; use a percentage from 1 to 1000",
                    a.target_cpu_utilization
                ),
            );
        }
        check_scaling_metrics(&a.metrics, out);
        if let Some(m) = a.target_memory_utilization
            && !(1..=1000).contains(&m)
        {
            out.add(
                "autoscaling.target_memory_utilization",
                format!("is {m}; use a percentage from 1 to 1000, or null to turn it off"),
            );
        }
        for (name, value) in [
            ("autoscaling.scale_up.max_percent", a.scale_up.max_percent),
            ("autoscaling.scale_up.max_pods", a.scale_up.max_pods),
            (
                "autoscaling.scale_up.period_seconds",
                a.scale_up.period_seconds,
            ),
            ("autoscaling.scale_down.max_pods", a.scale_down.max_pods),
            (
                "autoscaling.scale_down.period_seconds",
                a.scale_down.period_seconds,
            ),
        ] {
            if value == 0 {
                out.add(name, "is 0; it must be at least 1");
            }
        }
        for (name, value) in [
            (
                "autoscaling.scale_up.period_seconds",
                a.scale_up.period_seconds,
            ),
            (
                "autoscaling.scale_down.period_seconds",
                a.scale_down.period_seconds,
            ),
        ] {
            if value > 1800 {
                out.add(name, format!("is {value}; Kubernetes allows at most 1800"));
            }
        }
        for (name, value) in [
            (
                "autoscaling.scale_up.stabilization_window_seconds",
                a.scale_up.stabilization_window_seconds,
            ),
            (
                "autoscaling.scale_down.stabilization_window_seconds",
                a.scale_down.stabilization_window_seconds,
            ),
        ] {
            if value > 3600 {
                out.add(name, format!("is {value}; Kubernetes allows at most 3600"));
            }
        }
    } else if env.replicas == Some(0) {
        out.add("replicas", "is 0; it must be at least 1");
    }

    if let Some(claim) = env.data_claim {
        let single_node = matches!(
            claim.access_mode,
            AccessMode::ReadWriteOnce | AccessMode::ReadWriteOncePod
        );
        if single_node
            && env.max_replicas() > 1
            && env.spread.across == SpreadDomain::Nodes
            && env.spread.mode == SpreadMode::Require
        {
            out.add(
                format!("{}.access_mode", env.data_claim_key),
                format!(
                    "is {} (attaches to one node) but spread requires replicas on different nodes, so only one of {} replicas could start; use ReadOnlyMany or ReadWriteMany",
                    claim.access_mode.as_str(),
                    env.max_replicas()
                ),
            );
        }
    }

    if let Some(pdb) = &env.disruption_budget {
        let min = env.min_replicas();
        match (pdb.max_unavailable, pdb.min_available) {
            (Some(_), Some(_)) | (None, None) => {
                out.add("disruption_budget", "give exactly one of `max_unavailable` and `min_available`");
            }
            (Some(0), None) => out.add(
                "disruption_budget.max_unavailable",
                "is 0, which blocks every node drain; use 1 or more",
            ),
            (None, Some(m)) if m >= min => out.add(
                "disruption_budget.min_available",
                format!(
                    "is {m} but the workload may run only {min} replica(s), so no pod could ever be evicted and node drains would hang; use at most {}",
                    min.saturating_sub(1)
                ),
            ),
            _ => {}
        }
    }
}

fn check_resources(env: &PodSettings<'_>, out: &mut Problems) {
    let r = &env.resources;
    if r.requests.cpu > r.limits.cpu {
        out.add(
            "resources.requests.cpu",
            format!(
                "is {} but resources.limits.cpu is {}; a request must not exceed its limit",
                r.requests.cpu, r.limits.cpu
            ),
        );
    }
    if r.requests.memory > r.limits.memory {
        out.add(
            "resources.requests.memory",
            format!(
                "is {} but resources.limits.memory is {}; a request must not exceed its limit",
                r.requests.memory, r.limits.memory
            ),
        );
    }
}

fn check_image(image: &Image, out: &mut Problems) {
    if image.has_tag_and_digest() {
        out.add("image", "give `tag` or `digest`, not both");
    }
}

fn check_service(env: &PodSettings<'_>, out: &mut Problems) {
    let s = &env.service;
    if s.port == 0 {
        out.add("service.port", "is 0; use a port from 1 to 65535");
    }
    if let Some(np) = s.node_port {
        if !s.kind.is_exposed() {
            out.add(
                "service.node_port",
                format!(
                    "is set but service.type is {}, which has no node ports; use NodePort or LoadBalancer",
                    s.kind.as_str()
                ),
            );
        }
        if !(30000..=32767).contains(&np) {
            out.add(
                "service.node_port",
                format!("is {np}; node ports must lie in 30000-32767 (the default range)"),
            );
        }
    }
    let np = &env.network_policy;
    if s.kind.is_exposed() && np.enabled && np.allow_api_from_cidrs.is_empty() {
        out.add(
            "service.type",
            format!(
                "is {} but the NetworkPolicy admits the API port only from the ingress controller, so the node port would be unreachable; add network_policy.allow_api_from_cidrs (e.g. `0.0.0.0/0`) or turn the policy off",
                s.kind.as_str()
            ),
        );
    }
}

fn check_ingress(env: &PodSettings<'_>, out: &mut Problems) {
    let Some(ing) = &env.ingress else { return };
    if ing.hosts.is_empty() {
        out.add(
            "ingress.hosts",
            "is empty; an Ingress needs at least one host",
        );
    }
    for (i, h) in ing.hosts.iter().enumerate() {
        if ing.hosts[..i].contains(h) {
            out.add(format!("ingress.hosts[{i}]"), format!("repeats `{h}`"));
        }
    }
    if let Some(nginx) = &ing.nginx
        && nginx.ssl_redirect
        && ing.tls.is_none()
    {
        out.add(
            "ingress.nginx.ssl_redirect",
            "is true but ingress.tls is absent; there is no HTTPS to redirect to (set it to false or add tls)",
        );
    }
}

fn check_probes(env: &PodSettings<'_>, out: &mut Problems) {
    let p = &env.probes;
    for (name, t) in [
        ("probes.startup", &p.startup),
        ("probes.liveness", &p.liveness),
        ("probes.readiness", &p.readiness),
    ] {
        for (field, value) in [
            ("period_seconds", t.period_seconds),
            ("timeout_seconds", t.timeout_seconds),
            ("failure_threshold", t.failure_threshold),
        ] {
            if value == 0 {
                out.add(format!("{name}.{field}"), "is 0; it must be at least 1");
            }
        }
    }
}

fn check_secrets(env: &PodSettings<'_>, out: &mut Problems) {
    let mut seen_vars: Vec<&str> = Vec::new();
    for (i, secret) in env.secrets.iter().enumerate() {
        if env.secrets[..i].iter().any(|s| s.name == secret.name) {
            out.add(
                format!("secrets[{i}].name"),
                format!("repeats `{}`", secret.name),
            );
        }
        for var in secret.env.keys() {
            let name = var.as_str();
            if seen_vars.contains(&name) {
                out.add(
                    format!("secrets[{i}].env.{name}"),
                    "is filled by another secret too",
                );
            }
            seen_vars.push(name);
        }
        if let Some(path) = &secret.mount_path {
            let p = std::path::Path::new(path);
            if !p.is_absolute() {
                out.add(
                    format!("secrets[{i}].mount_path"),
                    format!("is `{path}`; it must be an absolute path"),
                );
            }
        }
        if secret.env.is_empty() && secret.mount_path.is_none() && !secret.all_keys {
            out.add(format!("secrets[{i}]"), format!("`{}` is neither read into env nor mounted; remove it or say how the pod reads it (env, all_keys or mount_path)", secret.name));
        }
    }
}
