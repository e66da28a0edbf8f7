//! The native API's errors and the one place where they become HTTP statuses and
//! bodies. The OpenAI front end shares the statuses and adds its body's fields
//! ([`super::openai`]); TEI has its own mapping ([`super::tei`]).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::auth::Denied;
use super::body::BodyError;
use super::service::EmbedError;

/// Why a request was refused or failed. Every variant maps to exactly one status in
/// `From<&ApiError> for StatusCode`, and is answered as `{"error": {"type", "message"}}`.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    /// Malformed JSON or an invalid value (empty list, non-string, null, unknown field).
    #[error("{0}")]
    InvalidRequest(String),
    /// A model id that is unknown or not loaded by this server.
    #[error("{0}")]
    ModelNotFound(String),
    /// No accepted API key (`auth.required`).
    #[error("{0}")]
    Unauthorized(Denied),
    /// A path this server does not serve.
    #[error("no route for {0}")]
    RouteNotFound(String),
    /// The route exists but not with this method.
    #[error("method {method} is not allowed on {path}")]
    MethodNotAllowed {
        /// Method used.
        method: String,
        /// Path asked for.
        path: String,
    },
    /// The body is larger than `server.body_limit_bytes`, or a request holds more texts
    /// than `embedding.max_texts_per_request`.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// The body is not declared as JSON.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// An input is longer than the model's token limit and the request asked not to truncate.
    #[error("{0}")]
    InputTooLong(String),
    /// Refused or failed for a reason the embedding service gives itself: queue full,
    /// not ready, draining, timed out, internal.
    #[error(transparent)]
    Service(EmbedError),
}

impl ApiError {
    /// One error of each kind: what the OpenAPI document lists and the tests check.
    #[must_use]
    pub fn examples() -> Vec<ApiError> {
        vec![
            ApiError::InvalidRequest(String::new()),
            ApiError::ModelNotFound(String::new()),
            ApiError::Unauthorized(Denied::Missing),
            ApiError::RouteNotFound(String::new()),
            ApiError::MethodNotAllowed {
                method: "GET".into(),
                path: "/".into(),
            },
            ApiError::PayloadTooLarge(String::new()),
            ApiError::UnsupportedMediaType(String::new()),
            ApiError::InputTooLong(String::new()),
            ApiError::Service(EmbedError::QueueFull(1)),
            ApiError::Service(EmbedError::NotReady(String::new())),
            ApiError::Service(EmbedError::Draining),
            ApiError::Service(EmbedError::Timeout(1)),
            ApiError::Service(EmbedError::Internal(String::new())),
        ]
    }

    /// The machine-readable `error.type`.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            ApiError::InvalidRequest(_) => "invalid_request",
            ApiError::ModelNotFound(_) => "model_not_found",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::RouteNotFound(_) => "not_found",
            ApiError::MethodNotAllowed { .. } => "method_not_allowed",
            ApiError::PayloadTooLarge(_) => "payload_too_large",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::InputTooLong(_) => "input_too_long",
            ApiError::Service(e) => match e {
                EmbedError::QueueFull(_) => "queue_full",
                EmbedError::NotReady(_) => "not_ready",
                EmbedError::Draining => "draining",
                EmbedError::Timeout(_) => "timeout",
                _ => "internal",
            },
        }
    }
}

impl From<EmbedError> for ApiError {
    fn from(e: EmbedError) -> ApiError {
        match e {
            EmbedError::NoInput
            | EmbedError::UnknownPrompt { .. }
            | EmbedError::Dimensions { .. }
            | EmbedError::Tokenizer { .. } => ApiError::InvalidRequest(e.to_string()),
            EmbedError::TooManyInputs { .. } => ApiError::PayloadTooLarge(e.to_string()),
            EmbedError::BadModelId(_) | EmbedError::ModelUnavailable(_) => {
                ApiError::ModelNotFound(e.to_string())
            }
            EmbedError::InputTooLong { .. } => {
                ApiError::InputTooLong(format!("{e}; shorten it or send \"truncate\": true"))
            }
            EmbedError::QueueFull(_)
            | EmbedError::NotReady(_)
            | EmbedError::Draining
            | EmbedError::Timeout(_)
            | EmbedError::Internal(_) => ApiError::Service(e),
        }
    }
}

impl From<BodyError> for ApiError {
    fn from(e: BodyError) -> ApiError {
        match e {
            BodyError::NotJson => ApiError::UnsupportedMediaType(e.to_string()),
            BodyError::TooLarge { .. } => ApiError::PayloadTooLarge(e.to_string()),
            BodyError::Unreadable(_) | BodyError::Invalid(_) => {
                ApiError::InvalidRequest(e.to_string())
            }
        }
    }
}

impl From<&ApiError> for StatusCode {
    fn from(e: &ApiError) -> StatusCode {
        match e {
            ApiError::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::ModelNotFound(_) | ApiError::RouteNotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::InputTooLong(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Service(e) => match e {
                EmbedError::QueueFull(_) => StatusCode::TOO_MANY_REQUESTS,
                EmbedError::NotReady(_) | EmbedError::Draining | EmbedError::Timeout(_) => {
                    StatusCode::SERVICE_UNAVAILABLE
                }
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            },
        }
    }
}

/// The body of every native error.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    error: ErrorDetail,
}

/// What went wrong.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// The kind of error: `invalid_request`, `model_not_found`, `queue_full`, ...
    #[serde(rename = "type")]
    kind: String,
    /// What to change, in words.
    message: String,
}

impl utoipa::IntoResponses for ApiError {
    fn responses()
    -> std::collections::BTreeMap<String, utoipa::openapi::RefOr<utoipa::openapi::Response>> {
        super::openapi::error_responses::<ErrorBody>(
            ApiError::examples().iter().map(StatusCode::from),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from(&self);
        let quiet = matches!(
            self,
            ApiError::Service(EmbedError::NotReady(_) | EmbedError::Draining)
        );
        if status.is_server_error() && !quiet {
            tracing::warn!(error = %self, status = status.as_u16(), "request failed");
        }
        let body = ErrorBody {
            error: ErrorDetail {
                kind: self.kind().to_owned(),
                message: self.to_string(),
            },
        };
        let mut response = (status, Json(body)).into_response();
        if let ApiError::Unauthorized(denied) = &self {
            response
                .headers_mut()
                .insert(axum::http::header::WWW_AUTHENTICATE, denied.challenge());
        }
        if matches!(
            self,
            ApiError::Service(EmbedError::QueueFull(_) | EmbedError::Draining)
        ) {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("1"),
            );
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_has_its_status() {
        let statuses = [
            400, 404, 401, 404, 405, 413, 415, 422, 429, 503, 503, 503, 500,
        ];
        let examples = ApiError::examples();
        assert_eq!(examples.len(), statuses.len());
        for (err, status) in examples.into_iter().zip(statuses) {
            assert_eq!(StatusCode::from(&err).as_u16(), status, "{err:?}");
        }
    }
}
