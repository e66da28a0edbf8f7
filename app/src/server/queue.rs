//! The batching actor: one thread per model owns the pending requests and the encoder.
//!
//! Requests arrive as token ids; the thread takes as many as fit the token budget,
//! sorts their sequences by length, runs forward passes of at most `max_batch_tokens`
//! tokens (the encoder never pads, so a pass costs the sum of its sequences' lengths),
//! and answers each request with plain `Vec<f32>`s. A request whose client has gone is
//! dropped before it costs compute. Nothing here runs on the async runtime.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{mpsc, oneshot};

use super::metrics::Metrics;
use super::model::Encoder;
use crate::ModelId;

/// Vectors of one request, in its input order, not yet normalised.
pub type Vectors = Vec<Vec<f32>>;

/// A forward pass failed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("model `{model}` failed: {message}")]
pub struct ComputeError {
    /// The model.
    pub model: ModelId,
    /// Candle's message.
    pub message: String,
}

struct Job {
    ids: Vec<Vec<u32>>,
    enqueued: Instant,
    reply: oneshot::Sender<Result<Vectors, ComputeError>>,
}

impl Job {
    fn tokens(&self) -> usize {
        self.ids.iter().map(Vec::len).sum()
    }
}

/// The sending side of a model's queue. Admission (the bound) is decided by the caller,
/// which holds a permit of the shared semaphore for as long as the request is pending.
#[derive(Clone)]
pub struct Queue {
    tx: mpsc::UnboundedSender<Job>,
}

impl Queue {
    /// Starts the compute thread of `encoder`.
    ///
    /// # Errors
    /// The thread could not be spawned.
    pub fn start(
        model: ModelId,
        encoder: Encoder,
        max_batch_tokens: usize,
        metrics: Arc<Metrics>,
    ) -> std::io::Result<Queue> {
        let (tx, rx) = mpsc::unbounded_channel();
        std::thread::Builder::new()
            .name(format!("compute-{model}"))
            .spawn(move || {
                Actor {
                    model,
                    encoder,
                    max_batch_tokens,
                    metrics,
                    rx,
                    pending: VecDeque::new(),
                }
                .run();
            })?;
        Ok(Queue { tx })
    }

    /// Queues the token ids of one request; the receiver gets its vectors.
    #[must_use]
    pub fn submit(&self, ids: Vec<Vec<u32>>) -> oneshot::Receiver<Result<Vectors, ComputeError>> {
        let (reply, rx) = oneshot::channel();
        let job = Job {
            ids,
            enqueued: Instant::now(),
            reply,
        };
        // When the actor is gone the job (and its sender) is dropped: the caller's
        // receiver then fails, which it answers with 500.
        let _ = self.tx.send(job);
        rx
    }
}

struct Actor {
    model: ModelId,
    encoder: Encoder,
    max_batch_tokens: usize,
    metrics: Arc<Metrics>,
    rx: mpsc::UnboundedReceiver<Job>,
    pending: VecDeque<Job>,
}

impl Actor {
    fn run(mut self) {
        loop {
            if self.pending.is_empty() {
                match self.rx.blocking_recv() {
                    Some(job) => self.pending.push_back(job),
                    None => return,
                }
            }
            while let Ok(job) = self.rx.try_recv() {
                self.pending.push_back(job);
            }
            // Clients that went away (timeout, disconnect) cost nothing more.
            self.pending.retain(|j| !j.reply.is_closed());
            let mut batch = Vec::new();
            let mut tokens = 0;
            while let Some(job) = self.pending.front() {
                let t = job.tokens();
                if !batch.is_empty() && tokens + t > self.max_batch_tokens {
                    break;
                }
                tokens += t;
                batch.extend(self.pending.pop_front());
            }
            if !batch.is_empty() {
                self.compute(batch);
            }
        }
    }

    fn compute(&self, jobs: Vec<Job>) {
        let labels = Metrics::model(&self.model);
        let started = Instant::now();
        for job in &jobs {
            self.metrics
                .queue_wait
                .get_or_create(&labels)
                .observe(started.duration_since(job.enqueued).as_secs_f64());
        }
        // Every sequence of every job, shortest first, so each pass pads little.
        let mut order: Vec<(usize, usize)> = jobs
            .iter()
            .enumerate()
            .flat_map(|(j, job)| (0..job.ids.len()).map(move |i| (j, i)))
            .collect();
        order.sort_by_key(|&(j, i)| jobs[j].ids[i].len());
        let mut results: Vec<Vec<Option<Vec<f32>>>> =
            jobs.iter().map(|j| vec![None; j.ids.len()]).collect();
        let mut failure = None;
        let mut todo: VecDeque<(usize, usize)> = order.into();
        loop {
            // A client that gave up (timeout, disconnect) stops costing compute between
            // passes, not only before its batch starts.
            todo.retain(|&(j, _)| !jobs[j].reply.is_closed());
            if todo.is_empty() {
                break;
            }
            let mut chunk = Vec::new();
            let mut tokens = 0;
            while let Some(&(j, i)) = todo.front() {
                let len = jobs[j].ids[i].len().max(1);
                if !chunk.is_empty() && tokens + len > self.max_batch_tokens {
                    break;
                }
                tokens += len;
                chunk.push((j, i));
                todo.pop_front();
            }
            let seqs: Vec<&[u32]> = chunk
                .iter()
                .map(|&(j, i)| jobs[j].ids[i].as_slice())
                .collect();
            let pass = Instant::now();
            // A panic inside candle must not kill the compute thread: it becomes a 500 for
            // the requests of this batch and the thread goes on.
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.encoder.embed(&seqs)
            }))
            .unwrap_or_else(|panic| {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(ToString::to_string)
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".into());
                Err(candle_core::Error::Msg(format!(
                    "the forward pass panicked: {what}"
                )))
            });
            match outcome {
                Ok(vectors) => {
                    for (&(j, i), v) in chunk.iter().zip(vectors) {
                        results[j][i] = Some(v);
                    }
                }
                Err(e) => {
                    failure = Some(e.to_string());
                    break;
                }
            }
            self.metrics
                .batch_duration
                .get_or_create(&labels)
                .observe(pass.elapsed().as_secs_f64());
            #[allow(clippy::cast_precision_loss)]
            {
                self.metrics
                    .batch_size
                    .get_or_create(&labels)
                    .observe(seqs.len() as f64);
                self.metrics
                    .batch_tokens
                    .get_or_create(&labels)
                    .observe(tokens as f64);
            }
        }
        for (job, vectors) in jobs.into_iter().zip(results) {
            let answer = match &failure {
                Some(message) => Err(ComputeError {
                    model: self.model.clone(),
                    message: message.clone(),
                }),
                None => vectors
                    .into_iter()
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| ComputeError {
                        model: self.model.clone(),
                        message: "a sequence was left without a vector".into(),
                    }),
            };
            let _ = job.reply.send(answer);
        }
    }
}
