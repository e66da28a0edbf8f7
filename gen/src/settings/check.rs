//! Checks on values the types cannot rule out: each problem names its setting and the
//! values involved, and every problem in a file is reported at once.

use std::fmt;

use super::{AccessMode, Environment, ServiceType, SpreadDomain, SpreadMode};

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

/// Memory the server process needs besides model weights (runtime, tokenizer, buffers).
const RUNTIME_OVERHEAD_BYTES: u64 = 160 * 1024 * 1024;

/// All problems of `env`, or `Ok` when there are none.
///
/// # Errors
/// The list of problems, in the order of the settings.
pub fn check(env: &Environment) -> Result<(), Vec<Problem>> {
    let mut out = Problems(Vec::new());
    check_replicas(env, &mut out);
    check_resources(env, &mut out);
    check_image(env, &mut out);
    check_service(env, &mut out);
    check_ingress(env, &mut out);
    check_probes(env, &mut out);
    check_config(env, &mut out);
    check_secrets(env, &mut out);
    check_waivers(env, &mut out);
    if out.0.is_empty() { Ok(()) } else { Err(out.0) }
}

struct Problems(Vec<Problem>);

impl Problems {
    fn add(&mut self, setting: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem {
            setting: setting.into(),
            message: message.into(),
        });
    }
}

/// Fewest replicas the environment can run with: the autoscaler's minimum or the fixed count.
#[must_use]
pub fn min_replicas(env: &Environment) -> u32 {
    env.autoscaling
        .as_ref()
        .map_or(env.replicas.unwrap_or(1), |a| a.min_replicas)
}

/// Most replicas the environment can run with.
#[must_use]
pub fn max_replicas(env: &Environment) -> u32 {
    env.autoscaling
        .as_ref()
        .map_or(env.replicas.unwrap_or(1), |a| a.max_replicas)
}

fn check_replicas(env: &Environment, out: &mut Problems) {
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

    let single_node = matches!(
        env.model_cache.access_mode,
        AccessMode::ReadWriteOnce | AccessMode::ReadWriteOncePod
    );
    if single_node
        && max_replicas(env) > 1
        && env.spread.across == SpreadDomain::Nodes
        && env.spread.mode == SpreadMode::Require
    {
        out.add(
            "model_cache.access_mode",
            format!(
                "is {} (attaches to one node) but spread requires replicas on different nodes, so only one of {} replicas could start; use ReadOnlyMany or ReadWriteMany",
                env.model_cache.access_mode.as_str(),
                max_replicas(env)
            ),
        );
    }

    if let Some(pdb) = &env.disruption_budget {
        let min = min_replicas(env);
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

fn check_resources(env: &Environment, out: &mut Problems) {
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
    let weights: u64 = env
        .config
        .embedding
        .preload_models
        .iter()
        .map(|m| m.weights_bytes())
        .sum();
    let needed = weights + RUNTIME_OVERHEAD_BYTES;
    if r.limits.memory.bytes() < needed {
        out.add(
            "resources.limits.memory",
            format!(
                "is {} but the preloaded models need about {} MiB ({} MiB of weights plus {} MiB for the runtime); the pod would be OOM-killed",
                r.limits.memory,
                needed >> 20,
                weights >> 20,
                RUNTIME_OVERHEAD_BYTES >> 20
            ),
        );
    }
}

fn check_image(env: &Environment, out: &mut Problems) {
    if let Err(e) = env.image.pin(crate::embed::DEFAULT_IMAGE_TAG) {
        let setting = ["image.digest", "image.tag", "image.repository"]
            .into_iter()
            .find(|s| e.contains(s))
            .unwrap_or("image");
        out.add(setting, e);
    }
}

fn check_service(env: &Environment, out: &mut Problems) {
    let s = &env.service;
    if s.port == 0 {
        out.add("service.port", "is 0; use a port from 1 to 65535");
    }
    if let Some(np) = s.node_port {
        if s.kind == ServiceType::ClusterIP {
            out.add(
                "service.node_port",
                "is set but service.type is ClusterIP, which has no node ports; use NodePort or LoadBalancer",
            );
        }
        if !(30000..=32767).contains(&np) {
            out.add(
                "service.node_port",
                format!("is {np}; node ports must lie in 30000-32767 (the default range)"),
            );
        }
    }
    let metrics = &env.config.observability;
    if metrics.metrics_enabled
        && env.config.metrics_on_separate_port()
        && metrics.metrics_port == s.port
    {
        out.add(
            "service.port",
            format!("is {} which is also config.observability.metrics_port; the Service would expose two ports with one number", s.port),
        );
    }
    let np = &env.network_policy;
    if s.kind != ServiceType::ClusterIP && np.enabled && np.allow_api_from_cidrs.is_empty() {
        out.add(
            "service.type",
            format!(
                "is {} but the NetworkPolicy admits the API port only from the ingress controller, so the node port would be unreachable; add network_policy.allow_api_from_cidrs (e.g. `0.0.0.0/0`) or turn the policy off",
                s.kind.as_str()
            ),
        );
    }
}

fn check_ingress(env: &Environment, out: &mut Problems) {
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

fn check_probes(env: &Environment, out: &mut Problems) {
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

fn check_config(env: &Environment, out: &mut Problems) {
    if let Err(e) = env.config.validate() {
        let (setting, message) = match &e {
            app::ConfigError::Invalid { key, reason } => (format!("config.{key}"), reason.clone()),
            other => ("config".to_owned(), other.to_string()),
        };
        out.add(setting, message);
    }
    if !env.config.embedding.model_dir.is_absolute() {
        out.add(
            "config.embedding.model_dir",
            format!(
                "is `{}`; the model volume is mounted there, so it must be an absolute path",
                env.config.embedding.model_dir.display()
            ),
        );
    }
    let config_dir = std::path::Path::new(app::container::CONFIG_DIR);
    if env.config.embedding.model_dir.starts_with(config_dir)
        || env.config.embedding.model_dir == std::path::Path::new(app::container::TMP_DIR)
    {
        out.add(
            "config.embedding.model_dir",
            format!(
                "is `{}`, which collides with a directory the pod already mounts",
                env.config.embedding.model_dir.display()
            ),
        );
    }
}

fn check_secrets(env: &Environment, out: &mut Problems) {
    let reserved = [app::env_vars::RAYON_NUM_THREADS];
    let mut seen_vars: Vec<&str> = Vec::new();
    let taken_dirs = [
        std::path::PathBuf::from(app::container::CONFIG_DIR),
        std::path::PathBuf::from(app::container::TMP_DIR),
        env.config.embedding.model_dir.clone(),
    ];
    for (i, secret) in env.secrets.iter().enumerate() {
        if env.secrets[..i].iter().any(|s| s.name == secret.name) {
            out.add(
                format!("secrets[{i}].name"),
                format!("repeats `{}`", secret.name),
            );
        }
        for var in secret.env.keys() {
            let name = var.as_str();
            if reserved.contains(&name) {
                out.add(
                    format!("secrets[{i}].env.{name}"),
                    "is set by the generator from the CPU limit",
                );
            } else if seen_vars.contains(&name) {
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
            } else if taken_dirs
                .iter()
                .any(|d| p.starts_with(d) || d.starts_with(p))
            {
                out.add(
                    format!("secrets[{i}].mount_path"),
                    format!("`{path}` overlaps a directory the pod already mounts"),
                );
            }
        }
        if secret.env.is_empty() && secret.mount_path.is_none() {
            out.add(format!("secrets[{i}]"), format!("`{}` is neither read into env nor mounted; remove it or say how the pod reads it", secret.name));
        }
    }
}

fn check_waivers(env: &Environment, out: &mut Problems) {
    for (i, w) in env.waivers.iter().enumerate() {
        if crate::lint::rule(&w.rule).is_none() {
            let ids: Vec<&str> = crate::lint::rules().iter().map(|r| r.id).collect();
            out.add(
                format!("waivers[{i}].rule"),
                format!(
                    "`{}` is not a rule; valid rules: {}",
                    w.rule,
                    ids.join(", ")
                ),
            );
        }
        if w.reason.trim().len() < 10 {
            out.add(
                format!("waivers[{i}].reason"),
                "must say why the rule does not apply (at least a sentence)",
            );
        }
        if env.waivers[..i].iter().any(|o| o.rule == w.rule) {
            out.add(
                format!("waivers[{i}].rule"),
                format!("waives `{}` twice", w.rule),
            );
        }
    }
}
