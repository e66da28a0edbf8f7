//! The native embedding endpoint, `POST /api/v1/embed`: a thin adapter over
//! [`super::service`].

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::body::JsonBody;
use super::error::ApiError;
use super::service::{self, EmbedJob, Prompt};
use super::state::AppState;
use crate::{ModelId, routes};

/// Which prefix a model that uses prefixes (e5) puts before each text.
#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum InputType {
    /// A search query (e5: `query: `).
    #[default]
    Query,
    /// A document to be found (e5: `passage: `).
    Passage,
}

impl From<InputType> for Prompt {
    fn from(t: InputType) -> Prompt {
        match t {
            InputType::Query => Prompt::Query,
            InputType::Passage => Prompt::Passage,
        }
    }
}

/// `POST /api/v1/embed`. Unknown fields are refused, so a typo never goes unnoticed.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmbedRequest {
    /// 1 to `embedding.max_texts_per_request` texts; empty strings are allowed.
    #[schema(min_items = 1)]
    texts: Vec<String>,
    /// Model id; default: the first of `embedding.preload_models`.
    #[schema(value_type = Option<ModelId>)]
    model: Option<String>,
    /// Prefix for models that use one; default `query`.
    input_type: Option<InputType>,
    /// Scale each vector to unit length; default: as the model's own pipeline does (a
    /// `Normalize` module in `modules.json`; `true` for a folder without that file).
    normalize: Option<bool>,
    /// Cut inputs over the model's token limit; default `embedding.truncate`.
    truncate: Option<bool>,
}

/// The vectors, in input order.
#[derive(Serialize, ToSchema)]
pub struct EmbedResponse {
    model: ModelId,
    dimensions: usize,
    embeddings: Vec<Vec<f32>>,
    usage: Usage,
}

/// Tokens of every input, special tokens included, after truncation.
#[derive(Serialize, ToSchema)]
pub struct Usage {
    tokens: usize,
}

/// Embeds texts.
#[utoipa::path(
    post,
    path = routes::EMBED,
    tag = "native",
    request_body = EmbedRequest,
    responses((status = 200, description = "The vectors", body = EmbedResponse), ApiError)
)]
pub(super) async fn embed(
    State(state): State<AppState>,
    JsonBody(req, _): JsonBody<EmbedRequest>,
) -> Result<Json<EmbedResponse>, ApiError> {
    let out = service::embed(
        &state,
        EmbedJob {
            model: req.model,
            prompt: req.input_type.unwrap_or_default().into(),
            normalize: req.normalize,
            truncate: req.truncate,
            ..EmbedJob::new(req.texts)
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
