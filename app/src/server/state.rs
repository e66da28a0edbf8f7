//! State shared by the HTTP handlers: the loaded models, the admission semaphore and the
//! health flags.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::sync::{Mutex, OwnedSemaphorePermit, Semaphore};

use super::auth::ApiKeys;
use super::metrics::Metrics;
use super::model::{self, Encoder, LoadError, ModelInfo, TextTokenizer};
use super::queue::Queue;
use super::service::EmbedError;
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
    /// Accepted API keys (off unless `auth.required`).
    pub api_keys: ApiKeys,
    permits: Arc<Semaphore>,
    models: RwLock<HashMap<ModelId, Arc<ServedModel>>>,
    started: AtomicBool,
    draining: AtomicBool,
    /// Serialises on-demand loads so two requests never load one model twice.
    loading: Mutex<()>,
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
    pub fn new(config: Config, threads: usize, api_keys: ApiKeys) -> AppState {
        let permits = Arc::new(Semaphore::new(config.embedding.max_queued_requests));
        AppState(Arc::new(Shared {
            config,
            metrics: Arc::new(Metrics::new()),
            threads,
            api_keys,
            permits,
            models: RwLock::new(HashMap::new()),
            started: AtomicBool::new(false),
            draining: AtomicBool::new(false),
            loading: Mutex::new(()),
        }))
    }

    /// Starts the compute thread of a loaded model and makes it servable.
    ///
    /// # Errors
    /// The compute thread could not be spawned.
    pub fn add_model(
        &self,
        tokenizer: TextTokenizer,
        encoder: Encoder,
        info: ModelInfo,
    ) -> std::io::Result<Arc<ServedModel>> {
        self.metrics
            .model_load_seconds
            .get_or_create(&Metrics::model(&info.id))
            .set(info.load_seconds);
        tracing::info!(
            model = %info.id,
            dimensions = info.dimensions,
            max_tokens = info.max_tokens,
            layers = info.layers,
            load_seconds = info.load_seconds,
            "model loaded"
        );
        let queue = Queue::start(
            info.id.clone(),
            encoder,
            self.config.embedding.max_batch_tokens,
            self.metrics.clone(),
        )?;
        let served = Arc::new(ServedModel {
            info,
            tokenizer: Arc::new(tokenizer),
            queue,
        });
        self.models
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(served.info.id.clone(), served.clone());
        Ok(served)
    }

    /// Marks start-up as finished (every preloaded model added): readiness turns 200
    /// unless draining.
    pub fn finish_startup(&self) {
        self.started.store(true, Ordering::SeqCst);
        if !self.is_draining() {
            self.metrics.ready.set(1);
        }
    }

    /// Whether every preloaded model is loaded.
    #[must_use]
    pub fn is_started(&self) -> bool {
        self.started.load(Ordering::SeqCst)
    }

    /// A loaded model.
    #[must_use]
    pub fn model(&self, id: &ModelId) -> Option<Arc<ServedModel>> {
        self.models
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(id)
            .cloned()
    }

    /// Ids of the loaded models, sorted.
    #[must_use]
    pub fn loaded_ids(&self) -> Vec<ModelId> {
        let mut ids: Vec<ModelId> = self
            .models
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .keys()
            .cloned()
            .collect();
        ids.sort();
        ids
    }

    /// Ids of the folders under `embedding.model_dir` that hold a model (a
    /// `config.json`), sorted. Pull staging folders start with `.` and are no ids.
    #[must_use]
    pub fn model_folders(&self) -> Vec<ModelId> {
        let dir = &self.config.embedding.model_dir;
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Vec::new();
        };
        let mut ids: Vec<ModelId> = entries
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().to_str()?.parse::<ModelId>().ok())
            .filter(|id| dir.join(id.as_str()).join("config.json").is_file())
            .collect();
        ids.sort();
        ids
    }

    /// The model `id`, loading it now when it is not preloaded and fewer than
    /// `embedding.max_models` models are loaded.
    ///
    /// # Errors
    /// 404 when its folder is missing or `max_models` is reached, 500 when it is corrupt.
    pub async fn model_or_load(&self, id: ModelId) -> Result<Arc<ServedModel>, EmbedError> {
        if let Some(m) = self.model(&id) {
            return Ok(m);
        }
        let _one_at_a_time = self.loading.lock().await;
        if let Some(m) = self.model(&id) {
            return Ok(m);
        }
        let max = self.config.embedding.max_models;
        let loaded = self.loaded_ids();
        if loaded.len() >= max {
            let names: Vec<&str> = loaded.iter().map(|m| m.as_str()).collect();
            return Err(EmbedError::ModelUnavailable(format!(
                "model `{id}` is not loaded and embedding.max_models ({max}) models are: {}",
                names.join(", ")
            )));
        }
        let dir = self.config.embedding.model_dir.clone();
        let facts = self.config.model_facts(&id);
        let cap = self.config.embedding.max_batch_tokens;
        tracing::info!(model = %id, "loading model on demand");
        let load_id = id.clone();
        let loaded =
            tokio::task::spawn_blocking(move || model::load(&dir, &load_id, facts.as_ref(), cap))
                .await
                .map_err(|e| EmbedError::Internal(format!("the loading task failed: {e}")))?;
        let (tokenizer, encoder, info) = loaded.map_err(|e| {
            tracing::error!(model = %id, error = %e, "on-demand load failed");
            self.metrics
                .model_load_failures
                .get_or_create(&Metrics::model(&id))
                .inc();
            match e {
                LoadError::Missing { .. } => {
                    EmbedError::ModelUnavailable(format!("model `{id}` is not available: {e}"))
                }
                _ => EmbedError::Internal(e.to_string()),
            }
        })?;
        self.add_model(tokenizer, encoder, info)
            .map_err(|e| EmbedError::Internal(format!("failed to start a compute thread: {e}")))
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
    pub fn readiness(&self) -> Result<(), EmbedError> {
        if self.is_draining() {
            return Err(EmbedError::Draining);
        }
        if !self.is_started() {
            let ids: Vec<&str> = self
                .config
                .embedding
                .preload_models
                .iter()
                .map(|m| m.as_str())
                .collect();
            return Err(EmbedError::NotReady(format!(
                "loading models {}",
                ids.join(", ")
            )));
        }
        Ok(())
    }

    /// Takes a queue slot, or answers 429 at once when every slot is taken.
    ///
    /// # Errors
    /// [`EmbedError::QueueFull`].
    pub fn admit(&self) -> Result<Admission, EmbedError> {
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
                Err(EmbedError::QueueFull(
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
