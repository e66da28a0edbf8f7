//! `akidb-embed`: a sentence-embedding HTTP server on candle, and its deployment contract.
//!
//! Without the `server` feature this crate is only the contract that the manifest
//! generator (`gen`) reads: the configuration file's types, the HTTP routes, the ports,
//! the exported metrics ([`metrics`]), the environment variables and the container
//! layout. Keeping them here, next to the
//! server that honours them, is what stops the manifests from drifting away from it.
//!
//! With the default `server` feature it is also the server itself ([`server`]) and the
//! binary `akidb-embed`: candle, tokenizers, axum and tokio are optional dependencies
//! that only that feature enables. So is [`pull`], the `models pull` subcommand that
//! fetches models from a Hugging Face-compatible hub (the init container).

pub mod config;
pub mod container;
pub mod env_vars;
pub mod hub;
pub mod metrics;
pub mod models;
#[cfg(feature = "server")]
pub mod pull;
pub mod routes;
#[cfg(feature = "server")]
pub mod server;

pub use config::{Config, ConfigError};
pub use models::{KnownModel, ModelFacts, ModelId};

/// Version of the server; the default image tag, so manifests pin the image they match.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
