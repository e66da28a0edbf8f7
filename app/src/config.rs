//! The server's configuration file (`config.toml`) and its environment overrides.
//!
//! The manifest generator serializes this very struct into the ConfigMap, so a key the
//! server does not know can never reach a cluster: both sides share one definition.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::hub::HubConfig;
use std::collections::BTreeMap;

use crate::models::{InvalidModelId, KnownModel, ModelFacts, ModelId};
use crate::{container, env_vars};

/// Everything `akidb-embed` reads from `config.toml`. Every key is optional; a missing key
/// takes the default documented on it. Unknown keys are errors.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// HTTP listener, request limits and shutdown.
    pub server: ServerConfig,
    /// Models, batching and truncation.
    pub embedding: EmbeddingConfig,
    /// Logs and metrics.
    pub observability: ObservabilityConfig,
    /// API keys on every route but health and metrics.
    pub auth: AuthConfig,
    /// Where `akidb-embed models pull` fetches models from.
    pub hub: HubConfig,
}

/// `[server]`: the HTTP listener.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address to bind. Default `0.0.0.0`.
    pub host: IpAddr,
    /// Port of the API and health routes. Default `8080`.
    pub port: u16,
    /// After SIGTERM, how long in-flight and queued requests may take before the process
    /// exits anyway. Default `20`.
    pub drain_timeout_secs: u32,
    /// Largest accepted request body, in bytes. Default `2097152` (2 MiB).
    pub body_limit_bytes: u64,
    /// Longest time one request may wait and compute before it fails with 503. Default `30`.
    pub request_timeout_secs: u32,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            host: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            port: 8080,
            drain_timeout_secs: 20,
            body_limit_bytes: 2 * 1024 * 1024,
            request_timeout_secs: 30,
        }
    }
}

/// `[embedding]`: models and batching.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct EmbeddingConfig {
    /// Folder holding one sub-folder per model id, in the Hugging Face layout.
    /// Default `/models`.
    pub model_dir: PathBuf,
    /// Models loaded at start-up; readiness waits for all of them. The first one is the
    /// default for requests that name no model. A model is a folder under `model_dir`;
    /// one that is not `all-MiniLM-L6-v2` or `e5-small-v2` needs an entry in
    /// `embedding.models`. Default `["all-MiniLM-L6-v2"]`.
    pub preload_models: Vec<ModelId>,
    /// Facts of models beyond the two the server knows by id, keyed by model id: what the
    /// deployment checks before the model's files are there (memory, token budget), and
    /// the token limit the server holds the model to. An entry for a known id replaces
    /// its built-in facts. Default none.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub models: BTreeMap<ModelId, ModelFacts>,
    /// Most models held in memory at once. Default `2`.
    pub max_models: usize,
    /// Token budget of one forward pass; requests are batched up to it. Default `8192`.
    pub max_batch_tokens: usize,
    /// Most texts in one request; more is answered with 413. Default `128`.
    pub max_texts_per_request: usize,
    /// Requests waiting for compute before new ones get 429. Default `256`.
    pub max_queued_requests: usize,
    /// Whether over-long inputs are cut to the model's limit when a request does not say.
    /// Default `true`.
    pub truncate: bool,
}

impl Default for EmbeddingConfig {
    fn default() -> Self {
        EmbeddingConfig {
            model_dir: PathBuf::from("/models"),
            preload_models: vec![KnownModel::AllMiniLmL6V2.id()],
            models: BTreeMap::new(),
            max_models: 2,
            max_batch_tokens: 8192,
            max_texts_per_request: 128,
            max_queued_requests: 256,
            truncate: true,
        }
    }
}

/// `[observability]`: logs and metrics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ObservabilityConfig {
    /// Log verbosity; `RUST_LOG` overrides it. Default `info`.
    pub log_level: LogLevel,
    /// Log line format. Default `json`.
    pub log_format: LogFormat,
    /// Serve Prometheus metrics. Default `true`.
    pub metrics_enabled: bool,
    /// Port of `/metrics`. A port of its own keeps metrics off the public Ingress; set it
    /// equal to `server.port` to serve both on one listener. Default `9090`.
    pub metrics_port: u16,
}

impl Default for ObservabilityConfig {
    fn default() -> Self {
        ObservabilityConfig {
            log_level: LogLevel::Info,
            log_format: LogFormat::Json,
            metrics_enabled: true,
            metrics_port: 9090,
        }
    }
}

/// `[auth]`: API keys. The keys themselves never appear in this file: they come from
/// `keys_file` (a mounted Secret) or the `AKIDB_API_KEYS` environment variable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Require `Authorization: Bearer <key>` on every route except the health probes and
    /// `/metrics`. Setting `AKIDB_API_KEYS` or `AKIDB_API_KEYS_FILE` turns it on too.
    /// Default `false`.
    pub required: bool,
    /// File of accepted keys, one per line (blank lines and lines starting with `#` are
    /// skipped), e.g. a mounted Secret. Read at start when it exists, then checked every
    /// `reload_interval_secs`, so a rotated Secret takes effect without a restart.
    /// Default `/var/run/secrets/akidb/api-keys`.
    pub keys_file: PathBuf,
    /// Seconds between two reads of `keys_file`. Kubernetes updates a mounted Secret within
    /// about a minute; this adds at most its own period. Default `10`.
    pub reload_interval_secs: u32,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            required: false,
            keys_file: PathBuf::from(container::api_keys_path()),
            reload_interval_secs: 10,
        }
    }
}

/// Log verbosity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl LogLevel {
    /// The level as a `tracing` filter directive.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
        }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One JSON object per line, for log collectors.
    Json,
    /// Human-readable lines, for terminals.
    Text,
}

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The TOML did not parse or named an unknown key; the message carries line and key.
    #[error("invalid configuration: {0}")]
    Parse(#[from] toml::de::Error),
    /// An environment variable held a value of the wrong form.
    #[error("environment variable {var}={value:?}: {reason}")]
    Env {
        /// Variable name.
        var: &'static str,
        /// Value it held.
        value: String,
        /// What was wrong with it.
        reason: String,
    },
    /// A value the types allow but the server cannot work with.
    #[error("invalid configuration: `{key}` {reason}")]
    Invalid {
        /// Dotted key, e.g. `embedding.max_models`.
        key: &'static str,
        /// What is wrong, with the values involved.
        reason: String,
    },
}

impl Config {
    /// Parses `config.toml` text and checks it with [`Config::validate`].
    ///
    /// # Errors
    /// A syntax error, an unknown key, a value of the wrong type or a refused combination.
    pub fn from_toml_str(text: &str) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text)?;
        config.validate()?;
        Ok(config)
    }

    /// The configuration as `config.toml` text: every key written out, so the file in the
    /// ConfigMap documents what the server will do.
    #[must_use]
    pub fn to_toml_string(&self) -> String {
        // Every field is a plain value or table: serialization cannot fail.
        toml::to_string(self).unwrap_or_else(|e| unreachable!("Config always serializes: {e}"))
    }

    /// Applies the `AKIDB_*` environment overrides, reading variables through `lookup`
    /// (pass `|k| std::env::var(k).ok()` in the server; tests pass a map).
    ///
    /// # Errors
    /// A variable whose value does not parse, naming the variable and the value.
    pub fn apply_env(
        &mut self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        if let Some(v) = lookup(env_vars::HOST) {
            self.server.host = parse_env(env_vars::HOST, &v, |s| s.parse::<IpAddr>())?;
        }
        if let Some(v) = lookup(env_vars::REST_PORT) {
            self.server.port = parse_env(env_vars::REST_PORT, &v, |s| s.parse::<u16>())?;
        }
        if let Some(v) = lookup(env_vars::MODEL_DIR) {
            if v.is_empty() {
                return Err(env_error(env_vars::MODEL_DIR, &v, "must not be empty"));
            }
            self.embedding.model_dir = PathBuf::from(v);
        }
        if let Some(v) = lookup(env_vars::PRELOAD_MODELS) {
            self.embedding.preload_models = parse_env(env_vars::PRELOAD_MODELS, &v, |s| {
                s.split(',')
                    .map(str::trim)
                    .filter(|m| !m.is_empty())
                    .map(str::parse)
                    .collect::<Result<Vec<ModelId>, InvalidModelId>>()
            })?;
        }
        if let Some(v) = lookup(env_vars::METRICS_ENABLED) {
            self.observability.metrics_enabled =
                parse_env(env_vars::METRICS_ENABLED, &v, |s| s.parse::<bool>())?;
        }
        if let Some(v) = lookup(env_vars::API_KEYS_FILE) {
            if v.trim().is_empty() {
                return Err(env_error(env_vars::API_KEYS_FILE, &v, "must not be empty"));
            }
            self.auth.keys_file = PathBuf::from(v.trim());
            self.auth.required = true;
        }
        // Only its presence: the keys stay out of the configuration, so no output of it
        // (`--print-config`, the ConfigMap, `/info`) can ever show one.
        if lookup(env_vars::API_KEYS).is_some() {
            self.auth.required = true;
        }
        Ok(())
    }

    /// Refuses combinations the types cannot rule out.
    ///
    /// # Errors
    /// The first offending key, with the values involved.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, reason: String| Err(ConfigError::Invalid { key, reason });
        if self.server.port == 0 {
            return invalid("server.port", "must be between 1 and 65535".into());
        }
        if self.observability.metrics_port == 0 {
            return invalid(
                "observability.metrics_port",
                "must be between 1 and 65535".into(),
            );
        }
        if self.server.drain_timeout_secs == 0 {
            return invalid("server.drain_timeout_secs", "must be at least 1".into());
        }
        if self.server.request_timeout_secs == 0 {
            return invalid("server.request_timeout_secs", "must be at least 1".into());
        }
        if self.server.body_limit_bytes < 1024 {
            return invalid(
                "server.body_limit_bytes",
                format!(
                    "is {}; it must be at least 1024",
                    self.server.body_limit_bytes
                ),
            );
        }
        let models = &self.embedding.preload_models;
        if models.is_empty() {
            return invalid(
                "embedding.preload_models",
                "must name at least one model".into(),
            );
        }
        if let Some(dup) = models
            .iter()
            .enumerate()
            .find_map(|(i, m)| models[..i].contains(m).then_some(m))
        {
            return invalid("embedding.preload_models", format!("lists `{dup}` twice"));
        }
        if self.embedding.max_models < models.len() {
            return invalid(
                "embedding.max_models",
                format!(
                    "is {} but embedding.preload_models loads {} models",
                    self.embedding.max_models,
                    models.len()
                ),
            );
        }
        if let Some(m) = models.iter().find(|m| self.model_facts(m).is_none()) {
            let known = KnownModel::ALL.map(KnownModel::as_str).join(", ");
            return invalid(
                "embedding.preload_models",
                format!(
                    "lists `{m}`, whose facts the server does not know (it knows {known}); \
                     declare them under [embedding.models.{m}] with max_tokens and weights_mib"
                ),
            );
        }
        for (id, facts) in &self.embedding.models {
            if facts.max_tokens < 2 {
                return invalid(
                    "embedding.models",
                    format!(
                        "entry `{id}` has max_tokens {}; it must be at least 2 (the special tokens)",
                        facts.max_tokens
                    ),
                );
            }
            if facts.weights_mib == 0 {
                return invalid(
                    "embedding.models",
                    format!("entry `{id}` has weights_mib 0; give the size of its weights"),
                );
            }
            if let Some(d) = facts.matryoshka_dimensions.iter().find(|&&d| d == 0) {
                return invalid(
                    "embedding.models",
                    format!("entry `{id}` lists matryoshka dimension {d}; each must be at least 1"),
                );
            }
        }
        let longest = models
            .iter()
            .filter_map(|m| self.model_facts(m))
            .map(|f| f.max_tokens)
            .max()
            .unwrap_or(0);
        if self.embedding.max_batch_tokens < longest {
            return invalid(
                "embedding.max_batch_tokens",
                format!(
                    "is {} but one input may hold {longest} tokens; it must be at least that",
                    self.embedding.max_batch_tokens
                ),
            );
        }
        if self.embedding.max_texts_per_request == 0 {
            return invalid(
                "embedding.max_texts_per_request",
                "must be at least 1".into(),
            );
        }
        if self.embedding.max_queued_requests == 0 {
            return invalid("embedding.max_queued_requests", "must be at least 1".into());
        }
        if self.embedding.model_dir.as_os_str().is_empty() {
            return invalid("embedding.model_dir", "must not be empty".into());
        }
        if self.auth.reload_interval_secs == 0 {
            return invalid("auth.reload_interval_secs", "must be at least 1".into());
        }
        if self.auth.keys_file.as_os_str().is_empty() {
            return invalid("auth.keys_file", "must not be empty".into());
        }
        if self.hub.timeout_secs == 0 {
            return invalid("hub.timeout_secs", "must be at least 1".into());
        }
        for (id, source) in self.hub.models.iter() {
            if let Some(problem) = source.problem() {
                return invalid("hub.models", format!("entry `{id}` {problem}"));
            }
        }
        Ok(())
    }

    /// The default model: the first preloaded one.
    #[must_use]
    pub fn default_model(&self) -> Option<&ModelId> {
        self.embedding.preload_models.first()
    }

    /// What the deployment knows of model `id` before loading it: its entry in
    /// `embedding.models`, else the built-in facts of a known id; `None` for neither.
    #[must_use]
    pub fn model_facts(&self, id: &ModelId) -> Option<ModelFacts> {
        self.embedding
            .models
            .get(id)
            .cloned()
            .or_else(|| id.known().map(KnownModel::facts))
    }

    /// Whether `/metrics` has a listener of its own.
    #[must_use]
    pub fn metrics_on_separate_port(&self) -> bool {
        self.observability.metrics_enabled && self.observability.metrics_port != self.server.port
    }
}

fn env_error(var: &'static str, value: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Env {
        var,
        value: value.to_owned(),
        reason: reason.into(),
    }
}

fn parse_env<T, E: std::fmt::Display>(
    var: &'static str,
    value: &str,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Result<T, ConfigError> {
    parse(value.trim()).map_err(|e| env_error(var, value, e.to_string()))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn defaults_round_trip_through_toml() {
        let text = Config::default().to_toml_string();
        assert!(
            text.contains("[server]")
                && text.contains("[embedding]")
                && text.contains("[observability]")
        );
        assert_eq!(Config::from_toml_str(&text).unwrap(), Config::default());
    }

    #[test]
    fn empty_file_means_defaults() {
        assert_eq!(Config::from_toml_str("").unwrap(), Config::default());
    }

    #[test]
    fn unknown_key_is_named_with_its_line() {
        let err = Config::from_toml_str("[server]\nport = 8080\nprot = 1\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("prot"), "{err}");
        assert!(err.contains("line 3"), "{err}");
    }

    #[test]
    fn a_model_beyond_the_known_ids_needs_its_facts_declared() {
        let err = Config::from_toml_str("[embedding]\npreload_models = [\"bge-small\"]\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("embedding.preload_models")
                && err.contains("[embedding.models.bge-small]")
                && err.contains("all-MiniLM-L6-v2, e5-small-v2"),
            "{err}"
        );
        let c = Config::from_toml_str(
            "[embedding]\npreload_models = [\"bge-small\"]\n\
             [embedding.models.bge-small]\nmax_tokens = 512\nweights_mib = 128\n",
        )
        .unwrap();
        let id: ModelId = "bge-small".parse().unwrap();
        assert_eq!(
            c.model_facts(&id).map(|f| f.weights_bytes()),
            Some(128 << 20)
        );
        // A declaration replaces a known model's facts.
        let c = Config::from_toml_str(
            "[embedding.models.all-MiniLM-L6-v2]\nmax_tokens = 128\nweights_mib = 91\n",
        )
        .unwrap();
        assert_eq!(
            c.model_facts(&KnownModel::AllMiniLmL6V2.id())
                .map(|f| f.max_tokens),
            Some(128)
        );
        let err = Config::from_toml_str("[embedding]\npreload_models = [\"../x\"]\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a folder name"), "{err}");
    }

    #[test]
    fn env_overrides_apply_and_bad_values_name_the_variable() {
        let vars: HashMap<&str, &str> = HashMap::from([
            ("AKIDB_HOST", "127.0.0.1"),
            ("AKIDB_REST_PORT", "9000"),
            ("AKIDB_MODEL_DIR", "/srv/models"),
            ("AKIDB_PRELOAD_MODELS", "e5-small-v2, all-MiniLM-L6-v2"),
            ("AKIDB_METRICS_ENABLED", "false"),
        ]);
        let mut c = Config::default();
        c.apply_env(|k| vars.get(k).map(|v| (*v).to_owned()))
            .unwrap();
        assert_eq!(c.server.host.to_string(), "127.0.0.1");
        assert_eq!(c.server.port, 9000);
        assert_eq!(c.embedding.model_dir, PathBuf::from("/srv/models"));
        assert_eq!(
            c.embedding.preload_models,
            vec![KnownModel::E5SmallV2.id(), KnownModel::AllMiniLmL6V2.id()]
        );
        assert!(!c.observability.metrics_enabled);

        let err = Config::default()
            .apply_env(|k| (k == "AKIDB_REST_PORT").then(|| "80a".to_owned()))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("environment variable AKIDB_REST_PORT=\"80a\""),
            "{err}"
        );
    }

    #[test]
    fn api_key_variables_turn_auth_on_without_entering_the_config() {
        let key = "sk-test-5f1c2d";
        let mut c = Config::default();
        c.apply_env(|k| (k == "AKIDB_API_KEYS").then(|| key.to_owned()))
            .unwrap();
        assert!(c.auth.required);
        assert!(!c.to_toml_string().contains(key));
        assert!(!format!("{c:?}").contains(key));

        let mut c = Config::default();
        c.apply_env(|k| (k == "AKIDB_API_KEYS_FILE").then(|| "/keys/k".to_owned()))
            .unwrap();
        assert!(c.auth.required);
        assert_eq!(c.auth.keys_file, PathBuf::from("/keys/k"));
    }

    #[test]
    fn refused_combinations_name_the_key() {
        let cases = [
            (
                "[embedding]\npreload_models = []\n",
                "embedding.preload_models",
            ),
            (
                "[embedding]\nmax_models = 1\npreload_models = [\"e5-small-v2\", \"all-MiniLM-L6-v2\"]\n",
                "embedding.max_models",
            ),
            (
                "[embedding]\nmax_batch_tokens = 100\n",
                "embedding.max_batch_tokens",
            ),
            ("[server]\nport = 0\n", "server.port"),
            (
                "[server]\nbody_limit_bytes = 10\n",
                "server.body_limit_bytes",
            ),
            (
                "[embedding]\npreload_models = [\"e5-small-v2\", \"e5-small-v2\"]\n",
                "embedding.preload_models",
            ),
            (
                "[auth]\nreload_interval_secs = 0\n",
                "auth.reload_interval_secs",
            ),
            ("[hub]\ntimeout_secs = 0\n", "hub.timeout_secs"),
            (
                "[hub.models.e5-small-v2]\nrevision = \"main\"\n",
                "hub.models",
            ),
            (
                "[embedding.models.x]\nmax_tokens = 1\nweights_mib = 1\n",
                "embedding.models",
            ),
            (
                "[embedding.models.x]\nmax_tokens = 64\nweights_mib = 0\n",
                "embedding.models",
            ),
            (
                "[embedding.models.x]\nmax_tokens = 64\nweights_mib = 1\nmatryoshka_dimensions = [0]\n",
                "embedding.models",
            ),
            (
                "[embedding.models.x]\nmax_tokens = 64\nweight_mib = 1\n",
                "weight_mib",
            ),
        ];
        for (text, key) in cases {
            let err = Config::from_toml_str(text).unwrap_err().to_string();
            assert!(err.contains(key), "{text:?} gave {err}");
        }
    }
}
