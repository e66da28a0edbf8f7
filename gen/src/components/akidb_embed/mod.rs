//! The akidb-embed server as a [`Workload`]: every port, path, argument and file here
//! comes from the server crate's contract, so the manifests cannot drift from the server.
//! What the server needs of the settings (memory for its models, a configuration it
//! accepts, directories it owns) is checked in [`check`].

pub mod check;

use std::collections::BTreeMap;
use std::path::Path;

use app::{container, env_vars, routes};

use crate::settings::image::{Pin, Tag};
use crate::settings::models::ApiKeys;
use crate::settings::{AkidbEmbed, DnsLabel, Environment, Image};
use crate::workload::{
    Colors, ConfigFiles, Connections, Controller, DataVolume, Egress, EnvValue, InitContainer,
    MetricsEndpoint, Plan, ProbeAction, ProbePaths, Resources, SecretFiles, Workload,
};

/// Image tag used when an environment pins none: the server's own version, so a release
/// of this repository pins the image it was built with.
#[must_use]
pub fn default_image_tag() -> Tag {
    Tag::new(app::VERSION).unwrap_or_else(|e| unreachable!("the crate version is a tag: {e}"))
}

/// Builds the plan of the component `name` of `app`, which passed the load stage's checks.
#[must_use]
pub fn plan<'a>(app: &'a Environment, name: &'a DnsLabel, env: &'a AkidbEmbed) -> Plan<'a> {
    let config = &effective_config(env);
    let default_tag = default_image_tag();
    let (image, version) = pin(&env.image, &default_tag);
    let threads = env.resources.limits.cpu.whole_cores_rounded_up();
    let workload = Workload {
        app: container::BINARY_NAME.to_owned(),
        component: "embedding".to_owned(),
        part_of: app.part_of().to_string(),
        version,
        container_name: "server".to_owned(),
        image,
        pull_policy: env.image.pull_policy.as_str().to_owned(),
        command: vec![container::BINARY_PATH.to_owned()],
        args: container::args(),
        env: vec![(env_vars::RAYON_NUM_THREADS.to_owned(), threads.to_string())],
        api_port: config.server.port,
        metrics: config
            .observability
            .metrics_enabled
            .then(|| MetricsEndpoint {
                port: config.observability.metrics_port,
                path: routes::METRICS.to_owned(),
            }),
        probe_paths: ProbePaths {
            startup: Some(ProbeAction::Http(routes::HEALTH_STARTUP.to_owned())),
            liveness: ProbeAction::Http(routes::HEALTH_LIVE.to_owned()),
            readiness: ProbeAction::Http(routes::HEALTH_READY.to_owned()),
        },
        config: Some(ConfigFiles {
            mount_dir: container::CONFIG_DIR.to_owned(),
            files: BTreeMap::from([(container::CONFIG_FILE.to_owned(), config.to_toml_string())]),
        }),
        data: Some(DataVolume {
            name: "models".to_owned(),
            mount_path: config.embedding.model_dir.display().to_string(),
            read_only: true,
        }),
        init: env.models.pulled().then(|| pull_container(env)),
        secret_files: env
            .api_keys
            .iter()
            .map(|keys| api_key_files(keys, &config.auth.keys_file))
            .collect(),
        egress: if env.models.pulled() {
            vec![Egress {
                cidrs: env
                    .models
                    .hub_egress_cidrs
                    .iter()
                    .map(|c| c.as_str().to_owned())
                    .collect(),
                port: env.models.hub_endpoint.port(),
            }]
        } else {
            Vec::new()
        },
        scratch_dir: container::TMP_DIR.to_owned(),
        writable_dirs: Vec::new(),
        shared: Vec::new(),
        run_as: (container::RUN_AS_USER, container::RUN_AS_GROUP),
        drain_timeout_secs: config.server.drain_timeout_secs,
        body_limit_bytes: config.server.body_limit_bytes,
        request_timeout_secs: config.server.request_timeout_secs,
        controller: Controller::Deployment,
        extra_ports: Vec::new(),
        api_protocol: Some("http"),
        config_map_env: Vec::new(),
        env_from_config_maps: Vec::new(),
    };
    Plan {
        app,
        name,
        settings: env.pod(),
        workload,
        color: None,
        connections: Connections::default(),
        blue_green: env.blue_green.as_ref().map(|bg| Colors {
            active: bg.active,
            images: bg
                .colors()
                .into_iter()
                .map(|(color, c)| {
                    let (image, version) = pin(&c.image, &default_tag);
                    (color, image, version)
                })
                .collect(),
        }),
    }
}

/// An image's full reference, and its tag as the version label (none for a digest).
fn pin(image: &Image, default_tag: &Tag) -> (String, Option<String>) {
    let version = match image.pin(default_tag) {
        Pin::Tag(t) => Some(t.to_string()),
        Pin::Digest(_) => None,
    };
    (image.reference(default_tag), version)
}

/// The server's configuration as the ConfigMap carries it: the settings' own, with API
/// keys required when the component names a Secret for them.
#[must_use]
pub fn effective_config(env: &AkidbEmbed) -> app::Config {
    let mut config = env.config.clone();
    if env.api_keys.is_some() {
        config.auth.required = true;
    }
    config
}

/// Name of the init container that fills the model volume.
pub const PULL_CONTAINER: &str = "models-pull";

/// Volume of the API-key Secret.
const API_KEYS_VOLUME: &str = "api-keys";

/// `akidb-embed models pull` with the mounted configuration, against the settings' hub.
fn pull_container(env: &AkidbEmbed) -> InitContainer {
    let m = &env.models;
    let mut vars = vec![(
        env_vars::HF_ENDPOINT.to_owned(),
        EnvValue::Plain(m.hub_endpoint.as_str().to_owned()),
    )];
    if let Some(token) = &m.hub_token {
        vars.push((
            env_vars::HF_TOKEN.to_owned(),
            EnvValue::Secret {
                secret: token.secret.as_str().to_owned(),
                key: token.key.as_str().to_owned(),
            },
        ));
    }
    InitContainer {
        name: PULL_CONTAINER.to_owned(),
        args: container::pull_args(),
        env: vars,
        resources: Resources {
            requests: m.pull_resources.requests.clone(),
            limits: m.pull_resources.limits.clone(),
        },
        writes_data: true,
    }
}

/// The Secret's key as the one file `keys_file` names, in a directory of its own so the
/// kubelet can swap it when the Secret changes (a subPath mount would never update).
fn api_key_files(keys: &ApiKeys, keys_file: &Path) -> SecretFiles {
    let dir = keys_file.parent().unwrap_or(Path::new("/"));
    let file = keys_file
        .file_name()
        .map_or_else(String::new, |f| f.to_string_lossy().into_owned());
    SecretFiles {
        volume: API_KEYS_VOLUME.to_owned(),
        secret: keys.secret.as_str().to_owned(),
        mount_dir: dir.display().to_string(),
        items: vec![(keys.key.as_str().to_owned(), file)],
    }
}
