//! Deployment, and the pod template every controller runs: hardened, probed on the
//! workload's own routes, rolled on every configuration change and drained before it stops.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment,
};
use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMapEnvSource, ConfigMapKeySelector, ConfigMapVolumeSource, Container,
    ContainerPort, EmptyDirVolumeSource, EnvFromSource, EnvVar, EnvVarSource, ExecAction,
    HTTPGetAction, KeyToPath, Lifecycle, LifecycleHandler, PersistentVolumeClaimVolumeSource,
    PodSecurityContext, PodSpec, PodTemplateSpec, Probe, ResourceRequirements, SeccompProfile,
    SecretEnvSource, SecretKeySelector, SecretVolumeSource, SecurityContext, SleepAction,
    TCPSocketAction, TopologySpreadConstraint, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{config_map, int, meta, pod_selector};
use crate::settings::{CpuMemory, ProbeTiming, SpreadDomain, SpreadMode};
use crate::workload::{
    Controller, EnvValue, HTTP_PORT_NAME, InitContainer, METRICS_PORT_NAME, Plan, ProbeAction,
    volume_names,
};

/// Pod template annotation holding the configuration checksum.
pub const CONFIG_CHECKSUM_ANNOTATION: &str = "checksum/config";

const CONFIG_VOLUME: &str = volume_names::CONFIG;
const SCRATCH_VOLUME: &str = volume_names::SCRATCH;
/// Bound on the scratch emptyDir, so a runaway writer is evicted rather than filling the node.
const SCRATCH_SIZE: &str = "64Mi";
/// Bound on each further writable folder (caches, pid files, uploads in flight).
const WRITABLE_SIZE: &str = "256Mi";

/// Builds the Deployment.
#[must_use]
pub fn build(plan: &Plan<'_>) -> Deployment {
    let env = &plan.settings;
    Deployment {
        metadata: meta(plan, plan.workload_name()),
        spec: Some(DeploymentSpec {
            // The autoscaler owns the count; a static one here would fight it on every apply.
            replicas: env
                .autoscaling
                .is_none()
                .then(|| int(env.replicas.unwrap_or(1))),
            revision_history_limit: Some(5),
            selector: pod_selector(plan),
            strategy: Some(DeploymentStrategy {
                type_: Some("RollingUpdate".to_owned()),
                rolling_update: Some(RollingUpdateDeployment {
                    max_surge: Some(IntOrString::Int(1)),
                    max_unavailable: Some(IntOrString::Int(0)),
                }),
            }),
            template: pod_template(plan),
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    }
}

/// The pod template, whatever controller runs it.
#[must_use]
pub fn pod_template(plan: &Plan<'_>) -> PodTemplateSpec {
    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(plan.labels()),
            annotations: Some(pod_annotations(plan)),
            ..ObjectMeta::default()
        }),
        spec: Some(pod_spec(plan)),
    }
}

fn pod_annotations(plan: &Plan<'_>) -> BTreeMap<String, String> {
    let mut a = BTreeMap::new();
    if let Some(sum) = config_map::checksum(plan) {
        a.insert(CONFIG_CHECKSUM_ANNOTATION.to_owned(), sum);
    }
    if let Some(m) = &plan.workload.metrics {
        a.insert("prometheus.io/scrape".to_owned(), "true".to_owned());
        a.insert("prometheus.io/port".to_owned(), m.port.to_string());
        a.insert("prometheus.io/path".to_owned(), m.path.clone());
    }
    a
}

fn pod_spec(plan: &Plan<'_>) -> PodSpec {
    let w = &plan.workload;
    let (uid, gid) = w.run_as;
    PodSpec {
        service_account_name: Some(plan.name().to_owned()),
        automount_service_account_token: Some(false),
        // Service links inject an env var per Service in the namespace; the server reads
        // none of them and they only leak topology.
        enable_service_links: Some(false),
        security_context: Some(PodSecurityContext {
            run_as_non_root: Some(true),
            run_as_user: Some(uid),
            run_as_group: Some(gid),
            fs_group: Some(gid),
            fs_group_change_policy: Some("OnRootMismatch".to_owned()),
            seccomp_profile: Some(SeccompProfile {
                type_: "RuntimeDefault".to_owned(),
                localhost_profile: None,
            }),
            ..PodSecurityContext::default()
        }),
        termination_grace_period_seconds: Some(i64::from(plan.termination_grace_seconds())),
        topology_spread_constraints: spread(plan),
        init_containers: plan
            .workload
            .init
            .as_ref()
            .map(|i| vec![init_container(plan, i)]),
        containers: vec![container(plan)],
        volumes: Some(volumes(plan)),
        ..PodSpec::default()
    }
}

fn spread(plan: &Plan<'_>) -> Option<Vec<TopologySpreadConstraint>> {
    if plan.settings.max_replicas() < 2 {
        return None;
    }
    let s = &plan.settings.spread;
    Some(vec![TopologySpreadConstraint {
        max_skew: 1,
        topology_key: match s.across {
            SpreadDomain::Nodes => "kubernetes.io/hostname",
            SpreadDomain::Zones => "topology.kubernetes.io/zone",
        }
        .to_owned(),
        when_unsatisfiable: match s.mode {
            SpreadMode::Prefer => "ScheduleAnyway",
            SpreadMode::Require => "DoNotSchedule",
        }
        .to_owned(),
        label_selector: Some(pod_selector(plan)),
        // Count only pods of the same rollout, so old pods being replaced do not skew it.
        match_label_keys: Some(vec![revision_label(&plan.workload.controller).to_owned()]),
        ..TopologySpreadConstraint::default()
    }])
}

/// The label each controller puts on its pods to tell one revision from the next.
fn revision_label(controller: &Controller) -> &'static str {
    match controller {
        Controller::Deployment => "pod-template-hash",
        Controller::StatefulSet(_) => "controller-revision-hash",
    }
}

fn container(plan: &Plan<'_>) -> Container {
    let w = &plan.workload;
    let probes = &plan.settings.probes;
    let mut ports = vec![port(HTTP_PORT_NAME, w.api_port)];
    ports.extend(w.extra_ports.iter().map(|(name, n)| port(name, *n)));
    if let Some(m) = w.metrics.as_ref().filter(|m| m.separate_from(w.api_port)) {
        ports.push(port(METRICS_PORT_NAME, m.port));
    }
    Container {
        name: w.container_name.clone(),
        image: Some(w.image.clone()),
        image_pull_policy: Some(w.pull_policy.clone()),
        command: (!w.command.is_empty()).then(|| w.command.clone()),
        args: (!w.args.is_empty()).then(|| w.args.clone()),
        env: Some(env_vars(plan)),
        env_from: env_from(plan),
        ports: Some(ports),
        startup_probe: w
            .probe_paths
            .startup
            .as_ref()
            .map(|path| probe(path, &probes.startup)),
        liveness_probe: Some(probe(&w.probe_paths.liveness, &probes.liveness)),
        readiness_probe: Some(probe(&w.probe_paths.readiness, &probes.readiness)),
        resources: Some(ResourceRequirements {
            requests: Some(cpu_memory(&plan.settings.resources.requests)),
            limits: Some(cpu_memory(&plan.settings.resources.limits)),
            ..ResourceRequirements::default()
        }),
        security_context: Some(hardened()),
        // Keep serving while endpoints and load balancers forget the pod; only then does
        // SIGTERM start the server's own drain.
        lifecycle: (plan.settings.pre_stop_sleep_seconds > 0).then(|| Lifecycle {
            pre_stop: Some(LifecycleHandler {
                sleep: Some(SleepAction {
                    seconds: i64::from(plan.settings.pre_stop_sleep_seconds),
                }),
                ..LifecycleHandler::default()
            }),
            ..Lifecycle::default()
        }),
        termination_message_policy: Some("FallbackToLogsOnError".to_owned()),
        volume_mounts: Some(volume_mounts(plan)),
        ..Container::default()
    }
}

/// The restricted profile: no privilege, no capabilities, nothing written outside volumes.
fn hardened() -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        read_only_root_filesystem: Some(true),
        run_as_non_root: Some(true),
        privileged: Some(false),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".to_owned()]),
            add: None,
        }),
        ..SecurityContext::default()
    }
}

/// The init container: the workload's image and command with its own arguments, the same
/// hardening, the configuration, the data volume (writable when it fills it) and scratch.
fn init_container(plan: &Plan<'_>, init: &InitContainer) -> Container {
    let w = &plan.workload;
    let env = init
        .env
        .iter()
        .map(|(name, value)| match value {
            EnvValue::Plain(v) => EnvVar {
                name: name.clone(),
                value: Some(v.clone()),
                value_from: None,
            },
            EnvValue::Secret { secret, key } => secret_env(name, secret, key),
        })
        .collect();
    let mut mounts = Vec::new();
    if let Some(c) = &w.config {
        mounts.push(mount(CONFIG_VOLUME, &c.mount_dir, true));
    }
    if let Some(d) = &w.data {
        mounts.push(mount(&d.name, &d.mount_path, !init.writes_data));
    }
    mounts.push(mount(SCRATCH_VOLUME, &w.scratch_dir, false));
    Container {
        name: init.name.clone(),
        image: Some(w.image.clone()),
        image_pull_policy: Some(w.pull_policy.clone()),
        command: Some(w.command.clone()),
        args: Some(init.args.clone()),
        env: Some(env),
        resources: Some(ResourceRequirements {
            requests: Some(cpu_memory(&init.resources.requests)),
            limits: Some(cpu_memory(&init.resources.limits)),
            ..ResourceRequirements::default()
        }),
        security_context: Some(hardened()),
        termination_message_policy: Some("FallbackToLogsOnError".to_owned()),
        volume_mounts: Some(mounts),
        ..Container::default()
    }
}

fn secret_env(name: &str, secret: &str, key: &str) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value: None,
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: secret.to_owned(),
                key: key.to_owned(),
                optional: Some(false),
            }),
            ..EnvVarSource::default()
        }),
    }
}

fn mount(name: &str, path: &str, read_only: bool) -> VolumeMount {
    VolumeMount {
        name: name.to_owned(),
        mount_path: path.to_owned(),
        read_only: Some(read_only),
        ..VolumeMount::default()
    }
}

/// Whole ConfigMaps, then whole Secrets, as variables (`envFrom`).
fn env_from(plan: &Plan<'_>) -> Option<Vec<EnvFromSource>> {
    let config_maps = plan
        .workload
        .env_from_config_maps
        .iter()
        .map(|name| EnvFromSource {
            config_map_ref: Some(ConfigMapEnvSource {
                name: name.clone(),
                optional: Some(false),
            }),
            ..EnvFromSource::default()
        });
    let secrets = plan
        .settings
        .secrets
        .iter()
        .filter(|s| s.all_keys)
        .map(|s| EnvFromSource {
            secret_ref: Some(SecretEnvSource {
                name: s.name.as_str().to_owned(),
                optional: Some(false),
            }),
            ..EnvFromSource::default()
        });
    let all: Vec<_> = config_maps.chain(secrets).collect();
    (!all.is_empty()).then_some(all)
}

/// The workload's own variables, then one per declared Secret key (values never appear).
fn env_vars(plan: &Plan<'_>) -> Vec<EnvVar> {
    let plain = plan.workload.env.iter().map(|(name, value)| EnvVar {
        name: name.clone(),
        value: Some(value.clone()),
        value_from: None,
    });
    let from_config_maps = plan
        .workload
        .config_map_env
        .iter()
        .map(|(var, config_map, key)| EnvVar {
            name: var.clone(),
            value: None,
            value_from: Some(EnvVarSource {
                config_map_key_ref: Some(ConfigMapKeySelector {
                    name: config_map.clone(),
                    key: key.clone(),
                    optional: Some(false),
                }),
                ..EnvVarSource::default()
            }),
        });
    let from_secrets = plan.settings.secrets.iter().flat_map(|secret| {
        secret
            .env
            .iter()
            .map(|(var, key)| secret_env(var.as_str(), secret.name.as_str(), key.as_str()))
    });
    plain.chain(from_config_maps).chain(from_secrets).collect()
}

/// Volume name of a shared claim.
fn shared_volume_name(claim: &str) -> String {
    format!("{}{claim}", volume_names::PREFIXES[1])
}

/// Volume name of the `index`th writable folder.
fn writable_volume_name(index: usize) -> String {
    format!("{}{index}", volume_names::PREFIXES[0])
}

/// Volume name of the `index`th declared Secret.
fn secret_volume_name(index: usize) -> String {
    format!("{}{index}", volume_names::PREFIXES[2])
}

fn port(name: &str, number: u16) -> ContainerPort {
    ContainerPort {
        name: Some(name.to_owned()),
        container_port: int(number),
        protocol: Some("TCP".to_owned()),
        ..ContainerPort::default()
    }
}

fn probe(action: &ProbeAction, t: &ProbeTiming) -> Probe {
    let mut p = Probe {
        period_seconds: Some(int(t.period_seconds)),
        timeout_seconds: Some(int(t.timeout_seconds)),
        failure_threshold: Some(int(t.failure_threshold)),
        success_threshold: Some(1),
        ..Probe::default()
    };
    let port = IntOrString::String(HTTP_PORT_NAME.to_owned());
    match action {
        ProbeAction::Http(path) => {
            p.http_get = Some(HTTPGetAction {
                path: Some(path.clone()),
                port,
                scheme: Some("HTTP".to_owned()),
                ..HTTPGetAction::default()
            });
        }
        ProbeAction::Tcp => {
            p.tcp_socket = Some(TCPSocketAction { port, host: None });
        }
        ProbeAction::Exec(command) => {
            p.exec = Some(ExecAction {
                command: Some(command.clone()),
            });
        }
    }
    p
}

pub(super) fn cpu_memory(r: &CpuMemory) -> BTreeMap<String, Quantity> {
    BTreeMap::from([
        ("cpu".to_owned(), r.cpu.to_quantity()),
        ("memory".to_owned(), r.memory.to_quantity()),
    ])
}

fn volume_mounts(plan: &Plan<'_>) -> Vec<VolumeMount> {
    let w = &plan.workload;
    let mut out = Vec::new();
    if let Some(c) = &w.config {
        out.push(mount(CONFIG_VOLUME, &c.mount_dir, true));
    }
    if let Some(d) = &w.data {
        out.push(mount(&d.name, &d.mount_path, d.read_only));
    }
    out.push(mount(SCRATCH_VOLUME, &w.scratch_dir, false));
    for (i, dir) in w.writable_dirs.iter().enumerate() {
        out.push(mount(&writable_volume_name(i), dir, false));
    }
    for (claim, path, read_only) in &w.shared {
        out.push(mount(&shared_volume_name(claim), path, *read_only));
    }
    // A StatefulSet's own claims: the pod volume takes the template's name.
    if let Controller::StatefulSet(pods) = &w.controller {
        for claim in &pods.claims {
            out.push(mount(&claim.name, &claim.mount_path, false));
        }
    }
    for files in &w.secret_files {
        out.push(mount(&files.volume, &files.mount_dir, true));
    }
    for (i, secret) in plan.settings.secrets.iter().enumerate() {
        if let Some(path) = &secret.mount_path {
            out.push(mount(&secret_volume_name(i), path, true));
        }
    }
    out
}

fn volumes(plan: &Plan<'_>) -> Vec<Volume> {
    let w = &plan.workload;
    let mut out = Vec::new();
    if w.config.is_some() {
        out.push(Volume {
            name: CONFIG_VOLUME.to_owned(),
            config_map: Some(ConfigMapVolumeSource {
                name: plan.config_map_name(),
                ..ConfigMapVolumeSource::default()
            }),
            ..Volume::default()
        });
    }
    if let (Some(d), Some(claim)) = (&w.data, plan.claim_name()) {
        out.push(Volume {
            name: d.name.clone(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: claim,
                // The claim is read-only for every container only when none writes it.
                read_only: Some(d.read_only && !w.init.as_ref().is_some_and(|i| i.writes_data)),
            }),
            ..Volume::default()
        });
    }
    out.push(Volume {
        name: SCRATCH_VOLUME.to_owned(),
        empty_dir: Some(EmptyDirVolumeSource {
            size_limit: Some(Quantity(SCRATCH_SIZE.to_owned())),
            medium: None,
        }),
        ..Volume::default()
    });
    for (claim, _, read_only) in &w.shared {
        out.push(Volume {
            name: shared_volume_name(claim),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: claim.clone(),
                read_only: Some(*read_only),
            }),
            ..Volume::default()
        });
    }
    for i in 0..w.writable_dirs.len() {
        out.push(Volume {
            name: writable_volume_name(i),
            empty_dir: Some(EmptyDirVolumeSource {
                size_limit: Some(Quantity(WRITABLE_SIZE.to_owned())),
                medium: None,
            }),
            ..Volume::default()
        });
    }
    for files in &w.secret_files {
        out.push(Volume {
            name: files.volume.clone(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(files.secret.clone()),
                default_mode: Some(0o400),
                optional: Some(false),
                items: Some(
                    files
                        .items
                        .iter()
                        .map(|(key, path)| KeyToPath {
                            key: key.clone(),
                            path: path.clone(),
                            mode: None,
                        })
                        .collect(),
                ),
            }),
            ..Volume::default()
        });
    }
    for (i, secret) in plan.settings.secrets.iter().enumerate() {
        if secret.mount_path.is_some() {
            out.push(Volume {
                name: secret_volume_name(i),
                secret: Some(SecretVolumeSource {
                    secret_name: Some(secret.name.as_str().to_owned()),
                    // Owner-read only: the server process reads them, nothing else needs to.
                    default_mode: Some(0o400),
                    optional: Some(false),
                    items: None,
                }),
                ..Volume::default()
            });
        }
    }
    out
}
