//! The `deployment` and `stateful_set` kinds as a [`Workload`]: a container image we did
//! not write, so every fact the objects need (port, probe paths, folders, user, claims)
//! comes from its settings, which [`check`] holds to what the pod can actually run.

pub mod check;

use crate::settings::container::{
    ContainerDeployment, ContainerStatefulSet, PodManagement, ProbeCheck,
};
use crate::settings::image::{Pin, Tag};
use crate::settings::{DnsLabel, Environment};
use crate::workload::{
    ConfigFiles, Connections, Controller, Plan, PodClaim, ProbeAction, ProbePaths, StatefulPods,
    Workload,
};

/// Writable scratch folder every pod gets.
const TMP_DIR: &str = "/tmp";
/// Largest request body proxies let through when nothing else is said (ingress-nginx's own
/// default, 1 MiB).
const BODY_LIMIT_BYTES: u64 = 1 << 20;
/// Longest request proxies wait for when nothing else is said (ingress-nginx's default).
const REQUEST_TIMEOUT_SECS: u32 = 60;

/// Builds the plan of the `deployment` component `name` of `app`.
#[must_use]
pub fn plan<'a>(
    app: &'a Environment,
    name: &'a DnsLabel,
    settings: &'a ContainerDeployment,
) -> Plan<'a> {
    Plan {
        app,
        name,
        settings: settings.pod(),
        workload: workload(app, name, settings),
        color: None,
        connections: Connections::default(),
        blue_green: None,
    }
}

/// Builds the plan of the `stateful_set` component `name` of `app`: a `deployment`'s, run
/// by a StatefulSet with the component's claims.
#[must_use]
pub fn plan_stateful<'a>(
    app: &'a Environment,
    name: &'a DnsLabel,
    settings: &'a ContainerStatefulSet,
) -> Plan<'a> {
    let mut workload = workload(app, name, &settings.container());
    workload.controller = Controller::StatefulSet(StatefulPods {
        claims: settings
            .volume_claims
            .iter()
            .map(|(claim, c)| PodClaim {
                name: claim.to_string(),
                mount_path: c.path.clone(),
                size: c.size.to_quantity().0,
                storage_class: c
                    .storage_class
                    .as_ref()
                    .or(app.storage_class.as_ref())
                    .map(ToString::to_string),
                access_mode: c.access_mode.as_str().to_owned(),
            })
            .collect(),
        parallel: settings.pod_management == PodManagement::Parallel,
    });
    Plan {
        app,
        name,
        settings: settings.pod(),
        workload,
        color: None,
        connections: Connections::default(),
        blue_green: None,
    }
}

fn workload(app: &Environment, name: &DnsLabel, settings: &ContainerDeployment) -> Workload {
    let image = settings.image.to_image();
    // The load stage requires a tag or a digest, so this default is never used.
    let no_tag = Tag::new("unpinned").unwrap_or_else(|e| unreachable!("a valid tag: {e}"));
    let version = match image.pin(&no_tag) {
        Pin::Tag(t) => Some(t.to_string()),
        Pin::Digest(_) => None,
    };
    Workload {
        app: name.to_string(),
        component: name.to_string(),
        part_of: app.part_of().to_string(),
        version,
        container_name: name.to_string(),
        image: image.reference(&no_tag),
        pull_policy: image.pull_policy.as_str().to_owned(),
        command: settings.command.clone(),
        args: settings.args.clone(),
        env: settings
            .env
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
        config_map_env: settings
            .config_maps
            .iter()
            .flat_map(|cm| {
                cm.env
                    .iter()
                    .map(|(var, key)| (var.to_string(), cm.name.to_string(), key.clone()))
            })
            .collect(),
        env_from_config_maps: settings
            .config_maps
            .iter()
            .filter(|cm| cm.all_keys)
            .map(|cm| cm.name.to_string())
            .collect(),
        api_port: settings.port,
        api_protocol: settings.app_protocol.service_value(),
        metrics: None,
        probe_paths: ProbePaths {
            startup: settings.health.startup.as_ref().map(action),
            liveness: action(&settings.health.liveness),
            readiness: action(&settings.health.readiness),
        },
        config: settings.config_files.as_ref().map(|c| ConfigFiles {
            mount_dir: c.mount_dir.clone(),
            files: c.files.clone(),
        }),
        data: None,
        init: None,
        secret_files: Vec::new(),
        egress: Vec::new(),
        scratch_dir: TMP_DIR.to_owned(),
        writable_dirs: settings.writable_dirs.clone(),
        shared: settings
            .volumes
            .iter()
            .map(|m| (m.volume.to_string(), m.path.clone(), m.read_only))
            .collect(),
        run_as: (settings.run_as.user, settings.run_as.group),
        drain_timeout_secs: settings.drain_seconds,
        body_limit_bytes: BODY_LIMIT_BYTES,
        request_timeout_secs: REQUEST_TIMEOUT_SECS,
        controller: Controller::Deployment,
        extra_ports: settings
            .ports
            .iter()
            .map(|(name, port)| (name.clone(), *port))
            .collect(),
    }
}

fn action(check: &ProbeCheck) -> ProbeAction {
    match check {
        ProbeCheck::Http(path) => ProbeAction::Http(path.clone()),
        ProbeCheck::Tcp => ProbeAction::Tcp,
        ProbeCheck::Exec(command) => ProbeAction::Exec(command.clone()),
    }
}
