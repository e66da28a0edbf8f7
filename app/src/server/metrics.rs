//! Prometheus metrics, prefixed `akidb_`, with explicit buckets per kind.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Labels of a finished HTTP request.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// Route template (`/api/v1/embed`), or `unmatched`.
    pub route: String,
    /// HTTP method.
    pub method: String,
    /// Response status code.
    pub status: u16,
}

/// Labels naming a route.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    /// Route template.
    pub route: String,
}

/// Labels naming a model.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ModelLabels {
    /// Model id.
    pub model: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// Every metric the server exports.
pub struct Metrics {
    registry: Registry,
    /// Requests by route, method and status.
    pub requests: Family<RequestLabels, Counter>,
    /// Request latency by route, seconds.
    pub request_duration: HistogramFamily<RouteLabels>,
    /// Time a request waited in the queue before its batch started, seconds.
    pub queue_wait: HistogramFamily<ModelLabels>,
    /// Sequences per forward pass.
    pub batch_size: HistogramFamily<ModelLabels>,
    /// Tokens per forward pass.
    pub batch_tokens: HistogramFamily<ModelLabels>,
    /// Forward pass duration, seconds.
    pub batch_duration: HistogramFamily<ModelLabels>,
    /// Embedding requests admitted and not yet answered (queued or computing).
    pub inflight: Gauge,
    /// Requests refused with 429.
    pub rejected: Counter,
    /// Texts embedded.
    pub texts: Family<ModelLabels, Counter>,
    /// Tokens embedded (before padding).
    pub tokens: Family<ModelLabels, Counter>,
    /// Seconds each model took to load.
    pub model_load_seconds: Family<ModelLabels, Gauge<f64, AtomicU64>>,
    /// 1 when `/health/ready` answers 200.
    pub ready: Gauge,
}

fn latency() -> Histogram {
    Histogram::new([
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    ])
}

fn sizes() -> Histogram {
    Histogram::new([1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0])
}

fn tokens() -> Histogram {
    Histogram::new([
        16.0, 64.0, 256.0, 512.0, 1024.0, 2048.0, 4096.0, 8192.0, 16384.0, 32768.0,
    ])
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric.
    #[must_use]
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("akidb");
        let requests = Family::<RequestLabels, Counter>::default();
        let request_duration = HistogramFamily::<RouteLabels>::new_with_constructor(latency);
        let queue_wait = HistogramFamily::<ModelLabels>::new_with_constructor(latency);
        let batch_size = HistogramFamily::<ModelLabels>::new_with_constructor(sizes);
        let batch_tokens = HistogramFamily::<ModelLabels>::new_with_constructor(tokens);
        let batch_duration = HistogramFamily::<ModelLabels>::new_with_constructor(latency);
        let inflight = Gauge::default();
        let rejected = Counter::default();
        let texts = Family::<ModelLabels, Counter>::default();
        let tokens_total = Family::<ModelLabels, Counter>::default();
        let model_load_seconds = Family::<ModelLabels, Gauge<f64, AtomicU64>>::default();
        let ready = Gauge::default();
        registry.register(
            "http_requests",
            "HTTP requests by route, method and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route",
            request_duration.clone(),
        );
        registry.register(
            "queue_wait_seconds",
            "Time an embedding request waited before its batch started",
            queue_wait.clone(),
        );
        registry.register(
            "batch_size",
            "Sequences per forward pass",
            batch_size.clone(),
        );
        registry.register(
            "batch_tokens",
            "Tokens per forward pass",
            batch_tokens.clone(),
        );
        registry.register(
            "batch_duration_seconds",
            "Forward pass duration",
            batch_duration.clone(),
        );
        registry.register(
            "inflight_requests",
            "Embedding requests admitted and not yet answered",
            inflight.clone(),
        );
        registry.register(
            "queue_rejected",
            "Embedding requests refused because the queue was full",
            rejected.clone(),
        );
        registry.register("embedded_texts", "Texts embedded", texts.clone());
        registry.register(
            "embedded_tokens",
            "Tokens embedded, before padding",
            tokens_total.clone(),
        );
        registry.register(
            "model_load_seconds",
            "Seconds each model took to load",
            model_load_seconds.clone(),
        );
        registry.register("ready", "1 when the server is ready", ready.clone());
        Metrics {
            registry,
            requests,
            request_duration,
            queue_wait,
            batch_size,
            batch_tokens,
            batch_duration,
            inflight,
            rejected,
            texts,
            tokens: tokens_total,
            model_load_seconds,
            ready,
        }
    }

    /// The Prometheus text exposition of every metric.
    #[must_use]
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// Labels for `model`.
    #[must_use]
    pub fn model(model: crate::ModelId) -> ModelLabels {
        ModelLabels {
            model: model.as_str().to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_names_every_metric_with_the_prefix() {
        let m = Metrics::new();
        m.requests
            .get_or_create(&RequestLabels {
                route: "/api/v1/embed".into(),
                method: "POST".into(),
                status: 200,
            })
            .inc();
        m.batch_size
            .get_or_create(&Metrics::model(crate::ModelId::AllMiniLmL6V2))
            .observe(3.0);
        let text = m.render();
        assert!(
            text.contains(
                r#"akidb_http_requests_total{route="/api/v1/embed",method="POST",status="200"} 1"#
            ),
            "{text}"
        );
        assert!(text.contains("akidb_batch_size_bucket"), "{text}");
        assert!(text.contains("# TYPE akidb_ready gauge"), "{text}");
    }
}
