//! HTTP routes served by `akidb-embed`. Probes and scrape annotations are built from these.

/// Native embedding endpoint: `POST {"texts": [...]}`.
pub const EMBED: &str = "/api/v1/embed";
/// OpenAI-compatible embedding endpoint: `POST {"input": ..., "model": ...}`.
pub const OPENAI_EMBEDDINGS: &str = "/v1/embeddings";
/// OpenAI-compatible model list: `GET`.
pub const OPENAI_MODELS: &str = "/v1/models";
/// OpenAI-compatible single model: `GET /v1/models/{id}`.
pub const OPENAI_MODEL: &str = "/v1/models/{id}";
/// text-embeddings-inference (TEI) embedding endpoint: `POST {"inputs": ...}`.
pub const TEI_EMBED: &str = "/embed";
/// TEI's root route, where `huggingface_hub`'s `InferenceClient(model=URL)` posts its
/// `feature_extraction` requests; the same as [`TEI_EMBED`].
pub const TEI_ROOT: &str = "/";
/// TEI's tokenizer endpoint: `POST {"inputs": ...}`.
pub const TEI_TOKENIZE: &str = "/tokenize";
/// The OpenAPI 3.1 document of every route above but `/metrics`.
pub const OPENAPI: &str = "/openapi.json";
/// 200 once start-up finished (every preloaded model loaded); stays 200 while draining,
/// so a slow model load never trips the liveness probe and a drain never restarts the pod.
pub const HEALTH_STARTUP: &str = "/health/startup";
/// 200 while the process serves requests at all; a failure means "restart me".
pub const HEALTH_LIVE: &str = "/health/live";
/// 200 only when every preloaded model is loaded and the server is not draining.
pub const HEALTH_READY: &str = "/health/ready";
/// Models, dimensions, token and batching limits, version.
pub const INFO: &str = "/info";
/// Prometheus text exposition, served on the metrics port.
pub const METRICS: &str = "/metrics";

/// Routes that never need an API key: the kubelet's probes carry no credentials, and
/// `/metrics` normally has a port of its own that the Ingress does not expose. Every other
/// route, `/info` and unknown paths included, needs one when `auth.required` is on.
pub const OPEN: [&str; 4] = [HEALTH_STARTUP, HEALTH_LIVE, HEALTH_READY, METRICS];
