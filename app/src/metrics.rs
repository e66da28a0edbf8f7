//! Every metric the server exports: full name, type, help, label names and buckets.
//!
//! The exporter (`server::metrics`) registers exactly these, and the manifest generator
//! builds its alert rules, recording rules and dashboard from them, so a renamed metric
//! is renamed on the server and in every query together.
//!
//! Names here are the OpenMetrics *family* names, as in the exposition's `# TYPE` line.
//! A query selects samples, whose names differ by type: a counter's sample is
//! `<name>_total` ([`Counter::total`]), a histogram's are `<name>_bucket` (with the `le`
//! label), `<name>_sum` and `<name>_count` ([`Histogram::bucket`], ...), a gauge's is its
//! family name ([`Gauge::series`]).

/// Label names the server's metrics carry.
pub mod labels {
    /// Route template (`/api/v1/embed`), or [`super::UNMATCHED_ROUTE`].
    pub const ROUTE: &str = "route";
    /// HTTP method.
    pub const METHOD: &str = "method";
    /// HTTP status code of the response, e.g. `200`.
    pub const STATUS: &str = "status";
    /// Model id, e.g. `all-MiniLM-L6-v2`.
    pub const MODEL: &str = "model";
    /// Histogram bucket upper bound, on `_bucket` samples only.
    pub const LE: &str = "le";
    /// The server's version, e.g. `0.1.0`.
    pub const VERSION: &str = "version";
    /// The vector instructions the server's kernels chose for this CPU: `AVX-512`,
    /// `AVX2+FMA`, `SSE2`, `NEON` or `scalar`.
    pub const SIMD: &str = "simd";
}

/// The `route` of a request that matched no route.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// Routes whose requests compute embeddings: the latency and error objectives cover
/// these, not the probes, `/info`, `/tokenize` or `/metrics`. Every protocol's embedding
/// route is here: native, OpenAI and TEI (whose root route `/` embeds too).
pub const EMBEDDING_ROUTES: &[&str] = &[
    crate::routes::EMBED,
    crate::routes::OPENAI_EMBEDDINGS,
    crate::routes::TEI_EMBED,
    crate::routes::TEI_ROOT,
];

/// A monotonically increasing count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counter {
    /// Family name, without the `_total` suffix of its sample.
    pub name: &'static str,
    /// `# HELP` text.
    pub help: &'static str,
    /// Label names, in exposition order.
    pub labels: &'static [&'static str],
}

impl Counter {
    /// The sample name a query selects: `<name>_total`.
    #[must_use]
    pub fn total(&self) -> String {
        format!("{}_total", self.name)
    }
}

/// A value that goes up and down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gauge {
    /// Family name, which is also the sample name.
    pub name: &'static str,
    /// `# HELP` text.
    pub help: &'static str,
    /// Label names, in exposition order.
    pub labels: &'static [&'static str],
}

impl Gauge {
    /// The sample name a query selects: the family name itself.
    #[must_use]
    pub const fn series(&self) -> &'static str {
        self.name
    }
}

/// Observations counted into fixed buckets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Histogram {
    /// Family name.
    pub name: &'static str,
    /// `# HELP` text.
    pub help: &'static str,
    /// Label names, in exposition order (`le` comes on top, on bucket samples).
    pub labels: &'static [&'static str],
    /// Upper bounds of the finite buckets, ascending; `+Inf` is implicit.
    pub buckets: &'static [f64],
}

impl Histogram {
    /// Cumulative bucket counts, with the `le` label: what `histogram_quantile` reads.
    #[must_use]
    pub fn bucket(&self) -> String {
        format!("{}_bucket", self.name)
    }

    /// Sum of all observations.
    #[must_use]
    pub fn sum(&self) -> String {
        format!("{}_sum", self.name)
    }

    /// Number of observations.
    #[must_use]
    pub fn count(&self) -> String {
        format!("{}_count", self.name)
    }

    /// The largest finite bucket bound: a quantile above it cannot be told apart.
    #[must_use]
    pub fn largest_bucket(&self) -> f64 {
        self.buckets.last().copied().unwrap_or(f64::INFINITY)
    }
}

/// Any one of the metric kinds, for code that walks them all.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Metric {
    /// See [`Counter`].
    Counter(&'static Counter),
    /// See [`Gauge`].
    Gauge(&'static Gauge),
    /// See [`Histogram`].
    Histogram(&'static Histogram),
}

impl Metric {
    /// Family name.
    #[must_use]
    pub const fn name(&self) -> &'static str {
        match self {
            Metric::Counter(m) => m.name,
            Metric::Gauge(m) => m.name,
            Metric::Histogram(m) => m.name,
        }
    }

    /// The type as the exposition's `# TYPE` line writes it.
    #[must_use]
    pub const fn type_name(&self) -> &'static str {
        match self {
            Metric::Counter(_) => "counter",
            Metric::Gauge(_) => "gauge",
            Metric::Histogram(_) => "histogram",
        }
    }

    /// `# HELP` text.
    #[must_use]
    pub const fn help(&self) -> &'static str {
        match self {
            Metric::Counter(m) => m.help,
            Metric::Gauge(m) => m.help,
            Metric::Histogram(m) => m.help,
        }
    }

    /// Label names (without a histogram's `le`).
    #[must_use]
    pub const fn labels(&self) -> &'static [&'static str] {
        match self {
            Metric::Counter(m) => m.labels,
            Metric::Gauge(m) => m.labels,
            Metric::Histogram(m) => m.labels,
        }
    }

    /// Every sample name this family exposes.
    #[must_use]
    pub fn sample_names(&self) -> Vec<String> {
        match self {
            Metric::Counter(m) => vec![m.total()],
            Metric::Gauge(m) => vec![m.series().to_owned()],
            Metric::Histogram(m) => vec![m.bucket(), m.sum(), m.count()],
        }
    }
}

// Why these buckets: request and pass latencies span a 1 ms probe to a 30 s request of
// 128 long texts; batch sizes and token counts grow in powers of two up to the batcher's
// limits (`embedding.max_batch_tokens` is at most 32768).
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
const SIZE_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];
const TOKEN_BUCKETS: &[f64] = &[
    16.0, 64.0, 256.0, 512.0, 1024.0, 2048.0, 4096.0, 8192.0, 16384.0, 32768.0,
];

/// HTTP requests by route, method and status.
pub const HTTP_REQUESTS: Counter = Counter {
    name: "akidb_http_requests",
    help: "HTTP requests by route, method and status",
    labels: &[labels::ROUTE, labels::METHOD, labels::STATUS],
};

/// HTTP request latency by route, seconds.
pub const HTTP_REQUEST_DURATION: Histogram = Histogram {
    name: "akidb_http_request_duration_seconds",
    help: "HTTP request latency by route",
    labels: &[labels::ROUTE],
    buckets: LATENCY_BUCKETS,
};

/// Time a request waited in the queue before its batch started, seconds.
pub const QUEUE_WAIT: Histogram = Histogram {
    name: "akidb_queue_wait_seconds",
    help: "Time an embedding request waited before its batch started",
    labels: &[labels::MODEL],
    buckets: LATENCY_BUCKETS,
};

/// Sequences per forward pass.
pub const BATCH_SIZE: Histogram = Histogram {
    name: "akidb_batch_size",
    help: "Sequences per forward pass",
    labels: &[labels::MODEL],
    buckets: SIZE_BUCKETS,
};

/// Tokens per forward pass.
pub const BATCH_TOKENS: Histogram = Histogram {
    name: "akidb_batch_tokens",
    help: "Tokens per forward pass",
    labels: &[labels::MODEL],
    buckets: TOKEN_BUCKETS,
};

/// Forward pass duration, seconds.
pub const BATCH_DURATION: Histogram = Histogram {
    name: "akidb_batch_duration_seconds",
    help: "Forward pass duration",
    labels: &[labels::MODEL],
    buckets: LATENCY_BUCKETS,
};

/// Embedding requests admitted and not yet answered (queued or computing): the queue depth.
pub const INFLIGHT_REQUESTS: Gauge = Gauge {
    name: "akidb_inflight_requests",
    help: "Embedding requests admitted and not yet answered",
    labels: &[],
};

/// Requests refused with 429 because every queue slot was taken.
pub const QUEUE_REJECTED: Counter = Counter {
    name: "akidb_queue_rejected",
    help: "Embedding requests refused because the queue was full",
    labels: &[],
};

/// Texts embedded.
pub const EMBEDDED_TEXTS: Counter = Counter {
    name: "akidb_embedded_texts",
    help: "Texts embedded",
    labels: &[labels::MODEL],
};

/// Tokens embedded, before padding.
pub const EMBEDDED_TOKENS: Counter = Counter {
    name: "akidb_embedded_tokens",
    help: "Tokens embedded, before padding",
    labels: &[labels::MODEL],
};

/// Seconds each loaded model took to load.
pub const MODEL_LOAD_SECONDS: Gauge = Gauge {
    name: "akidb_model_load_seconds",
    help: "Seconds each model took to load",
    labels: &[labels::MODEL],
};

/// Model loads that failed while serving (on demand). Every supported model starts at 0,
/// so the first failure is an increase a query can see. A preloaded model that fails
/// stops the process instead (exit 1), which shows as a restart.
pub const MODEL_LOAD_FAILURES: Counter = Counter {
    name: "akidb_model_load_failures",
    help: "Model loads that failed while serving",
    labels: &[labels::MODEL],
};

/// 1 when `/health/ready` answers 200.
pub const READY: Gauge = Gauge {
    name: "akidb_ready",
    help: "1 when the server is ready",
    labels: &[],
};

/// Always 1, with labels saying what runs: the server's version and the vector
/// instructions its kernels chose for the node's CPU when it started. Pods of one
/// Deployment can land on CPUs of different generations; this tells a slow pod on an
/// older CPU from a slow pod with a problem (`count by (simd) (akidb_build_info)`).
pub const BUILD_INFO: Gauge = Gauge {
    name: "akidb_build_info",
    help: "Always 1; the server's version and the vector instructions its kernels use",
    labels: &[labels::VERSION, labels::SIMD],
};

/// Every metric the server exports, in exposition order.
pub const ALL: [Metric; 14] = [
    Metric::Counter(&HTTP_REQUESTS),
    Metric::Histogram(&HTTP_REQUEST_DURATION),
    Metric::Histogram(&QUEUE_WAIT),
    Metric::Histogram(&BATCH_SIZE),
    Metric::Histogram(&BATCH_TOKENS),
    Metric::Histogram(&BATCH_DURATION),
    Metric::Gauge(&INFLIGHT_REQUESTS),
    Metric::Counter(&QUEUE_REJECTED),
    Metric::Counter(&EMBEDDED_TEXTS),
    Metric::Counter(&EMBEDDED_TOKENS),
    Metric::Gauge(&MODEL_LOAD_SECONDS),
    Metric::Counter(&MODEL_LOAD_FAILURES),
    Metric::Gauge(&READY),
    Metric::Gauge(&BUILD_INFO),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_prefixed_and_valid_prometheus_names() {
        let mut names: Vec<&str> = ALL.iter().map(Metric::name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ALL.len(), "duplicate metric names");
        for m in ALL {
            let n = m.name();
            assert!(n.starts_with("akidb_"), "{n}");
            assert!(
                n.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                "{n}"
            );
            // prometheus-client appends `_total` itself; a name ending in it would double it.
            assert!(!n.ends_with("_total"), "{n}");
            assert!(!m.labels().contains(&labels::LE), "{n}");
        }
    }

    #[test]
    fn histogram_buckets_ascend() {
        for m in ALL {
            if let Metric::Histogram(h) = m {
                assert!(!h.buckets.is_empty(), "{}", h.name);
                assert!(h.buckets.windows(2).all(|w| w[0] < w[1]), "{}", h.name);
            }
        }
    }

    #[test]
    fn sample_names_follow_the_type() {
        let c = &HTTP_REQUESTS;
        assert_eq!(c.total(), format!("{}_total", c.name));
        let h = &BATCH_SIZE;
        assert_eq!(
            Metric::Histogram(h).sample_names(),
            [
                format!("{}_bucket", h.name),
                format!("{}_sum", h.name),
                format!("{}_count", h.name)
            ]
        );
        assert_eq!(READY.series(), READY.name);
    }
}
