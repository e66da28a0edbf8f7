//! The Prometheus exporter: registers every metric of the contract ([`crate::metrics`])
//! under its contract name, help text, label names and buckets.

use std::fmt;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::{EncodeLabel, EncodeLabelSet, LabelSetEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::metrics::{self as contract, labels};

/// Labels of a finished HTTP request.
#[derive(Debug, Clone, Hash, PartialEq, Eq)]
pub struct RequestLabels {
    /// Route template (`/api/v1/embed`), or `unmatched`.
    pub route: String,
    /// HTTP method.
    pub method: String,
    /// Response status code.
    pub status: u16,
}

/// Labels naming a route.
#[derive(Debug, Clone, Hash, PartialEq, Eq)]
pub struct RouteLabels {
    /// Route template.
    pub route: String,
}

/// Labels naming a model.
#[derive(Debug, Clone, Hash, PartialEq, Eq)]
pub struct ModelLabels {
    /// Model id.
    pub model: String,
}

/// Labels of the build-info gauge.
#[derive(Debug, Clone, Hash, PartialEq, Eq)]
pub struct BuildLabels {
    /// The server's version.
    pub version: &'static str,
    /// The kernels' vector instructions ([`super::simd::instructions`]).
    pub simd: &'static str,
}

// Written by hand rather than derived so the label names are the contract's constants:
// renaming one there renames it here.
impl EncodeLabelSet for RequestLabels {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> Result<(), fmt::Error> {
        (labels::ROUTE, self.route.as_str()).encode(encoder.encode_label())?;
        (labels::METHOD, self.method.as_str()).encode(encoder.encode_label())?;
        (labels::STATUS, self.status).encode(encoder.encode_label())
    }
}

impl EncodeLabelSet for RouteLabels {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> Result<(), fmt::Error> {
        (labels::ROUTE, self.route.as_str()).encode(encoder.encode_label())
    }
}

impl EncodeLabelSet for BuildLabels {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> Result<(), fmt::Error> {
        (labels::VERSION, self.version).encode(encoder.encode_label())?;
        (labels::SIMD, self.simd).encode(encoder.encode_label())
    }
}

impl EncodeLabelSet for ModelLabels {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> Result<(), fmt::Error> {
        (labels::MODEL, self.model.as_str()).encode(encoder.encode_label())
    }
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
    /// Model loads that failed while serving.
    pub model_load_failures: Family<ModelLabels, Counter>,
    /// 1 when `/health/ready` answers 200.
    pub ready: Gauge,
    /// 1, labelled with the version and the kernels' instructions.
    pub build_info: Family<BuildLabels, Gauge>,
}

fn histogram(def: &contract::Histogram) -> Histogram {
    Histogram::new(def.buckets.iter().copied())
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric of the contract.
    #[must_use]
    pub fn new() -> Self {
        let metrics = Metrics {
            registry: Registry::default(),
            requests: Family::default(),
            request_duration: HistogramFamily::new_with_constructor(|| {
                histogram(&contract::HTTP_REQUEST_DURATION)
            }),
            queue_wait: HistogramFamily::new_with_constructor(|| histogram(&contract::QUEUE_WAIT)),
            batch_size: HistogramFamily::new_with_constructor(|| histogram(&contract::BATCH_SIZE)),
            batch_tokens: HistogramFamily::new_with_constructor(|| {
                histogram(&contract::BATCH_TOKENS)
            }),
            batch_duration: HistogramFamily::new_with_constructor(|| {
                histogram(&contract::BATCH_DURATION)
            }),
            inflight: Gauge::default(),
            rejected: Counter::default(),
            texts: Family::default(),
            tokens: Family::default(),
            model_load_seconds: Family::default(),
            model_load_failures: Family::default(),
            ready: Gauge::default(),
            build_info: Family::default(),
        };
        metrics.build_info.get_or_create(&Self::build()).set(1);
        // The known models' failure series exist from the start, so an alert on their
        // increase fires on the first failure; other models' appear with it.
        for id in crate::KnownModel::ALL {
            metrics
                .model_load_failures
                .get_or_create(&Self::model(&id.id()))
                .inc_by(0);
        }
        metrics.registered()
    }

    /// Registers each metric under its contract name and help, in the contract's order.
    fn registered(mut self) -> Self {
        use contract::*;
        let r = &mut self.registry;
        r.register(
            HTTP_REQUESTS.name,
            HTTP_REQUESTS.help,
            self.requests.clone(),
        );
        r.register(
            HTTP_REQUEST_DURATION.name,
            HTTP_REQUEST_DURATION.help,
            self.request_duration.clone(),
        );
        r.register(QUEUE_WAIT.name, QUEUE_WAIT.help, self.queue_wait.clone());
        r.register(BATCH_SIZE.name, BATCH_SIZE.help, self.batch_size.clone());
        r.register(
            BATCH_TOKENS.name,
            BATCH_TOKENS.help,
            self.batch_tokens.clone(),
        );
        r.register(
            BATCH_DURATION.name,
            BATCH_DURATION.help,
            self.batch_duration.clone(),
        );
        r.register(
            INFLIGHT_REQUESTS.name,
            INFLIGHT_REQUESTS.help,
            self.inflight.clone(),
        );
        r.register(
            QUEUE_REJECTED.name,
            QUEUE_REJECTED.help,
            self.rejected.clone(),
        );
        r.register(EMBEDDED_TEXTS.name, EMBEDDED_TEXTS.help, self.texts.clone());
        r.register(
            EMBEDDED_TOKENS.name,
            EMBEDDED_TOKENS.help,
            self.tokens.clone(),
        );
        r.register(
            MODEL_LOAD_SECONDS.name,
            MODEL_LOAD_SECONDS.help,
            self.model_load_seconds.clone(),
        );
        r.register(
            MODEL_LOAD_FAILURES.name,
            MODEL_LOAD_FAILURES.help,
            self.model_load_failures.clone(),
        );
        r.register(READY.name, READY.help, self.ready.clone());
        r.register(BUILD_INFO.name, BUILD_INFO.help, self.build_info.clone());
        self
    }

    /// This server's build-info labels.
    #[must_use]
    pub fn build() -> BuildLabels {
        BuildLabels {
            version: env!("CARGO_PKG_VERSION"),
            simd: super::simd::instructions(),
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
    pub fn model(model: &crate::ModelId) -> ModelLabels {
        ModelLabels {
            model: model.as_str().to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_writes_samples_under_the_contract_names() {
        let m = Metrics::new();
        m.requests
            .get_or_create(&RequestLabels {
                route: "/api/v1/embed".into(),
                method: "POST".into(),
                status: 200,
            })
            .inc();
        m.batch_size
            .get_or_create(&Metrics::model(&crate::KnownModel::AllMiniLmL6V2.id()))
            .observe(3.0);
        let text = m.render();
        let requests = contract::HTTP_REQUESTS.total();
        let failures = contract::MODEL_LOAD_FAILURES.total();
        let (route, method, status) = (labels::ROUTE, labels::METHOD, labels::STATUS);
        let (model, le) = (labels::MODEL, labels::LE);
        for line in [
            format!(r#"{requests}{{{route}="/api/v1/embed",{method}="POST",{status}="200"}} 1"#),
            format!(
                r#"{}{{{le}="4.0",{model}="all-MiniLM-L6-v2"}} 1"#,
                contract::BATCH_SIZE.bucket()
            ),
            format!(r#"{failures}{{{model}="e5-small-v2"}} 0"#),
            format!(
                r#"{}{{{}="{}",{}="{}"}} 1"#,
                contract::BUILD_INFO.series(),
                labels::VERSION,
                env!("CARGO_PKG_VERSION"),
                labels::SIMD,
                crate::server::simd::instructions(),
            ),
        ] {
            assert!(text.contains(&line), "missing {line} in\n{text}");
        }
    }

    #[test]
    fn the_type_and_help_lines_are_the_contracts_in_its_order() {
        // A labelled family without a child exports nothing: give each one a child.
        let m = Metrics::new();
        let model = Metrics::model(&crate::KnownModel::AllMiniLmL6V2.id());
        let route = RouteLabels { route: "/".into() };
        m.requests
            .get_or_create(&RequestLabels {
                route: "/".into(),
                method: "GET".into(),
                status: 200,
            })
            .inc();
        m.request_duration.get_or_create(&route).observe(0.1);
        for h in [
            &m.queue_wait,
            &m.batch_size,
            &m.batch_tokens,
            &m.batch_duration,
        ] {
            h.get_or_create(&model).observe(1.0);
        }
        m.texts.get_or_create(&model).inc();
        m.tokens.get_or_create(&model).inc();
        m.model_load_seconds.get_or_create(&model).set(1.0);
        let text = m.render();
        let exported: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("# TYPE ") || l.starts_with("# HELP "))
            .collect();
        let expected: Vec<String> = contract::ALL
            .iter()
            .flat_map(|m| {
                [
                    format!("# HELP {} {}.", m.name(), m.help()),
                    format!("# TYPE {} {}", m.name(), m.type_name()),
                ]
            })
            .collect();
        assert_eq!(exported, expected, "{text}");
    }
}
