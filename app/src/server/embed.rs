//! The embedding endpoints: `/api/v1/embed` and the OpenAI-compatible `/v1/embeddings`.
//!
//! Both turn their body into one [`EmbedJob`]; [`run_embed`] checks it, tokenizes off the
//! async runtime, queues token ids and gets plain vectors back.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::http::JsonBody;
use super::metrics::Metrics;
use super::model::TokenizeError;
use super::pooling::l2_normalize;
use super::state::AppState;
use crate::ModelId;

/// Which prefix an e5 model puts before each text.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
enum InputType {
    #[default]
    Query,
    Passage,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct EmbedRequest {
    texts: Vec<String>,
    model: Option<String>,
    input_type: Option<InputType>,
    normalize: Option<bool>,
    truncate: Option<bool>,
}

#[derive(Serialize)]
pub(super) struct EmbedResponse {
    model: ModelId,
    dimensions: usize,
    embeddings: Vec<Vec<f32>>,
    usage: Usage,
}

#[derive(Serialize)]
struct Usage {
    tokens: usize,
}

struct Embedded {
    model: ModelId,
    dimensions: usize,
    vectors: Vec<Vec<f32>>,
    tokens: usize,
}

struct EmbedJob {
    model: Option<String>,
    texts: Vec<String>,
    input_type: InputType,
    normalize: bool,
    truncate: Option<bool>,
}

pub(super) async fn embed(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<EmbedRequest>,
) -> Result<Json<EmbedResponse>, ApiError> {
    let out = run_embed(
        &state,
        EmbedJob {
            model: req.model,
            texts: req.texts,
            input_type: req.input_type.unwrap_or_default(),
            normalize: req.normalize.unwrap_or(true),
            truncate: req.truncate,
        },
    )
    .await?;
    Ok(Json(EmbedResponse {
        model: out.model,
        dimensions: out.dimensions,
        embeddings: out.vectors,
        usage: Usage { tokens: out.tokens },
    }))
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
enum EncodingFormat {
    #[default]
    Float,
    Base64,
}

#[derive(Debug, Deserialize)]
pub(super) struct OpenAiRequest {
    input: serde_json::Value,
    model: Option<String>,
    /// An extension to the OpenAI shape: the e5 prefix, as in the native endpoint.
    input_type: Option<InputType>,
    encoding_format: Option<EncodingFormat>,
    dimensions: Option<usize>,
}

#[derive(Serialize)]
pub(super) struct OpenAiResponse {
    object: &'static str,
    data: Vec<OpenAiEmbedding>,
    model: ModelId,
    usage: OpenAiUsage,
}

#[derive(Serialize)]
struct OpenAiEmbedding {
    object: &'static str,
    index: usize,
    embedding: serde_json::Value,
}

#[derive(Serialize)]
struct OpenAiUsage {
    prompt_tokens: usize,
    total_tokens: usize,
}

fn openai_input(input: serde_json::Value) -> Result<Vec<String>, ApiError> {
    use serde_json::Value;
    match input {
        Value::String(s) => Ok(vec![s]),
        Value::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::String(s) => Ok(s),
                other => Err(ApiError::InvalidRequest(format!(
                    "input[{i}] must be a string, got {}",
                    json_kind(&other)
                ))),
            })
            .collect(),
        other => Err(ApiError::InvalidRequest(format!(
            "input must be a string or a list of strings, got {}",
            json_kind(&other)
        ))),
    }
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    use serde_json::Value;
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

pub(super) async fn openai_embeddings(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<OpenAiRequest>,
) -> Result<Json<OpenAiResponse>, ApiError> {
    let texts = openai_input(req.input)?;
    let out = run_embed(
        &state,
        EmbedJob {
            model: req.model,
            texts,
            input_type: req.input_type.unwrap_or_default(),
            normalize: true,
            truncate: None,
        },
    )
    .await?;
    if let Some(d) = req.dimensions.filter(|d| *d != out.dimensions) {
        return Err(ApiError::InvalidRequest(format!(
            "dimensions {d} is not supported; `{}` returns {} dimensions",
            out.model, out.dimensions
        )));
    }
    let format = req.encoding_format.unwrap_or_default();
    let data = out
        .vectors
        .into_iter()
        .enumerate()
        .map(|(index, v)| OpenAiEmbedding {
            object: "embedding",
            index,
            embedding: match format {
                EncodingFormat::Float => serde_json::json!(v),
                EncodingFormat::Base64 => {
                    let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
                    serde_json::Value::String(
                        base64::engine::general_purpose::STANDARD.encode(bytes),
                    )
                }
            },
        })
        .collect();
    Ok(Json(OpenAiResponse {
        object: "list",
        data,
        model: out.model,
        usage: OpenAiUsage {
            prompt_tokens: out.tokens,
            total_tokens: out.tokens,
        },
    }))
}

async fn run_embed(state: &AppState, job: EmbedJob) -> Result<Embedded, ApiError> {
    state.readiness()?;
    let limit = state.config.embedding.max_texts_per_request;
    if job.texts.is_empty() {
        return Err(ApiError::InvalidRequest(
            "the list of texts is empty; send at least one text".into(),
        ));
    }
    if job.texts.len() > limit {
        return Err(ApiError::PayloadTooLarge(format!(
            "{} texts in one request; embedding.max_texts_per_request is {limit}",
            job.texts.len()
        )));
    }
    let id = match job.model.as_deref() {
        None => state
            .config
            .default_model()
            .ok_or_else(|| ApiError::Internal("no default model".into()))?,
        Some(name) => name
            .parse::<ModelId>()
            .map_err(|e| ApiError::ModelNotFound(e.to_string()))?,
    };
    let served = state.model_or_load(id).await?;
    let admission = state.admit()?;

    let truncate = job.truncate.unwrap_or(state.config.embedding.truncate);
    let prefix = served.info.prefixes.map_or("", |p| match job.input_type {
        InputType::Query => p.query,
        InputType::Passage => p.passage,
    });
    let tokenizer = served.tokenizer.clone();
    let texts = job.texts;
    let ids = tokio::task::spawn_blocking(move || {
        texts
            .iter()
            .enumerate()
            .map(|(i, t)| {
                if prefix.is_empty() {
                    tokenizer.encode(id, i, t, truncate)
                } else {
                    tokenizer.encode(id, i, &format!("{prefix}{t}"), truncate)
                }
            })
            .collect::<Result<Vec<Vec<u32>>, TokenizeError>>()
    })
    .await
    .map_err(|e| ApiError::Internal(format!("tokenization task failed: {e}")))?
    .map_err(|e| match e {
        TokenizeError::TooLong { .. } => {
            ApiError::InputTooLong(format!("{e}; shorten it or send \"truncate\": true"))
        }
        TokenizeError::Failed { .. } => ApiError::InvalidRequest(e.to_string()),
    })?;
    let tokens: usize = ids.iter().map(Vec::len).sum();
    let count = ids.len();

    let timeout = state.config.server.request_timeout_secs;
    let rx = served.queue.submit(ids);
    let mut vectors = tokio::time::timeout(Duration::from_secs(u64::from(timeout)), rx)
        .await
        .map_err(|_| ApiError::Timeout(timeout))?
        .map_err(|_| ApiError::Internal("the compute thread stopped".into()))?
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    drop(admission);
    if job.normalize {
        vectors.iter_mut().for_each(|v| l2_normalize(v));
    }
    let labels = Metrics::model(id);
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
        dimensions: served.info.dimensions,
        vectors,
        tokens,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_input_accepts_string_or_list_and_names_bad_items() {
        assert_eq!(openai_input(serde_json::json!("a")).unwrap(), vec!["a"]);
        assert_eq!(
            openai_input(serde_json::json!(["a", "b"])).unwrap(),
            vec!["a", "b"]
        );
        let err = openai_input(serde_json::json!(["a", null])).unwrap_err();
        assert!(err.to_string().contains("input[1]"), "{err}");
        assert!(openai_input(serde_json::json!(3)).is_err());
    }
}
