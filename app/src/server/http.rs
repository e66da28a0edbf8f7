//! The HTTP layer: the router, request accounting and deadlines, health, `/info`,
//! `/metrics` and `/openapi.json`. The embedding front ends live in [`super::native`],
//! [`super::openai`] and [`super::tei`]; none touches a tensor.

use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

use super::error::ApiError;
use super::metrics::{RequestLabels, RouteLabels};
use super::service::EmbedError;
use super::state::AppState;
use super::{native, openai, openapi, tei};
use crate::{ModelId, routes};

/// The API router (health, info, embeddings), with `/metrics` when `with_metrics`.
pub fn router(state: AppState, with_metrics: bool) -> Router {
    let limit = usize::try_from(state.config.server.body_limit_bytes).unwrap_or(usize::MAX);
    let mut app = Router::new()
        .route(routes::EMBED, post(native::embed))
        .route(routes::OPENAI_EMBEDDINGS, post(openai::embeddings))
        .route(routes::OPENAI_MODELS, get(openai::models))
        .route(routes::OPENAI_MODEL, get(openai::model))
        .route(routes::TEI_EMBED, post(tei::embed))
        .route(routes::TEI_ROOT, post(tei::root))
        .route(routes::TEI_TOKENIZE, post(tei::tokenize))
        .route(routes::OPENAPI, get(openapi_json))
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
        Err(_) => ApiError::Service(EmbedError::Timeout(secs)).into_response(),
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

/// What a probe reports when it passes.
#[derive(Serialize, ToSchema)]
pub struct Status {
    /// `live`, `started` or `ready`.
    #[schema(value_type = String)]
    status: &'static str,
}

/// 200 while the process serves HTTP at all.
#[utoipa::path(get, path = routes::HEALTH_LIVE, tag = "health",
    responses((status = 200, description = "Alive", body = Status)))]
pub(super) async fn live() -> Json<Status> {
    Json(Status { status: "live" })
}

/// 200 once every preloaded model is loaded; stays 200 while draining.
#[utoipa::path(get, path = routes::HEALTH_STARTUP, tag = "health",
    responses((status = 200, description = "Started", body = Status), ApiError))]
pub(super) async fn startup(State(state): State<AppState>) -> Result<Json<Status>, ApiError> {
    if state.is_started() {
        Ok(Json(Status { status: "started" }))
    } else {
        Err(ApiError::Service(EmbedError::NotReady(
            "loading models".into(),
        )))
    }
}

/// 200 when every preloaded model is loaded and the server is not draining.
#[utoipa::path(get, path = routes::HEALTH_READY, tag = "health",
    responses((status = 200, description = "Ready", body = Status), ApiError))]
pub(super) async fn ready(State(state): State<AppState>) -> Result<Json<Status>, ApiError> {
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

/// The OpenAPI document of this server.
async fn openapi_json() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        openapi::json(),
    )
        .into_response()
}

/// The `query` and `passage` prompts, as `/info` has always shown e5's prefixes.
fn prefixes(info: &super::model::ModelInfo) -> Option<serde_json::Value> {
    let query = info.prompt("query")?;
    let passage = info.prompt("passage")?;
    Some(serde_json::json!({ "query": query, "passage": passage }))
}

/// Models, dimensions, token and batching limits, version.
#[utoipa::path(get, path = routes::INFO, tag = "health",
    responses((status = 200, description = "Facts about the server", body = Object)))]
pub(super) async fn info(State(state): State<AppState>) -> Json<serde_json::Value> {
    let e = &state.config.embedding;
    let folders = state.model_folders();
    let mut others: Vec<ModelId> = state.loaded_ids();
    others.extend(folders.iter().cloned());
    others.extend(e.models.keys().cloned());
    others.extend(crate::KnownModel::ALL.map(crate::KnownModel::id));
    others.sort();
    others.dedup();
    others.retain(|id| !e.preload_models.contains(id));
    let models: Vec<serde_json::Value> = e
        .preload_models
        .iter()
        .chain(&others)
        .map(|id| match state.model(id) {
            Some(m) => serde_json::json!({
                "id": id,
                "loaded": true,
                "preloaded": e.preload_models.contains(id),
                "architecture": m.info.architecture,
                "dimensions": m.info.dimensions,
                "max_tokens": m.info.max_tokens,
                "layers": m.info.layers,
                "pooling": m.info.pooling,
                "normalize": m.info.normalize,
                "prompts": m.info.prompts,
                "default_prompt": m.info.default_prompt,
                "prefixes": prefixes(&m.info),
                "matryoshka_dimensions": m.info.matryoshka_dimensions,
                "load_seconds": m.info.load_seconds,
            }),
            None => {
                let known = id.known();
                serde_json::json!({
                    "id": id,
                    "loaded": false,
                    "preloaded": e.preload_models.contains(id),
                    "available": folders.contains(id),
                    "dimensions": known.map(crate::KnownModel::dimensions),
                    "max_tokens": state.config.model_facts(id).map(|f| f.max_tokens),
                    "layers": known.map(crate::KnownModel::layers),
                })
            }
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
