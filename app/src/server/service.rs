//! The embedding service: texts in, vectors out, with no HTTP in it.
//!
//! The native, OpenAI and TEI front ends each turn their request into an [`EmbedJob`]
//! and their protocol's errors out of an [`EmbedError`]; everything between (limits,
//! model choice, prompts, tokenizing off the async runtime, queueing, normalising,
//! Matryoshka truncation, metrics) happens once, here.

use std::sync::Arc;
use std::time::Duration;

use super::metrics::Metrics;
use super::model::{Cut, Token, TokenizeError};
use super::pooling::l2_normalize;
use super::state::{AppState, ServedModel};
use crate::ModelId;
use crate::models::InvalidModelId;

/// Which text goes before each input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prompt {
    /// The native `input_type`: the model's `query` prompt (e5: `query: `), none for a
    /// model without one.
    Query,
    /// The native `input_type: "passage"`: the model's `passage` prompt, else its
    /// `document` prompt, else none.
    Passage,
    /// TEI's `prompt_name`: a key of the model's prompts; `None` for the model's default
    /// prompt (`default_prompt_name`), if it has one, else nothing.
    Named(Option<String>),
}

/// One embedding request, whatever protocol it came in.
#[derive(Debug, Clone)]
pub struct EmbedJob {
    /// Model id; `None` for the default model.
    pub model: Option<String>,
    /// The texts, at least one.
    pub texts: Vec<String>,
    /// What goes before each text.
    pub prompt: Prompt,
    /// Scale each vector to unit length; `None` for what the model's own pipeline does.
    pub normalize: Option<bool>,
    /// Cut over-long inputs; `None` for `embedding.truncate`.
    pub truncate: Option<bool>,
    /// Which end an over-long input loses.
    pub cut: Cut,
    /// Matryoshka: keep only the first `dimensions` values (then normalise again).
    pub dimensions: Option<usize>,
}

impl EmbedJob {
    /// A job with the defaults of the native endpoint: query prompt, normalised as the
    /// model is, truncation per configuration, full dimensions.
    #[must_use]
    pub fn new(texts: Vec<String>) -> EmbedJob {
        EmbedJob {
            model: None,
            texts,
            prompt: Prompt::Query,
            normalize: None,
            truncate: None,
            cut: Cut::End,
            dimensions: None,
        }
    }
}

/// Vectors of one job, in input order.
#[derive(Debug, Clone)]
pub struct Embedded {
    /// The model that made them.
    pub model: ModelId,
    /// Length of each vector.
    pub dimensions: usize,
    /// One vector per text.
    pub vectors: Vec<Vec<f32>>,
    /// Tokens of every input, special tokens included, after truncation.
    pub tokens: usize,
}

/// Why a job was refused or failed, in terms of the service; each front end maps these
/// to its protocol's status and body in one place.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EmbedError {
    /// No text to embed.
    #[error("the list of texts is empty; send at least one text")]
    NoInput,
    /// More texts than `embedding.max_texts_per_request`.
    #[error("{count} texts in one request; embedding.max_texts_per_request is {limit}")]
    TooManyInputs {
        /// Texts sent.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// A model id that cannot name a folder.
    #[error(transparent)]
    BadModelId(#[from] InvalidModelId),
    /// A model that cannot be served (folder missing, `max_models` reached).
    #[error("{0}")]
    ModelUnavailable(String),
    /// A `prompt_name` the model has no prompt for.
    #[error("prompt `{name}` is not one of the prompts of `{model}`: {}", list_or_none(.available))]
    UnknownPrompt {
        /// Name asked for.
        name: String,
        /// The model.
        model: ModelId,
        /// Its prompt names.
        available: Vec<String>,
    },
    /// `dimensions` the model cannot give.
    #[error("{}", dimensions_message(*.asked, .model, *.native, .matryoshka))]
    Dimensions {
        /// Dimensions asked for.
        asked: usize,
        /// The model.
        model: ModelId,
        /// Its full vector length.
        native: usize,
        /// Lengths it was trained to be cut to (empty: none).
        matryoshka: Vec<usize>,
    },
    /// An input over the model's token limit, and truncation is off.
    #[error("input {index} has {tokens} tokens; the limit of `{model}` is {limit}")]
    InputTooLong {
        /// Position of the text.
        index: usize,
        /// Its token count.
        tokens: usize,
        /// The limit.
        limit: usize,
        /// The model.
        model: ModelId,
    },
    /// The tokenizer failed on an input.
    #[error("input {index} could not be tokenized: {message}")]
    Tokenizer {
        /// Position of the text.
        index: usize,
        /// The tokenizer's message.
        message: String,
    },
    /// `embedding.max_queued_requests` requests are already waiting.
    #[error("the queue is full ({0} requests waiting); retry later")]
    QueueFull(usize),
    /// The preloaded models are still loading.
    #[error("not ready: {0}")]
    NotReady(String),
    /// SIGTERM/SIGINT arrived.
    #[error("the server is draining and accepts no new requests")]
    Draining,
    /// Queue wait and compute took longer than `server.request_timeout_secs`.
    #[error("the request did not finish within {0} s")]
    Timeout(u32),
    /// A failure inside the server.
    #[error("internal error: {0}")]
    Internal(String),
}

fn list_or_none(names: &[String]) -> String {
    if names.is_empty() {
        "it has none".into()
    } else {
        names.join(", ")
    }
}

fn dimensions_message(asked: usize, model: &ModelId, native: usize, cuts: &[usize]) -> String {
    if cuts.is_empty() {
        format!(
            "dimensions {asked} is not supported: `{model}` was not trained for Matryoshka \
             truncation and returns {native} dimensions; omit `dimensions` (or send {native})"
        )
    } else {
        let cuts: Vec<String> = cuts.iter().map(ToString::to_string).collect();
        format!(
            "dimensions {asked} is not supported by `{model}`; it gives {native} or, cut \
             Matryoshka-style, {}",
            cuts.join(", ")
        )
    }
}

impl From<TokenizeError> for EmbedError {
    fn from(e: TokenizeError) -> Self {
        match e {
            TokenizeError::TooLong {
                index,
                tokens,
                limit,
                model,
            } => EmbedError::InputTooLong {
                index,
                tokens,
                limit,
                model,
            },
            TokenizeError::Failed { index, message } => EmbedError::Tokenizer { index, message },
        }
    }
}

/// The model a request names, or the default one; loads it when it is not loaded yet.
///
/// # Errors
/// An unknown or unavailable model.
pub async fn resolve_model(
    state: &AppState,
    name: Option<&str>,
) -> Result<Arc<ServedModel>, EmbedError> {
    let id = match name {
        None => state
            .config
            .default_model()
            .cloned()
            .ok_or_else(|| EmbedError::Internal("no default model".into()))?,
        Some(name) => name.parse::<ModelId>()?,
    };
    state.model_or_load(id).await
}

fn prefix(model: &ServedModel, prompt: &Prompt) -> Result<String, EmbedError> {
    let info = &model.info;
    let text = |name: &str| info.prompt(name).map(str::to_owned);
    match prompt {
        Prompt::Query => Ok(text("query").unwrap_or_default()),
        Prompt::Passage => Ok(text("passage")
            .or_else(|| text("document"))
            .unwrap_or_default()),
        Prompt::Named(None) => Ok(info
            .default_prompt
            .as_deref()
            .and_then(text)
            .unwrap_or_default()),
        Prompt::Named(Some(name)) => text(name).ok_or_else(|| EmbedError::UnknownPrompt {
            name: name.clone(),
            model: info.id.clone(),
            available: info.prompts.keys().cloned().collect(),
        }),
    }
}

/// Checks `dimensions` against the model before any compute is spent.
fn check_dimensions(model: &ServedModel, asked: Option<usize>) -> Result<(), EmbedError> {
    let native = model.info.dimensions;
    let cuts = &model.info.matryoshka_dimensions;
    match asked {
        None => Ok(()),
        Some(d) if d == native || cuts.contains(&d) => Ok(()),
        Some(asked) => Err(EmbedError::Dimensions {
            asked,
            model: model.info.id.clone(),
            native,
            matryoshka: cuts.clone(),
        }),
    }
}

/// Keeps the first `dimensions` values of each vector and, when `normalize`, scales the
/// result back to unit length: how Matryoshka-trained models are used shorter.
pub fn cut_dimensions(vectors: &mut [Vec<f32>], dimensions: usize, normalize: bool) {
    for v in vectors {
        v.truncate(dimensions);
        if normalize {
            l2_normalize(v);
        }
    }
}

fn check_count(state: &AppState, count: usize) -> Result<(), EmbedError> {
    let limit = state.config.embedding.max_texts_per_request;
    if count == 0 {
        return Err(EmbedError::NoInput);
    }
    if count > limit {
        return Err(EmbedError::TooManyInputs { count, limit });
    }
    Ok(())
}

/// Embeds the texts of `job`.
///
/// # Errors
/// Any [`EmbedError`]: refused input, unknown model, full queue, timeout, ...
pub async fn embed(state: &AppState, job: EmbedJob) -> Result<Embedded, EmbedError> {
    state.readiness()?;
    check_count(state, job.texts.len())?;
    let served = resolve_model(state, job.model.as_deref()).await?;
    let id = served.info.id.clone();
    check_dimensions(&served, job.dimensions)?;
    let prefix = prefix(&served, &job.prompt)?;
    let admission = state.admit()?;

    let truncate = job.truncate.unwrap_or(state.config.embedding.truncate);
    let tokenizer = served.tokenizer.clone();
    let texts = job.texts;
    let cut = job.cut;
    let normalize = job.normalize.unwrap_or(served.info.normalize);
    let token_id = id.clone();
    let ids = tokio::task::spawn_blocking(move || {
        texts
            .iter()
            .enumerate()
            .map(|(i, t)| {
                if prefix.is_empty() {
                    tokenizer.encode(&token_id, i, t, truncate, cut)
                } else {
                    tokenizer.encode(&token_id, i, &format!("{prefix}{t}"), truncate, cut)
                }
            })
            .collect::<Result<Vec<Vec<u32>>, TokenizeError>>()
    })
    .await
    .map_err(|e| EmbedError::Internal(format!("tokenization task failed: {e}")))??;
    let tokens: usize = ids.iter().map(Vec::len).sum();
    let count = ids.len();

    let timeout = state.config.server.request_timeout_secs;
    let rx = served.queue.submit(ids);
    let mut vectors = tokio::time::timeout(Duration::from_secs(u64::from(timeout)), rx)
        .await
        .map_err(|_| EmbedError::Timeout(timeout))?
        .map_err(|_| EmbedError::Internal("the compute thread stopped".into()))?
        .map_err(|e| EmbedError::Internal(e.to_string()))?;
    drop(admission);
    if normalize {
        vectors.iter_mut().for_each(|v| l2_normalize(v));
    }
    let mut dimensions = served.info.dimensions;
    if let Some(d) = job.dimensions.filter(|d| *d < dimensions) {
        cut_dimensions(&mut vectors, d, normalize);
        dimensions = d;
    }
    let labels = Metrics::model(&id);
    state
        .metrics
        .texts
        .get_or_create(&labels)
        .inc_by(count as u64);
    state
        .metrics
        .tokens
        .get_or_create(&labels)
        .inc_by(tokens as u64);
    Ok(Embedded {
        model: id,
        dimensions,
        vectors,
        tokens,
    })
}

/// The tokens of each text, as the model would see them (prompt included, not truncated).
///
/// # Errors
/// Refused input, unknown prompt, a tokenizer failure.
pub async fn tokenize(
    state: &AppState,
    texts: Vec<String>,
    add_special_tokens: bool,
    prompt: Prompt,
) -> Result<Vec<Vec<Token>>, EmbedError> {
    state.readiness()?;
    check_count(state, texts.len())?;
    let served = resolve_model(state, None).await?;
    let prefix = prefix(&served, &prompt)?;
    let tokenizer = served.tokenizer.clone();
    tokio::task::spawn_blocking(move || {
        texts
            .iter()
            .enumerate()
            .map(|(i, t)| tokenizer.tokens(i, &format!("{prefix}{t}"), add_special_tokens))
            .collect::<Result<Vec<_>, TokenizeError>>()
    })
    .await
    .map_err(|e| EmbedError::Internal(format!("tokenization task failed: {e}")))?
    .map_err(EmbedError::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matryoshka_cut_keeps_the_head_and_renormalises() {
        let mut v = vec![vec![3.0, 4.0, 12.0]];
        cut_dimensions(&mut v, 2, true);
        assert_eq!(v, vec![vec![0.6, 0.8]]);
        let mut raw = vec![vec![3.0, 4.0, 12.0]];
        cut_dimensions(&mut raw, 2, false);
        assert_eq!(raw, vec![vec![3.0, 4.0]]);
    }

    #[test]
    fn dimension_refusals_say_what_to_send() {
        let minilm = crate::KnownModel::AllMiniLmL6V2.id();
        let msg = dimensions_message(10, &minilm, 384, &[]);
        assert!(
            msg.contains("Matryoshka") && msg.contains("omit `dimensions`"),
            "{msg}"
        );
        let msg = dimensions_message(10, &minilm, 384, &[256, 128]);
        assert!(msg.contains("384 or") && msg.contains("256, 128"), "{msg}");
    }
}
