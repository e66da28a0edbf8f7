//! The akidb-embed server as a [`Workload`]: every port, path, argument and file here
//! comes from the server crate's contract, so the manifests cannot drift from the server.
//! What the server needs of the settings (memory for its models, a configuration it
//! accepts, directories it owns) is checked in [`check`].

pub mod check;

use std::collections::BTreeMap;

use app::{container, env_vars, routes};

use crate::settings::image::{Pin, Tag};
use crate::settings::{AkidbEmbed, DnsLabel, Environment};
use crate::workload::{ConfigFiles, DataVolume, MetricsEndpoint, Plan, ProbePaths, Workload};

/// Image tag used when an environment pins none: the server's own version, so a release
/// of this repository pins the image it was built with.
#[must_use]
pub fn default_image_tag() -> Tag {
    Tag::new(app::VERSION).unwrap_or_else(|e| unreachable!("the crate version is a tag: {e}"))
}

/// Builds the plan of the component `name` of `app`, which passed the load stage's checks.
#[must_use]
pub fn plan<'a>(app: &'a Environment, name: &'a DnsLabel, env: &'a AkidbEmbed) -> Plan<'a> {
    let config = &env.config;
    let default_tag = default_image_tag();
    let image = env.image.reference(&default_tag);
    let version = match env.image.pin(&default_tag) {
        Pin::Tag(t) => Some(t.to_string()),
        Pin::Digest(_) => None,
    };
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
            startup: routes::HEALTH_STARTUP.to_owned(),
            liveness: routes::HEALTH_LIVE.to_owned(),
            readiness: routes::HEALTH_READY.to_owned(),
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
        scratch_dir: container::TMP_DIR.to_owned(),
        run_as: (container::RUN_AS_USER, container::RUN_AS_GROUP),
        drain_timeout_secs: config.server.drain_timeout_secs,
        body_limit_bytes: config.server.body_limit_bytes,
        request_timeout_secs: config.server.request_timeout_secs,
    };
    Plan {
        app,
        name,
        settings: env,
        workload,
    }
}
