//! Environment variables the server reads. Each one overrides the matching configuration key.

/// Path of the TOML configuration file (same as `--config`).
pub const CONFIG: &str = "AKIDB_CONFIG";
/// Overrides `server.host`.
pub const HOST: &str = "AKIDB_HOST";
/// Overrides `server.port`.
pub const REST_PORT: &str = "AKIDB_REST_PORT";
/// Overrides `embedding.model_dir`.
pub const MODEL_DIR: &str = "AKIDB_MODEL_DIR";
/// Overrides `embedding.preload_models`: a comma-separated list of model ids.
pub const PRELOAD_MODELS: &str = "AKIDB_PRELOAD_MODELS";
/// Overrides `observability.metrics_enabled` (`true` or `false`).
pub const METRICS_ENABLED: &str = "AKIDB_METRICS_ENABLED";
/// API keys, comma- or newline-separated (from a Secret through `secretKeyRef`). Setting it,
/// even empty, turns `auth.required` on; the keys never enter the configuration.
pub const API_KEYS: &str = "AKIDB_API_KEYS";
/// Overrides `auth.keys_file` and turns `auth.required` on.
pub const API_KEYS_FILE: &str = "AKIDB_API_KEYS_FILE";
/// Base URL of the Hugging Face-compatible hub `models pull` fetches from, as the
/// `huggingface_hub` client reads it. Default `https://huggingface.co`.
pub const HF_ENDPOINT: &str = "HF_ENDPOINT";
/// Access token for gated or private models, sent to the hub as `Authorization: Bearer`;
/// never logged and never sent to the hosts the hub redirects downloads to.
pub const HF_TOKEN: &str = "HF_TOKEN";
/// Standard `tracing` filter; overrides `observability.log_level`.
pub const RUST_LOG: &str = "RUST_LOG";
/// Size of the compute thread pool. Candle sizes its pool from the host's cores, not the
/// container's CPU quota, so the Deployment sets this from the CPU limit.
pub const RAYON_NUM_THREADS: &str = "RAYON_NUM_THREADS";
