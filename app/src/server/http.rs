//! The HTTP layer: the router, request accounting and deadlines, health, `/info`,
//! `/metrics` and the JSON body extractor. The embedding handlers live in
//! [`super::embed`]; neither touches a tensor.

use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{FromRequest, MatchedPath, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::embed;
use super::error::ApiError;
use super::metrics::{RequestLabels, RouteLabels};
use super::state::AppState;
use crate::{ModelId, routes};

/// The API router (health, info, embeddings), with `/metrics` when `with_metrics`.
pub fn router(state: AppState, with_metrics: bool) -> Router {
    let limit = usize::try_from(state.config.server.body_limit_bytes).unwrap_or(usize::MAX);
    let mut app = Router::new()
        .route(routes::EMBED, post(embed::embed))
        .route(routes::OPENAI_EMBEDDINGS, post(embed::openai_embeddings))
        .route(routes::HEALTH_LIVE, get(live))
        .route(routes::HEALTH_STARTUP, get(startup))
        .route(routes::HEALTH_READY, get(ready))
        .route(routes::INFO, get(info));
    if with_metrics {
        app = app.route(routes::METRICS, get(metrics));
    }
    app.fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            super::auth::require_key,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), deadline))
        .layer(middleware::from_fn_with_state(state.clone(), track))
        .layer(axum::extract::DefaultBodyLimit::max(limit))
        .with_state(state)
}

/// A router serving only `/metrics`, for the separate metrics listener.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route(routes::METRICS, get(metrics))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = req.method().to_string();
    let started = Instant::now();
    let response = next.run(req).await;
    tracing::debug!(
        method = %method,
        route = %route,
        status = response.status().as_u16(),
        ms = started.elapsed().as_secs_f64() * 1e3,
        "request"
    );
    state
        .metrics
        .request_duration
        .get_or_create(&RouteLabels {
            route: route.clone(),
        })
        .observe(started.elapsed().as_secs_f64());
    state
        .metrics
        .requests
        .get_or_create(&RequestLabels {
            route,
            method,
            status: response.status().as_u16(),
        })
        .inc();
    response
}

/// Bounds a whole request, body upload included, by `server.request_timeout_secs`: a
/// client that never finishes its body cannot hold a connection (or the drain) forever.
async fn deadline(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let secs = state.config.server.request_timeout_secs;
    match tokio::time::timeout(Duration::from_secs(u64::from(secs)), next.run(req)).await {
        Ok(response) => response,
        Err(_) => ApiError::Timeout(secs).into_response(),
    }
}

async fn not_found(uri: Uri) -> ApiError {
    ApiError::RouteNotFound(uri.path().to_owned())
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::MethodNotAllowed {
        method: method.to_string(),
        path: uri.path().to_owned(),
    }
}

#[derive(Serialize)]
struct Status {
    status: &'static str,
}

async fn live() -> Json<Status> {
    Json(Status { status: "live" })
}

async fn startup(State(state): State<AppState>) -> Result<Json<Status>, ApiError> {
    if state.is_started() {
        Ok(Json(Status { status: "started" }))
    } else {
        Err(ApiError::NotReady("loading models".into()))
    }
}

async fn ready(State(state): State<AppState>) -> Result<Json<Status>, ApiError> {
    state.readiness()?;
    Ok(Json(Status { status: "ready" }))
}

async fn metrics(State(state): State<AppState>) -> Response {
    if !state.config.observability.metrics_enabled {
        return ApiError::RouteNotFound(routes::METRICS.into()).into_response();
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

async fn info(State(state): State<AppState>) -> Json<serde_json::Value> {
    let e = &state.config.embedding;
    let models: Vec<serde_json::Value> = ModelId::ALL
        .iter()
        .map(|id| match state.model(*id) {
            Some(m) => serde_json::json!({
                "id": id,
                "loaded": true,
                "preloaded": e.preload_models.contains(id),
                "dimensions": m.info.dimensions,
                "max_tokens": m.info.max_tokens,
                "layers": m.info.layers,
                "pooling": m.info.pooling,
                "prefixes": m.info.prefixes,
                "load_seconds": m.info.load_seconds,
            }),
            None => serde_json::json!({
                "id": id,
                "loaded": false,
                "preloaded": e.preload_models.contains(id),
                "dimensions": id.dimensions(),
                "max_tokens": id.max_tokens(),
                "layers": id.layers(),
            }),
        })
        .collect();
    Json(serde_json::json!({
        "version": env!("CARGO_PKG_VERSION"),
        "default_model": state.config.default_model(),
        "ready": state.readiness().is_ok(),
        "models": models,
        "batching": {
            "max_batch_tokens": e.max_batch_tokens,
            "max_texts_per_request": e.max_texts_per_request,
            "max_queued_requests": e.max_queued_requests,
            "max_models": e.max_models,
            "truncate": e.truncate,
        },
        "limits": {
            "body_limit_bytes": state.config.server.body_limit_bytes,
            "request_timeout_secs": state.config.server.request_timeout_secs,
        },
        "compute_threads": state.threads,
    }))
}

/// A JSON body: 415 unless declared JSON, 413 over the body limit, 400 when it does not
/// parse into `T`.
pub struct JsonBody<T>(pub T);

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

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        if !is_json(req.headers()) {
            return Err(ApiError::UnsupportedMediaType(
                "the body must be JSON with `Content-Type: application/json`".into(),
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|r| {
            if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge(format!(
                    "the body is larger than server.body_limit_bytes ({} bytes)",
                    state.config.server.body_limit_bytes
                ))
            } else {
                ApiError::InvalidRequest(format!("failed to read the body: {}", r.body_text()))
            }
        })?;
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| ApiError::InvalidRequest(format!("invalid JSON body: {e}")))
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
}
