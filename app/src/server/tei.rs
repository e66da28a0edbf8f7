//! The text-embeddings-inference (TEI) front end: `POST /embed`, `POST /` and
//! `POST /tokenize` with TEI's request and response shapes and its errors
//! (`{"error", "error_type"}` with TEI's statuses), so `huggingface_hub`'s
//! `InferenceClient(model=URL).feature_extraction(...)` and other TEI clients work
//! unchanged. A thin adapter over [`super::service`]; it serves the default model, as a
//! TEI server serves its one model.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa::openapi::RefOr;

use super::body::{BodyError, JsonBody};
use super::inputs;
use super::model::{Cut, Token};
use super::service::{self, EmbedError, EmbedJob, Prompt};
use super::state::AppState;
use crate::routes;

/// TEI's `error_type`; each has one status, as in TEI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TeiErrorType {
    /// Not ready, draining, or past the request timeout (503).
    Unhealthy,
    /// The model failed (424, as TEI answers).
    Backend,
    /// The queue is full (429).
    Overloaded,
    /// A request TEI would refuse: too many inputs, too long without truncation, an
    /// unknown prompt, bad `dimensions` (413, as TEI answers), or a body that is not the
    /// JSON asked for (its own status, as TEI's JSON extractor answers).
    Validation,
    /// The tokenizer failed on an input (422).
    Tokenizer,
    /// No input (400).
    Empty,
}

impl From<TeiErrorType> for StatusCode {
    fn from(t: TeiErrorType) -> StatusCode {
        match t {
            TeiErrorType::Unhealthy => StatusCode::SERVICE_UNAVAILABLE,
            TeiErrorType::Backend => StatusCode::FAILED_DEPENDENCY,
            TeiErrorType::Overloaded => StatusCode::TOO_MANY_REQUESTS,
            TeiErrorType::Validation => StatusCode::PAYLOAD_TOO_LARGE,
            TeiErrorType::Tokenizer => StatusCode::UNPROCESSABLE_ENTITY,
            TeiErrorType::Empty => StatusCode::BAD_REQUEST,
        }
    }
}

/// An error in TEI's shape.
#[derive(Debug, Clone)]
pub struct TeiError {
    status: StatusCode,
    error_type: TeiErrorType,
    message: String,
}

/// The body of every TEI error.
#[derive(Serialize, ToSchema)]
pub struct TeiErrorBody {
    /// What to change, in words.
    error: String,
    error_type: TeiErrorType,
}

impl TeiError {
    fn of(error_type: TeiErrorType, message: String) -> TeiError {
        TeiError {
            status: error_type.into(),
            error_type,
            message,
        }
    }

    /// A body or input TEI's JSON extractor would refuse, with the status it would use.
    fn validation(status: StatusCode, message: String) -> TeiError {
        TeiError {
            status,
            error_type: TeiErrorType::Validation,
            message,
        }
    }
}

impl From<EmbedError> for TeiError {
    fn from(e: EmbedError) -> TeiError {
        let t = match &e {
            EmbedError::NoInput => TeiErrorType::Empty,
            EmbedError::TooManyInputs { .. }
            | EmbedError::UnknownPrompt { .. }
            | EmbedError::Dimensions { .. }
            | EmbedError::InputTooLong { .. } => TeiErrorType::Validation,
            EmbedError::Tokenizer { .. } => TeiErrorType::Tokenizer,
            EmbedError::QueueFull(_) => TeiErrorType::Overloaded,
            EmbedError::BadModelId(_)
            | EmbedError::ModelUnavailable(_)
            | EmbedError::NotReady(_)
            | EmbedError::Draining
            | EmbedError::Timeout(_) => TeiErrorType::Unhealthy,
            EmbedError::Internal(_) => TeiErrorType::Backend,
        };
        let message = match e {
            EmbedError::InputTooLong { .. } => {
                format!("{e}; shorten it or send \"truncate\": true")
            }
            e => e.to_string(),
        };
        TeiError::of(t, message)
    }
}

impl From<BodyError> for TeiError {
    fn from(e: BodyError) -> TeiError {
        let status = match &e {
            BodyError::NotJson => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            BodyError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            BodyError::Unreadable(_) => StatusCode::BAD_REQUEST,
            BodyError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
        };
        TeiError::validation(status, e.to_string())
    }
}

impl IntoResponse for TeiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() && self.error_type != TeiErrorType::Unhealthy {
            tracing::warn!(error = %self.message, status = self.status.as_u16(), "request failed");
        }
        let retry = matches!(self.error_type, TeiErrorType::Overloaded);
        let mut r = (
            self.status,
            Json(TeiErrorBody {
                error: self.message,
                error_type: self.error_type,
            }),
        )
            .into_response();
        if retry {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        r
    }
}

impl utoipa::IntoResponses for TeiError {
    fn responses() -> BTreeMap<String, RefOr<utoipa::openapi::Response>> {
        let by_type = [
            TeiErrorType::Unhealthy,
            TeiErrorType::Backend,
            TeiErrorType::Overloaded,
            TeiErrorType::Validation,
            TeiErrorType::Tokenizer,
            TeiErrorType::Empty,
        ]
        .map(StatusCode::from);
        let from_body = [
            BodyError::NotJson,
            BodyError::Unreadable(String::new()),
            BodyError::Invalid(String::new()),
        ]
        .map(|e| TeiError::from(e).status);
        super::openapi::error_responses::<TeiErrorBody>(by_type.into_iter().chain(from_body))
    }
}

/// Which end of an over-long input TEI's `truncation_direction` cuts.
#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
pub enum TruncationDirection {
    /// Keep the end of the input.
    #[serde(rename = "left", alias = "Left")]
    Left,
    /// Keep the start of the input (the default).
    #[default]
    #[serde(rename = "right", alias = "Right")]
    Right,
}

impl From<TruncationDirection> for Cut {
    fn from(d: TruncationDirection) -> Cut {
        match d {
            TruncationDirection::Left => Cut::Start,
            TruncationDirection::Right => Cut::End,
        }
    }
}

fn yes() -> bool {
    true
}

/// `POST /embed` (and `POST /`). Unknown fields are ignored, as TEI ignores them.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TeiEmbedRequest {
    /// One text or a list of texts.
    #[schema(schema_with = inputs::schema)]
    inputs: serde_json::Value,
    /// Scale each vector to unit length.
    #[serde(default = "yes")]
    #[schema(default = true)]
    normalize: bool,
    /// Cut inputs over the model's token limit; default `embedding.truncate`.
    truncate: Option<bool>,
    /// Which end an over-long input loses.
    #[serde(default)]
    truncation_direction: TruncationDirection,
    /// A key of the model's prompts (e5: `query`, `passage`); when absent, the model's
    /// `default_prompt_name`, and no prompt if it has none.
    prompt_name: Option<String>,
    /// Only the model's own length, unless it was trained for Matryoshka cuts.
    #[schema(minimum = 1, example = 384)]
    dimensions: Option<usize>,
}

fn texts(value: serde_json::Value) -> Result<Vec<String>, TeiError> {
    inputs::texts("inputs", value)
        .map_err(|e| TeiError::validation(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))
}

/// Embeds texts, as TEI's `/embed` does: one vector per input.
#[utoipa::path(
    post,
    path = routes::TEI_EMBED,
    tag = "tei",
    request_body = TeiEmbedRequest,
    responses((status = 200, description = "One vector per input", body = Vec<Vec<f32>>), TeiError)
)]
pub(super) async fn embed(
    State(state): State<AppState>,
    JsonBody(req, _): JsonBody<TeiEmbedRequest, TeiError>,
) -> Result<Json<Vec<Vec<f32>>>, TeiError> {
    let out = service::embed(
        &state,
        EmbedJob {
            prompt: Prompt::Named(req.prompt_name),
            normalize: Some(req.normalize),
            truncate: req.truncate,
            cut: req.truncation_direction.into(),
            dimensions: req.dimensions,
            ..EmbedJob::new(texts(req.inputs)?)
        },
    )
    .await?;
    Ok(Json(out.vectors))
}

/// TEI's root route, where `InferenceClient(model=URL).feature_extraction` posts: the
/// same as `POST /embed`.
#[utoipa::path(
    post,
    path = routes::TEI_ROOT,
    tag = "tei",
    request_body = TeiEmbedRequest,
    responses((status = 200, description = "One vector per input", body = Vec<Vec<f32>>), TeiError)
)]
pub(super) async fn root(
    state: State<AppState>,
    body: JsonBody<TeiEmbedRequest, TeiError>,
) -> Result<Json<Vec<Vec<f32>>>, TeiError> {
    embed(state, body).await
}

/// `POST /tokenize`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TeiTokenizeRequest {
    /// One text or a list of texts.
    #[schema(schema_with = inputs::schema)]
    inputs: serde_json::Value,
    /// Add the model's special tokens (`[CLS]`, `[SEP]`).
    #[serde(default = "yes")]
    #[schema(default = true)]
    add_special_tokens: bool,
    /// A key of the model's prompts, put before each text first; when absent, the model's
    /// `default_prompt_name`, if it has one.
    prompt_name: Option<String>,
}

/// One token.
#[derive(Serialize, ToSchema)]
pub struct SimpleToken {
    id: u32,
    /// The piece of the input it covers; the token itself for a special token.
    text: String,
    special: bool,
    /// Character offset where it starts in the (prompted) input; null for special tokens.
    start: Option<usize>,
    /// Character offset just past its end; null for special tokens.
    stop: Option<usize>,
}

impl From<Token> for SimpleToken {
    fn from(t: Token) -> SimpleToken {
        SimpleToken {
            id: t.id,
            text: t.text,
            special: t.special,
            start: t.span.map(|s| s.0),
            stop: t.span.map(|s| s.1),
        }
    }
}

/// The default model's tokens of each input, not truncated.
#[utoipa::path(
    post,
    path = routes::TEI_TOKENIZE,
    tag = "tei",
    request_body = TeiTokenizeRequest,
    responses((status = 200, description = "The tokens of each input", body = Vec<Vec<SimpleToken>>), TeiError)
)]
pub(super) async fn tokenize(
    State(state): State<AppState>,
    JsonBody(req, _): JsonBody<TeiTokenizeRequest, TeiError>,
) -> Result<Json<Vec<Vec<SimpleToken>>>, TeiError> {
    let tokens = service::tokenize(
        &state,
        texts(req.inputs)?,
        req.add_special_tokens,
        Prompt::Named(req.prompt_name),
    )
    .await?;
    Ok(Json(
        tokens
            .into_iter()
            .map(|t| t.into_iter().map(SimpleToken::from).collect())
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_take_tei_statuses() {
        let status = |e: EmbedError| TeiError::from(e).status.as_u16();
        assert_eq!(status(EmbedError::NoInput), 400);
        assert_eq!(
            status(EmbedError::TooManyInputs { count: 9, limit: 8 }),
            413
        );
        assert_eq!(status(EmbedError::QueueFull(1)), 429);
        assert_eq!(status(EmbedError::Draining), 503);
        assert_eq!(status(EmbedError::Internal(String::new())), 424);
        let body = |e: BodyError| TeiError::from(e).status.as_u16();
        assert_eq!(body(BodyError::NotJson), 415);
        assert_eq!(body(BodyError::Invalid(String::new())), 422);
        assert_eq!(body(BodyError::TooLarge { limit: 1 }), 413);
    }

    #[test]
    fn truncation_direction_takes_both_spellings() {
        for (text, cut) in [
            ("\"left\"", Cut::Start),
            ("\"Left\"", Cut::Start),
            ("\"right\"", Cut::End),
            ("\"Right\"", Cut::End),
        ] {
            let d: TruncationDirection = serde_json::from_str(text).unwrap();
            assert_eq!(Cut::from(d), cut, "{text}");
        }
        assert!(serde_json::from_str::<TruncationDirection>("\"up\"").is_err());
    }
}
