//! The HTTP layer: routes, request and response shapes. It exchanges token ids and
//! `Vec<f32>` with the queue and never touches a tensor.

use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{FromRequest, MatchedPath, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::metrics::{Metrics, RequestLabels, RouteLabels};
use super::model::TokenizeError;
use super::pooling::l2_normalize;
use super::state::AppState;
use crate::{ModelId, routes};

/// The API router (health, info, embeddings), with `/metrics` when `with_metrics`.
pub fn router(state: AppState, with_metrics: bool) -> Router {
    let limit = usize::try_from(state.config.server.body_limit_bytes).unwrap_or(usize::MAX);
    let mut app = Router::new()
        .route(routes::EMBED, post(embed))
        .route(routes::OPENAI_EMBEDDINGS, post(openai_embeddings))
        .route(routes::HEALTH_LIVE, get(live))
        .route(routes::HEALTH_STARTUP, get(startup))
        .route(routes::HEALTH_READY, get(ready))
        .route(routes::INFO, get(info));
    if with_metrics {
        app = app.route(routes::METRICS, get(metrics));
    }
    app.fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
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
struct EmbedRequest {
    texts: Vec<String>,
    model: Option<String>,
    input_type: Option<InputType>,
    normalize: Option<bool>,
    truncate: Option<bool>,
}

#[derive(Serialize)]
struct EmbedResponse {
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

async fn embed(
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
struct OpenAiRequest {
    input: serde_json::Value,
    model: Option<String>,
    /// An extension to the OpenAI shape: the e5 prefix, as in the native endpoint.
    input_type: Option<InputType>,
    encoding_format: Option<EncodingFormat>,
    dimensions: Option<usize>,
}

#[derive(Serialize)]
struct OpenAiResponse {
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

async fn openai_embeddings(
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
