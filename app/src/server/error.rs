//! Request errors and the one place where they become HTTP statuses.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::auth::Denied;

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
    /// `embedding.max_queued_requests` requests are already waiting for compute.
    #[error("the queue is full ({0} requests waiting); retry later")]
    QueueFull(usize),
    /// The preloaded models are not loaded yet.
    #[error("not ready: {0}")]
    NotReady(String),
    /// The server received SIGTERM or SIGINT and accepts no new work.
    #[error("the server is draining and accepts no new requests")]
    Draining,
    /// The request did not finish within `server.request_timeout_secs`.
    #[error("the request did not finish within {0} s")]
    Timeout(u32),
    /// A failure inside the server (a model forward pass that errored).
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
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
            ApiError::QueueFull(_) => "queue_full",
            ApiError::NotReady(_) => "not_ready",
            ApiError::Draining => "draining",
            ApiError::Timeout(_) => "timeout",
            ApiError::Internal(_) => "internal",
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
            ApiError::QueueFull(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::NotReady(_) | ApiError::Draining | ApiError::Timeout(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorDetail<'a>,
}

#[derive(Serialize)]
struct ErrorDetail<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from(&self);
        if status.is_server_error() && !matches!(self, ApiError::NotReady(_) | ApiError::Draining) {
            tracing::warn!(error = %self, status = status.as_u16(), "request failed");
        }
        let body = ErrorBody {
            error: ErrorDetail {
                kind: self.kind(),
                message: self.to_string(),
            },
        };
        let mut response = (status, Json(body)).into_response();
        if let ApiError::Unauthorized(denied) = &self {
            response
                .headers_mut()
                .insert(axum::http::header::WWW_AUTHENTICATE, denied.challenge());
        }
        if matches!(self, ApiError::QueueFull(_) | ApiError::Draining) {
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
        let cases = [
            (ApiError::InvalidRequest(String::new()), 400),
            (ApiError::Unauthorized(Denied::Missing), 401),
            (ApiError::ModelNotFound(String::new()), 404),
            (ApiError::RouteNotFound(String::new()), 404),
            (
                ApiError::MethodNotAllowed {
                    method: "GET".into(),
                    path: "/".into(),
                },
                405,
            ),
            (ApiError::PayloadTooLarge(String::new()), 413),
            (ApiError::UnsupportedMediaType(String::new()), 415),
            (ApiError::InputTooLong(String::new()), 422),
            (ApiError::QueueFull(1), 429),
            (ApiError::NotReady(String::new()), 503),
            (ApiError::Draining, 503),
            (ApiError::Timeout(1), 503),
            (ApiError::Internal(String::new()), 500),
        ];
        for (err, status) in cases {
            assert_eq!(StatusCode::from(&err).as_u16(), status, "{err:?}");
        }
    }
}
