//! What the akidb-embed server needs of an environment's settings: a configuration the
//! server itself accepts, memory for the models it preloads, and its own directories and
//! variables left to it.

use std::path::{Path, PathBuf};

use app::{container, env_vars};

use crate::settings::check::Problems;
use crate::settings::models::ModelSource;
use crate::settings::{AccessMode, AkidbEmbed, Environment, Image, Problem};

/// Memory the server process needs besides model weights (runtime, tokenizer, buffers).
const RUNTIME_OVERHEAD_BYTES: u64 = 160 * 1024 * 1024;

/// Every problem the server has with its settings in `env`, component by component.
#[must_use]
pub fn check(env: &Environment) -> Vec<Problem> {
    let mut out = Vec::new();
    for (name, settings) in env.akidb_embeds() {
        let mut problems = Problems::under(&format!("components.{name}.akidb_embed"));
        check_memory(settings, &mut problems);
        check_config(settings, &mut problems);
        check_monitoring(settings, &mut problems);
        check_secrets(settings, &mut problems);
        check_models(settings, &mut problems);
        check_api_keys(settings, &mut problems);
        check_blue_green(settings, &mut problems);
        out.extend(problems.list);
    }
    out
}

fn check_memory(env: &AkidbEmbed, out: &mut Problems) {
    let weights: u64 = env
        .config
        .embedding
        .preload_models
        .iter()
        .filter_map(|m| env.config.model_facts(m))
        .map(|f| f.weights_bytes())
        .sum();
    let needed = weights + RUNTIME_OVERHEAD_BYTES;
    let limit = &env.resources.limits.memory;
    if limit.bytes() < needed {
        out.add(
            "resources.limits.memory",
            format!(
                "is {limit} but the preloaded models need about {} MiB ({} MiB of weights plus {} MiB for the runtime); the pod would be OOM-killed",
                needed >> 20,
                weights >> 20,
                RUNTIME_OVERHEAD_BYTES >> 20
            ),
        );
    }
}

fn check_config(env: &AkidbEmbed, out: &mut Problems) {
    if let Err(e) = env.config.validate() {
        let (setting, message) = match &e {
            app::ConfigError::Invalid { key, reason } => (format!("config.{key}"), reason.clone()),
            other => ("config".to_owned(), other.to_string()),
        };
        out.add(setting, message);
    }
    let model_dir = &env.config.embedding.model_dir;
    if !model_dir.is_absolute() {
        out.add(
            "config.embedding.model_dir",
            format!(
                "is `{}`; the model volume is mounted there, so it must be an absolute path",
                model_dir.display()
            ),
        );
    }
    if model_dir.starts_with(container::CONFIG_DIR) || model_dir == Path::new(container::TMP_DIR) {
        out.add(
            "config.embedding.model_dir",
            format!(
                "is `{}`, which collides with a directory the pod already mounts",
                model_dir.display()
            ),
        );
    }
}

fn check_monitoring(env: &AkidbEmbed, out: &mut Problems) {
    let Some(monitoring) = &env.monitoring else {
        return;
    };
    if let Err(e) = monitoring.objectives.check() {
        out.add("monitoring.objectives", e.to_string());
    }
    let metrics = &env.config.observability;
    if !metrics.metrics_enabled || !env.config.metrics_on_separate_port() {
        out.add(
            "monitoring",
            "needs the server's metrics on a port of their own (config.observability.metrics_enabled true and metrics_port other than server.port), which the ServiceMonitor scrapes",
        );
    }
}

/// Folders the server's pod always mounts: the configuration, scratch and the models.
fn mounted_dirs(env: &AkidbEmbed) -> [PathBuf; 3] {
    [
        PathBuf::from(container::CONFIG_DIR),
        PathBuf::from(container::TMP_DIR),
        env.config.embedding.model_dir.clone(),
    ]
}

fn check_secrets(env: &AkidbEmbed, out: &mut Problems) {
    let reserved = [env_vars::RAYON_NUM_THREADS];
    let taken_dirs = mounted_dirs(env);
    for (i, secret) in env.secrets.iter().enumerate() {
        for var in secret.env.keys() {
            if reserved.contains(&var.as_str()) {
                out.add(
                    format!("secrets[{i}].env.{var}"),
                    "is set by the generator from the CPU limit",
                );
            }
        }
        if let Some(path) = &secret.mount_path {
            let p = Path::new(path);
            if p.is_absolute()
                && taken_dirs
                    .iter()
                    .any(|d| p.starts_with(d) || d.starts_with(p))
            {
                out.add(
                    format!("secrets[{i}].mount_path"),
                    format!("`{path}` overlaps a directory the pod already mounts"),
                );
            }
        }
    }
}

fn check_models(env: &AkidbEmbed, out: &mut Problems) {
    let models = &env.models;
    match models.source {
        ModelSource::Hub => {
            if env.model_cache.access_mode == AccessMode::ReadOnlyMany {
                out.add(
                    "model_cache.access_mode",
                    "is ReadOnlyMany, but models.source hub writes the pulled models into the claim; use ReadWriteMany (replicas on several nodes) or ReadWriteOnce, or set models.source to prefilled",
                );
            }
            for id in &env.config.embedding.preload_models {
                if env.config.hub.source(id).is_none() {
                    out.add(
                        format!("config.hub.models.{id}"),
                        format!(
                            "is missing: `{id}` is preloaded and models.source is hub, but it has no built-in hub source; give its repo and revision (a full commit hash), or set models.source to prefilled"
                        ),
                    );
                }
            }
            if models.pull_resources.limits.memory.bytes() < PULL_MEMORY_FLOOR {
                out.add(
                    "models.pull_resources.limits.memory",
                    format!(
                        "is {} but the pull needs at least {} MiB for its buffers and TLS",
                        models.pull_resources.limits.memory,
                        PULL_MEMORY_FLOOR >> 20
                    ),
                );
            }
        }
        ModelSource::Prefilled => {
            if models.hub_token.is_some() {
                out.add(
                    "models.hub_token",
                    "is only read by the pull, and models.source is prefilled: nothing is pulled; remove it or set models.source to hub",
                );
            }
        }
    }
}

/// Memory under which the pull container cannot run at all.
const PULL_MEMORY_FLOOR: u64 = 64 * 1024 * 1024;

fn check_api_keys(env: &AkidbEmbed, out: &mut Problems) {
    let auth = &env.config.auth;
    let from_env = env
        .secrets
        .iter()
        .any(|s| s.env.keys().any(|v| v.as_str() == env_vars::API_KEYS));
    if env.api_keys.is_none() {
        if auth.required && !from_env {
            out.add(
                "config.auth.required",
                format!(
                    "is true but no keys reach the server; set api_keys to the Secret holding them, or fill {} from a Secret under secrets",
                    env_vars::API_KEYS
                ),
            );
        }
        return;
    }
    let file = &auth.keys_file;
    let Some(dir) = file
        .parent()
        .filter(|d| file.is_absolute() && *d != Path::new("/"))
    else {
        out.add(
            "config.auth.keys_file",
            format!(
                "is `{}`; api_keys mounts the Secret's directory there, so it must be an absolute path inside a directory of its own",
                file.display()
            ),
        );
        return;
    };
    let taken = mounted_dirs(env);
    let secret_dirs = env
        .secrets
        .iter()
        .filter_map(|s| s.mount_path.as_ref())
        .map(PathBuf::from);
    if let Some(other) = taken
        .into_iter()
        .chain(secret_dirs)
        .find(|d| dir.starts_with(d) || d.starts_with(dir))
    {
        out.add(
            "config.auth.keys_file",
            format!(
                "is in `{}`, which overlaps `{}`, a directory the pod already mounts; api_keys needs the directory to itself",
                dir.display(),
                other.display()
            ),
        );
    }
}

fn check_blue_green(env: &AkidbEmbed, out: &mut Problems) {
    let Some(bg) = &env.blue_green else {
        return;
    };
    let active = bg.active.as_str();
    if !bg.colors().iter().any(|(c, _)| *c == bg.active) {
        out.add(
            "blue_green.active",
            format!(
                "is {active}, but blue_green.{active} is not defined: the API Service would select no pod; define it or switch back"
            ),
        );
    }
    if env.image != Image::default() {
        out.add(
            "image",
            "is unused under blue_green, where each colour pins its own image; move it to blue_green.blue.image or blue_green.green.image",
        );
    }
}
