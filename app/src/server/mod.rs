//! The HTTP server and its candle backend (feature `server`).
//!
//! Data flows one way: three thin front ends ([`native`], [`openai`], [`tei`], routed by
//! [`http`], bodies read by [`body`]) turn their requests into jobs for the embedding
//! service ([`service`]), which knows nothing of HTTP: it tokenizes text
//! ([`model::TextTokenizer`]) and a per-model batching actor ([`queue`]) runs the encoder
//! on its own thread and answers with plain vectors. [`state`] holds what the handlers
//! share, [`error`] maps failures to the native statuses, [`openapi`] describes the
//! routes, [`metrics`] exports counters, [`shutdown`] starts the drain, [`threads`] sizes
//! the compute pool from the container's CPU quota and [`settings`] assembles the
//! configuration.

pub mod auth;
pub mod bert;
pub mod body;
pub mod encoder_config;
pub mod error;
pub mod http;
pub mod inputs;
pub mod kernels;
pub mod long_attention;
pub mod metrics;
pub mod model;
pub mod native;
pub mod openai;
pub mod openapi;
pub mod panels;
pub mod pooling;
pub mod queue;
pub mod scratch;
pub mod sentence_files;
pub mod service;
pub mod settings;
pub mod shutdown;
pub mod simd;
pub mod state;
pub mod tei;
#[cfg(test)]
mod test_numbers;
pub mod threads;
pub mod weights;

/// mimalloc keeps freed pages for reuse, where glibc returns the encoder's large
/// per-pass buffers to the kernel and takes a page fault on every first touch of the
/// next pass's (`docs/performance.md`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

pub use error::ApiError;
pub use state::AppState;

use crate::{Config, ModelFacts, ModelId};
use model::LoadError;

/// Why the server stopped with an error. The process exits 1 on these.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A listener could not bind.
    #[error("failed to listen on {addr}: {source}")]
    Bind {
        /// Address asked for.
        addr: SocketAddr,
        /// Underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A preloaded model did not load (boxed: the error names model, file and cause).
    #[error(transparent)]
    Load(Box<LoadError>),
    /// The SIGTERM/SIGINT handlers could not be installed.
    #[error("failed to install the signal handlers: {0}")]
    Signals(#[source] std::io::Error),
    /// A thread could not be started.
    #[error("failed to start a thread: {0}")]
    Thread(#[source] std::io::Error),
    /// The HTTP server stopped by itself.
    #[error("the HTTP server stopped: {0}")]
    Serve(String),
    /// Requests were still running when `server.drain_timeout_secs` ran out.
    #[error("requests were still running after the drain timeout of {0} s")]
    DrainTimeout(u32),
    /// A second SIGTERM/SIGINT arrived while draining: stop without waiting.
    #[error("{0} received again while draining; stopping without waiting for requests")]
    Interrupted(&'static str),
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, ServeError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })
}

fn serve(
    listener: TcpListener,
    app: axum::Router,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<std::io::Result<()>> {
    tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stop.wait_for(|s| *s).await;
            })
            .await
    })
}

type Loaded = Vec<(model::TextTokenizer, model::Encoder, model::ModelInfo)>;

impl From<LoadError> for ServeError {
    fn from(e: LoadError) -> Self {
        ServeError::Load(Box::new(e))
    }
}

fn load_in_background(config: &Config) -> oneshot::Receiver<Result<Loaded, LoadError>> {
    let (tx, rx) = oneshot::channel();
    let dir = config.embedding.model_dir.clone();
    let models: Vec<(ModelId, Option<ModelFacts>)> = config
        .embedding
        .preload_models
        .iter()
        .map(|id| (id.clone(), config.model_facts(id)))
        .collect();
    let cap = config.embedding.max_batch_tokens;
    std::thread::spawn(move || {
        let result = models
            .into_iter()
            .map(|(id, facts)| {
                tracing::info!(model = %id, dir = %dir.display(), "loading model");
                model::load(&dir, &id, facts.as_ref(), cap)
            })
            .collect();
        let _ = tx.send(result);
    });
    rx
}

/// Serves until SIGTERM or SIGINT, then drains: readiness turns 503 at once, admitted
/// requests complete, and the listeners close. `api_keys` ([`auth::ApiKeys::load`]) guard
/// every route but the probes and `/metrics`; their file is re-read while serving.
///
/// # Errors
/// A listener that cannot bind, a model that does not load, or a drain that times out.
pub async fn run(
    config: Config,
    threads: usize,
    api_keys: auth::ApiKeys,
) -> Result<(), ServeError> {
    let mut signals = shutdown::Signals::install().map_err(ServeError::Signals)?;
    api_keys
        .watch(Duration::from_secs(u64::from(
            config.auth.reload_interval_secs,
        )))
        .map_err(ServeError::Thread)?;
    let state = AppState::new(config.clone(), threads, api_keys);
    let addr = SocketAddr::new(config.server.host, config.server.port);
    let listener = bind(addr).await?;
    let separate_metrics = config.metrics_on_separate_port();
    let metrics_listener = if separate_metrics {
        Some(
            bind(SocketAddr::new(
                config.server.host,
                config.observability.metrics_port,
            ))
            .await?,
        )
    } else {
        None
    };
    tracing::info!(
        addr = %addr,
        metrics_port = separate_metrics.then_some(config.observability.metrics_port),
        threads,
        "listening"
    );
    let (stop_tx, stop_rx) = watch::channel(false);
    let with_metrics = config.observability.metrics_enabled && !separate_metrics;
    let mut api = serve(
        listener,
        http::router(state.clone(), with_metrics),
        stop_rx.clone(),
    );
    let metrics_server =
        metrics_listener.map(|l| serve(l, http::metrics_router(state.clone()), stop_rx.clone()));

    let mut loading = Some(load_in_background(&config));
    let name = loop {
        tokio::select! {
            name = signals.recv() => break name,
            result = async { loading.as_mut().expect("guarded").await }, if loading.is_some() => {
                loading = None;
                let loaded = result
                    .map_err(|_| ServeError::Serve("the model loading thread died".into()))??;
                install(&state, loaded)?;
            }
            result = &mut api => {
                return Err(ServeError::Serve(format!("{result:?}")));
            }
        }
    };

    state.start_drain();
    let timeout = config.server.drain_timeout_secs;
    tracing::info!(signal = name, timeout_secs = timeout, "draining");
    let drain = async {
        state.wait_idle().await;
        let _ = stop_tx.send(true);
        let _ = api.await;
        if let Some(m) = metrics_server {
            let _ = m.await;
        }
    };
    tokio::select! {
        drained = tokio::time::timeout(Duration::from_secs(u64::from(timeout)), drain) => {
            drained.map_err(|_| ServeError::DrainTimeout(timeout))?;
        }
        again = signals.recv() => return Err(ServeError::Interrupted(again)),
    }
    tracing::info!("drained; exiting");
    Ok(())
}

fn install(state: &AppState, loaded: Loaded) -> Result<(), ServeError> {
    for (tokenizer, encoder, info) in loaded {
        state
            .add_model(tokenizer, encoder, info)
            .map_err(ServeError::Thread)?;
    }
    state.finish_startup();
    tracing::info!("ready");
    Ok(())
}
