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
/// Standard `tracing` filter; overrides `observability.log_level`.
pub const RUST_LOG: &str = "RUST_LOG";
/// Size of the compute thread pool. Candle sizes its pool from the host's cores, not the
/// container's CPU quota, so the Deployment sets this from the CPU limit.
pub const RAYON_NUM_THREADS: &str = "RAYON_NUM_THREADS";
