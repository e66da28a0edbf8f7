//! The JSON request body shared by every front end, with the protocol's error type as
//! its rejection: `JsonBody<T, TeiError>` answers a bad body the way TEI does.

use std::marker::PhantomData;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use serde::de::DeserializeOwned;

use super::error::ApiError;
use super::state::AppState;

/// Why a body was refused before any handler saw it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum BodyError {
    /// No `Content-Type: application/json`.
    #[error("the body must be JSON with `Content-Type: application/json`")]
    NotJson,
    /// Declared or found larger than `server.body_limit_bytes`.
    #[error("the body is larger than server.body_limit_bytes ({limit} bytes)")]
    TooLarge {
        /// The limit.
        limit: u64,
    },
    /// The body could not be read off the connection.
    #[error("failed to read the body: {0}")]
    Unreadable(String),
    /// Not JSON, or not the JSON the route takes.
    #[error("invalid JSON body: {0}")]
    Invalid(String),
}

/// A JSON body: refused unless declared JSON, at once when its declared length is over
/// the limit (without waiting for it), and when it does not parse into `T`. `E` is the
/// front end's error type.
pub struct JsonBody<T, E = ApiError>(pub T, pub PhantomData<E>);

fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// The declared `Content-Length`, when there is a readable one.
fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

impl<T, E> FromRequest<AppState> for JsonBody<T, E>
where
    T: DeserializeOwned,
    E: From<BodyError> + IntoResponse,
{
    type Rejection = E;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, E> {
        let limit = state.config.server.body_limit_bytes;
        if !is_json(req.headers()) {
            return Err(BodyError::NotJson.into());
        }
        // A client announcing a body over the limit hears so before it sends a byte of it.
        if declared_length(req.headers()).is_some_and(|n| n > limit) {
            return Err(BodyError::TooLarge { limit }.into());
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|r| {
            if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
                BodyError::TooLarge { limit }
            } else {
                BodyError::Unreadable(r.body_text())
            }
        })?;
        serde_json::from_slice(&bytes)
            .map(|v| JsonBody(v, PhantomData))
            .map_err(|e| BodyError::Invalid(e.to_string()).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_that_count_as_json() {
        let mut h = HeaderMap::new();
        assert!(!is_json(&h));
        for (v, ok) in [
            ("application/json", true),
            ("application/json; charset=utf-8", true),
            ("Application/JSON", true),
            ("application/vnd.api+json", true),
            ("text/plain", false),
            ("application/x-www-form-urlencoded", false),
        ] {
            h.insert(header::CONTENT_TYPE, v.parse().unwrap());
            assert_eq!(is_json(&h), ok, "{v}");
        }
    }

    #[test]
    fn declared_length_reads_only_a_number() {
        let mut h = HeaderMap::new();
        assert_eq!(declared_length(&h), None);
        h.insert(header::CONTENT_LENGTH, "67108864".parse().unwrap());
        assert_eq!(declared_length(&h), Some(64 << 20));
        h.insert(header::CONTENT_LENGTH, "lots".parse().unwrap());
        assert_eq!(declared_length(&h), None);
    }
}
