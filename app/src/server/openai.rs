//! The OpenAI front end: `POST /v1/embeddings`, `GET /v1/models` and
//! `GET /v1/models/{id}`, as the `openai` SDKs and LangChain's `OpenAIEmbeddings` call
//! them. A thin adapter over [`super::service`].

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa::openapi::RefOr;

use super::body::{BodyError, JsonBody};
use super::error::ApiError;
use super::inputs::{self, InputError};
use super::native::InputType;
use super::service::{self, EmbedError, EmbedJob};
use super::state::AppState;
use crate::{ModelId, routes};

/// An error in OpenAI's shape: `{"error": {"message", "type", "param", "code"}}`, with
/// the native API's status. `type` and `code` are the native `error.type`, so a client of
/// either API reads the same words.
#[derive(Debug)]
pub struct OpenAiError {
    error: ApiError,
    param: Option<&'static str>,
}

impl OpenAiError {
    fn param(error: impl Into<ApiError>, param: &'static str) -> OpenAiError {
        OpenAiError {
            error: error.into(),
            param: Some(param),
        }
    }
}

impl From<ApiError> for OpenAiError {
    fn from(error: ApiError) -> OpenAiError {
        OpenAiError { error, param: None }
    }
}

impl From<EmbedError> for OpenAiError {
    fn from(e: EmbedError) -> OpenAiError {
        ApiError::from(e).into()
    }
}

impl From<BodyError> for OpenAiError {
    fn from(e: BodyError) -> OpenAiError {
        ApiError::from(e).into()
    }
}

/// The body of every OpenAI-shaped error.
#[derive(Serialize, ToSchema)]
pub struct OpenAiErrorBody {
    error: OpenAiErrorDetail,
}

/// What went wrong, in OpenAI's fields.
#[derive(Serialize, ToSchema)]
pub struct OpenAiErrorDetail {
    /// What to change, in words.
    message: String,
    /// The kind of error (`invalid_request`, `model_not_found`, `queue_full`, ...).
    #[serde(rename = "type")]
    kind: String,
    /// The request field at fault, when one is.
    param: Option<String>,
    /// Same as `type`.
    code: String,
}

impl IntoResponse for OpenAiError {
    fn into_response(self) -> Response {
        let native = self.error.clone().into_response();
        let body = OpenAiErrorBody {
            error: OpenAiErrorDetail {
                message: self.error.to_string(),
                kind: self.error.kind().to_owned(),
                param: self.param.map(str::to_owned),
                code: self.error.kind().to_owned(),
            },
        };
        // Status and headers (Retry-After) as the native API answers.
        let (parts, _) = native.into_parts();
        (parts, Json(body)).into_response()
    }
}

impl utoipa::IntoResponses for OpenAiError {
    fn responses() -> BTreeMap<String, RefOr<utoipa::openapi::Response>> {
        super::openapi::error_responses::<OpenAiErrorBody>(
            ApiError::examples().iter().map(StatusCode::from),
        )
    }
}

/// `encoding_format`.
#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum EncodingFormat {
    /// A list of numbers.
    #[default]
    Float,
    /// Base64 of the little-endian `f32` bytes, as the OpenAI SDKs ask by default.
    Base64,
}

/// `POST /v1/embeddings`. Other fields (such as `user`) are accepted and ignored, as
/// OpenAI clients send them.
#[derive(Debug, Deserialize, ToSchema)]
pub struct OpenAiRequest {
    /// One text or a list of texts. Token ids are refused (see docs/api.md).
    #[schema(schema_with = inputs::schema)]
    input: serde_json::Value,
    /// Model id; default: the first of `embedding.preload_models`.
    #[schema(value_type = Option<ModelId>)]
    model: Option<String>,
    /// An extension: the prefix for models that use one, as in `/api/v1/embed`.
    input_type: Option<InputType>,
    /// `float` (default) or `base64`.
    encoding_format: Option<EncodingFormat>,
    /// Only the model's own length, unless the model was trained for Matryoshka cuts.
    #[schema(minimum = 1, example = 384)]
    dimensions: Option<usize>,
}

/// The vectors, in input order.
#[derive(Serialize, ToSchema)]
pub struct OpenAiResponse {
    #[schema(value_type = String, example = "list")]
    object: &'static str,
    data: Vec<OpenAiEmbedding>,
    model: ModelId,
    usage: OpenAiUsage,
}

/// One vector.
#[derive(Serialize, ToSchema)]
pub struct OpenAiEmbedding {
    #[schema(value_type = String, example = "embedding")]
    object: &'static str,
    index: usize,
    embedding: Vector,
}

/// A vector as numbers, or as base64 of little-endian `f32`.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum Vector {
    /// `encoding_format: "float"`.
    Float(Vec<f32>),
    /// `encoding_format: "base64"`.
    Base64(String),
}

/// Tokens of every input, special tokens included.
#[derive(Serialize, ToSchema)]
pub struct OpenAiUsage {
    prompt_tokens: usize,
    total_tokens: usize,
}

fn base64_le(v: &[f32]) -> String {
    let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn input_error(e: InputError) -> OpenAiError {
    OpenAiError::param(ApiError::InvalidRequest(e.to_string()), "input")
}

/// Embeds texts, as OpenAI's embeddings API does.
#[utoipa::path(
    post,
    path = routes::OPENAI_EMBEDDINGS,
    tag = "openai",
    request_body = OpenAiRequest,
    responses((status = 200, description = "The vectors", body = OpenAiResponse), OpenAiError)
)]
pub(super) async fn embeddings(
    State(state): State<AppState>,
    JsonBody(req, _): JsonBody<OpenAiRequest, OpenAiError>,
) -> Result<Json<OpenAiResponse>, OpenAiError> {
    let texts = inputs::texts("input", req.input).map_err(input_error)?;
    let out = service::embed(
        &state,
        EmbedJob {
            model: req.model,
            prompt: req.input_type.unwrap_or_default().into(),
            dimensions: req.dimensions,
            // OpenAI's vectors are unit length whatever the model; clients compare them
            // by dot product.
            normalize: Some(true),
            ..EmbedJob::new(texts)
        },
    )
    .await
    .map_err(|e| match e {
        EmbedError::Dimensions { .. } => OpenAiError::param(e, "dimensions"),
        EmbedError::BadModelId(_) | EmbedError::ModelUnavailable(_) => {
            OpenAiError::param(e, "model")
        }
        EmbedError::NoInput | EmbedError::TooManyInputs { .. } => OpenAiError::param(e, "input"),
        other => other.into(),
    })?;
    let format = req.encoding_format.unwrap_or_default();
    let data = out
        .vectors
        .into_iter()
        .enumerate()
        .map(|(index, v)| OpenAiEmbedding {
            object: "embedding",
            index,
            embedding: match format {
                EncodingFormat::Float => Vector::Float(v),
                EncodingFormat::Base64 => Vector::Base64(base64_le(&v)),
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

/// A model, as OpenAI's models API describes one.
#[derive(Serialize, ToSchema)]
pub struct OpenAiModel {
    id: ModelId,
    #[schema(value_type = String, example = "model")]
    object: &'static str,
    /// Always 0: the server does not know when a model was made.
    created: u64,
    #[schema(value_type = String, example = "akidb")]
    owned_by: &'static str,
}

/// Every model this server can serve.
#[derive(Serialize, ToSchema)]
pub struct OpenAiModelList {
    #[schema(value_type = String, example = "list")]
    object: &'static str,
    data: Vec<OpenAiModel>,
}

fn model_object(id: ModelId) -> OpenAiModel {
    OpenAiModel {
        id,
        object: "model",
        created: 0,
        owned_by: "akidb",
    }
}

/// Models that are loaded, or whose folder is under `embedding.model_dir` and that can
/// still be loaded (fewer than `embedding.max_models` are).
fn servable(state: &AppState) -> Vec<ModelId> {
    let mut ids = state.loaded_ids();
    if ids.len() < state.config.embedding.max_models {
        ids.extend(state.model_folders());
        ids.sort();
        ids.dedup();
    }
    ids
}

/// Lists the models this server can serve: loaded ones, and ones it would load on the
/// first request that names them.
#[utoipa::path(
    get,
    path = routes::OPENAI_MODELS,
    tag = "openai",
    responses((status = 200, description = "The models", body = OpenAiModelList), OpenAiError)
)]
pub(super) async fn models(State(state): State<AppState>) -> Json<OpenAiModelList> {
    Json(OpenAiModelList {
        object: "list",
        data: servable(&state).into_iter().map(model_object).collect(),
    })
}

/// One model, or 404 when this server cannot serve it.
#[utoipa::path(
    get,
    path = routes::OPENAI_MODEL,
    tag = "openai",
    params(("id" = String, Path, description = "Model id, e.g. all-MiniLM-L6-v2")),
    responses((status = 200, description = "The model", body = OpenAiModel), OpenAiError)
)]
pub(super) async fn model(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<OpenAiModel>, OpenAiError> {
    let id: ModelId = id
        .parse()
        .map_err(|e| OpenAiError::param(EmbedError::BadModelId(e), "model"))?;
    if !servable(&state).contains(&id) {
        return Err(OpenAiError::param(
            ApiError::ModelNotFound(format!(
                "model `{id}` is not servable here: no folder of that name holds a \
                 config.json under embedding.model_dir, or embedding.max_models models are \
                 loaded"
            )),
            "model",
        ));
    }
    Ok(Json(model_object(id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_is_little_endian_f32() {
        assert_eq!(base64_le(&[1.0]), "AACAPw==");
    }

    #[test]
    fn errors_keep_the_native_status_and_add_param_and_code() {
        let r = OpenAiError::param(ApiError::InvalidRequest("bad".into()), "input").into_response();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let r = OpenAiError::from(EmbedError::QueueFull(3)).into_response();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(r.headers().contains_key("retry-after"));
    }
}
