//! State shared by the HTTP handlers: the loaded models, the admission semaphore and the
//! health flags.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::error::ApiError;
use super::metrics::Metrics;
use super::model::{ModelInfo, TextTokenizer};
use super::queue::Queue;
use crate::{Config, ModelId};

/// One servable model: its tokenizer (request side) and the queue of its compute thread.
pub struct ServedModel {
    /// Facts reported by `/info` and responses.
    pub info: ModelInfo,
    /// Text to token ids.
    pub tokenizer: Arc<TextTokenizer>,
    /// Where token ids go to become vectors.
    pub queue: Queue,
}

/// Cheap to clone: everything lives behind one `Arc`.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

/// The shared part of [`AppState`].
pub struct Shared {
    /// The effective configuration.
    pub config: Config,
    /// Metrics registry.
    pub metrics: Arc<Metrics>,
    /// Compute threads per forward pass (`RAYON_NUM_THREADS`).
    pub threads: usize,
    permits: Arc<Semaphore>,
    models: OnceLock<HashMap<ModelId, ServedModel>>,
    draining: AtomicBool,
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// An admitted embedding request: holds a queue slot and counts as in flight until dropped
/// (also when the client goes away and the handler is cancelled).
pub struct Admission {
    _permit: OwnedSemaphorePermit,
    metrics: Arc<Metrics>,
}

impl Drop for Admission {
    fn drop(&mut self) {
        self.metrics.inflight.dec();
    }
}

impl AppState {
    /// State with no model loaded yet.
    #[must_use]
    pub fn new(config: Config, threads: usize) -> AppState {
        let permits = Arc::new(Semaphore::new(config.embedding.max_queued_requests));
        AppState(Arc::new(Shared {
            config,
            metrics: Arc::new(Metrics::new()),
            threads,
            permits,
            models: OnceLock::new(),
            draining: AtomicBool::new(false),
        }))
    }

    /// Makes the loaded models servable; readiness turns 200 unless draining.
    pub fn install(&self, models: HashMap<ModelId, ServedModel>) {
        let _ = self.models.set(models);
        if !self.is_draining() {
            self.metrics.ready.set(1);
        }
    }

    /// The loaded models, once start-up finished.
    #[must_use]
    pub fn models(&self) -> Option<&HashMap<ModelId, ServedModel>> {
        self.models.get()
    }

    /// Whether SIGTERM/SIGINT arrived.
    #[must_use]
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    /// Refuses new work from now on; readiness turns 503.
    pub fn start_drain(&self) {
        self.draining.store(true, Ordering::SeqCst);
        self.metrics.ready.set(0);
    }

    /// `Ok` when `/health/ready` should answer 200.
    ///
    /// # Errors
    /// Draining, or models still loading.
    pub fn readiness(&self) -> Result<(), ApiError> {
        if self.is_draining() {
            return Err(ApiError::Draining);
        }
        if self.models.get().is_none() {
            let ids: Vec<&str> = self
                .config
                .embedding
                .preload_models
                .iter()
                .map(|m| m.as_str())
                .collect();
            return Err(ApiError::NotReady(format!(
                "loading models {}",
                ids.join(", ")
            )));
        }
        Ok(())
    }

    /// Takes a queue slot, or answers 429 at once when every slot is taken.
    ///
    /// # Errors
    /// [`ApiError::QueueFull`].
    pub fn admit(&self) -> Result<Admission, ApiError> {
        match self.permits.clone().try_acquire_owned() {
            Ok(permit) => {
                self.metrics.inflight.inc();
                Ok(Admission {
                    _permit: permit,
                    metrics: self.metrics.clone(),
                })
            }
            Err(_) => {
                self.metrics.rejected.inc();
                Err(ApiError::QueueFull(
                    self.config.embedding.max_queued_requests,
                ))
            }
        }
    }

    /// Waits until no admitted request is left.
    pub async fn wait_idle(&self) {
        let all = self.config.embedding.max_queued_requests;
        while self.permits.available_permits() < all {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}
