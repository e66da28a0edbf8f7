//! The Grafana dashboard: traffic, latency against the objective, batching, queue,
//! throughput, errors, readiness, CPU and memory against requests and limits, and the
//! autoscaler, as Grafana's JSON model; and the ConfigMap the Grafana sidecar imports.

use std::collections::BTreeMap;

use app::metrics::{self, Histogram, labels as server_labels};
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};

use super::kube::{self, labels};
use super::objectives::percentile;
use super::promql::{Selector, any_of, by};
use super::rules::recorded;
use super::{Objectives, Scope};

/// Grafana's own range for `rate()`: at least four scrape intervals, whatever the zoom.
pub const RATE_INTERVAL: &str = "$__rate_interval";
/// The label kube-prometheus-stack's Grafana sidecar imports dashboards by, and its value.
pub const SIDECAR_LABEL: (&str, &str) = ("grafana_dashboard", "1");
/// Name of the dashboard's data source variable.
pub const DATASOURCE_VARIABLE: &str = "datasource";

/// A dashboard in Grafana's JSON model (the fields this generator sets).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Dashboard {
    /// Stable id: re-imports replace the dashboard instead of adding a copy.
    pub uid: String,
    /// Title.
    pub title: String,
    /// Tags.
    pub tags: Vec<String>,
    /// `browser`.
    pub timezone: String,
    /// Version of the JSON model it is written in.
    pub schema_version: u32,
    /// Auto-refresh period.
    pub refresh: String,
    /// Default time range.
    pub time: TimeRange,
    /// Whether users may edit it in Grafana (their edits are lost on the next import).
    pub editable: bool,
    /// 1: a shared crosshair across panels.
    pub graph_tooltip: u8,
    /// Variables: the Prometheus data source.
    pub templating: Templating,
    /// The charts.
    pub panels: Vec<Panel>,
}

/// `time`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeRange {
    /// e.g. `now-6h`.
    pub from: String,
    /// e.g. `now`.
    pub to: String,
}

/// `templating`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Templating {
    /// The variables.
    pub list: Vec<Variable>,
}

/// A data source variable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Variable {
    /// Referenced as `${name}`.
    pub name: String,
    /// Shown above the dashboard.
    pub label: String,
    /// `datasource`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The data source type offered: `prometheus`.
    pub query: String,
}

/// Which data source a panel or query reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataSource {
    /// `prometheus`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `${datasource}`: whatever the variable picks.
    pub uid: String,
}

impl DataSource {
    fn variable() -> DataSource {
        DataSource {
            kind: "prometheus".into(),
            uid: format!("${{{DATASOURCE_VARIABLE}}}"),
        }
    }
}

/// A time series chart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Panel {
    /// Unique in the dashboard.
    pub id: u32,
    /// `timeseries`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Title.
    pub title: String,
    /// Hover text: what the chart shows and where its series come from.
    pub description: String,
    /// Data source.
    pub datasource: DataSource,
    /// Position on the 24-column grid.
    pub grid_pos: GridPos,
    /// The queries.
    pub targets: Vec<Target>,
    /// Unit and threshold.
    pub field_config: FieldConfig,
}

/// `gridPos`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GridPos {
    /// Height, rows.
    pub h: u32,
    /// Width, of 24 columns.
    pub w: u32,
    /// Column.
    pub x: u32,
    /// Row.
    pub y: u32,
}

/// One query of a panel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Target {
    /// `A`, `B`, ...
    pub ref_id: String,
    /// PromQL; may use [`RATE_INTERVAL`].
    pub expr: String,
    /// Series name in the legend, e.g. `{{route}}`.
    pub legend_format: String,
    /// Data source.
    pub datasource: DataSource,
}

/// `fieldConfig`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldConfig {
    /// Settings of every series.
    pub defaults: FieldDefaults,
    /// Per-series settings: none.
    pub overrides: Vec<serde_json::Value>,
}

/// `fieldConfig.defaults`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldDefaults {
    /// Grafana unit id: `reqps`, `s`, `percentunit`, `bytes`, `short`.
    pub unit: String,
    /// Lower end of the axis.
    pub min: f64,
    /// A red line at the objective, when the chart has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thresholds: Option<Thresholds>,
    /// Draw the thresholds as lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom: Option<serde_json::Value>,
}

/// `thresholds`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    /// `absolute`.
    pub mode: String,
    /// Base step (value `null`) then the objective.
    pub steps: Vec<ThresholdStep>,
}

/// One threshold step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThresholdStep {
    /// Colour from this value up.
    pub color: String,
    /// `None` for the base step.
    pub value: Option<f64>,
}

/// A chart before it is placed on the grid.
struct Chart {
    title: &'static str,
    description: String,
    unit: &'static str,
    objective: Option<f64>,
    queries: Vec<(String, String)>,
}

impl Chart {
    fn new(title: &'static str, unit: &'static str, description: impl Into<String>) -> Chart {
        Chart {
            title,
            description: description.into(),
            unit,
            objective: None,
            queries: Vec::new(),
        }
    }

    fn query(mut self, expr: String, legend: impl Into<String>) -> Chart {
        self.queries.push((expr, legend.into()));
        self
    }

    fn objective(mut self, value: f64) -> Chart {
        self.objective = Some(value);
        self
    }

    fn panel(self, id: u32) -> Panel {
        let (w, h) = (12, 8);
        let index = id - 1;
        let datasource = DataSource::variable();
        let targets = self
            .queries
            .into_iter()
            .zip('A'..='Z')
            .map(|((expr, legend), r)| Target {
                ref_id: r.to_string(),
                expr,
                legend_format: legend,
                datasource: datasource.clone(),
            })
            .collect();
        let step = |color: &str, value| ThresholdStep {
            color: color.into(),
            value,
        };
        Panel {
            id,
            kind: "timeseries".into(),
            title: self.title.into(),
            description: self.description,
            datasource,
            grid_pos: GridPos {
                h,
                w,
                x: (index % 2) * w,
                y: (index / 2) * h,
            },
            targets,
            field_config: FieldConfig {
                defaults: FieldDefaults {
                    unit: self.unit.into(),
                    min: 0.0,
                    thresholds: self.objective.map(|v| Thresholds {
                        mode: "absolute".into(),
                        steps: vec![step("green", None), step("red", Some(v))],
                    }),
                    custom: self
                        .objective
                        .map(|_| serde_json::json!({"thresholdsStyle": {"mode": "line"}})),
                },
                overrides: Vec::new(),
            },
        }
    }
}

/// `sum by (<group>) (<expr>)`.
fn sum_by(group: &[&str], expr: String) -> String {
    format!("sum {} ({expr})", by(group))
}

fn rate(series: String) -> String {
    format!("rate({series}[{RATE_INTERVAL}])")
}

/// `histogram_quantile(q, sum by (<group>, le) (rate(<bucket>[..])))`.
fn quantile(q: f64, h: &Histogram, selector: &Selector, group: &[&str]) -> String {
    quantile_of(q, group, &rate(selector.of(&h.bucket())))
}

/// `histogram_quantile(q, sum by (<group>, le) (<buckets>))`, `buckets` a rate of a
/// histogram's bucket series.
fn quantile_of(q: f64, group: &[&str], buckets: &str) -> String {
    let mut labels = group.to_vec();
    labels.push(server_labels::LE);
    format!("histogram_quantile({q}, sum {} ({buckets}))", by(&labels))
}

/// p50 and p95 of `h` by model, for the batching charts.
fn by_model_quantiles(mut chart: Chart, h: &Histogram, server: &Selector) -> Chart {
    for q in [0.5, 0.95] {
        let legend = format!("p{} {{{{{}}}}}", percentile(q), server_labels::MODEL);
        chart = chart.query(quantile(q, h, server, &[server_labels::MODEL]), legend);
    }
    chart
}

/// The `q` quantile of `h` by the kernels' instructions: each pod's buckets take the
/// `simd` label of that pod's build-info series.
fn by_kernels(q: f64, h: &Histogram, server: &Selector) -> String {
    let buckets = format!(
        "{} * on ({}, {}) group_left ({}) {}",
        rate(server.of(&h.bucket())),
        labels::NAMESPACE,
        labels::POD,
        server_labels::SIMD,
        server.of(metrics::BUILD_INFO.series())
    );
    quantile_of(q, &[server_labels::SIMD], &buckets)
}

fn charts(scope: &Scope, objectives: &Objectives) -> Vec<Chart> {
    let server = scope.server();
    let embedding = server
        .clone()
        .re(server_labels::ROUTE, &any_of(metrics::EMBEDDING_ROUTES));
    let container = scope.container();
    let requests = metrics::HTTP_REQUESTS.total();
    let latency = &objectives.latency;
    let mut quantiles = vec![0.5, 0.95, latency.quantile];
    quantiles.sort_by(f64::total_cmp);
    quantiles.dedup();
    let mut latency_chart = Chart::new(
        "Embedding latency",
        "s",
        format!(
            "Latency of embedding requests at several quantiles; the red line is the \
             objective ({} s at p{}).",
            latency.seconds,
            latency.percentile()
        ),
    )
    .objective(latency.seconds);
    for q in quantiles {
        latency_chart = latency_chart.query(
            quantile(q, &metrics::HTTP_REQUEST_DURATION, &embedding, &[]),
            format!("p{}", percentile(q)),
        );
    }
    let resource = |resource: &str| container.clone().eq(labels::RESOURCE, resource);
    let usage_vs = |title, unit, usage: String, res: &str, what: &str| {
        Chart::new(
            title,
            unit,
            format!(
                "{what} per pod (cAdvisor) against the container's request and limit \
                 (kube-state-metrics)."
            ),
        )
        .query(usage, format!("{{{{{}}}}}", labels::POD))
        .query(
            format!("max({})", resource(res).of(kube::RESOURCE_REQUESTS)),
            "request",
        )
        .query(
            format!("max({})", resource(res).of(kube::RESOURCE_LIMITS)),
            "limit",
        )
    };
    let deployment = Selector::default()
        .eq(labels::NAMESPACE, &scope.namespace)
        .eq(labels::DEPLOYMENT, &scope.deployment);
    let mut out = vec![
        Chart::new(
            "Request rate",
            "reqps",
            "HTTP requests per second by route (probes included).",
        )
        .query(
            sum_by(&[server_labels::ROUTE], rate(server.of(&requests))),
            format!("{{{{{}}}}}", server_labels::ROUTE),
        ),
        latency_chart,
        Chart::new(
            "Errors by status",
            "reqps",
            "Requests per second answered 4xx or 5xx, by status (429: queue full).",
        )
        .query(
            sum_by(
                &[server_labels::STATUS],
                rate(
                    server
                        .clone()
                        .re(server_labels::STATUS, "[45]..")
                        .of(&requests),
                ),
            ),
            format!("{{{{{}}}}}", server_labels::STATUS),
        ),
        Chart::new(
            "Embedding error ratio",
            "percentunit",
            format!(
                "Share of embedding requests answered 5xx over 5 minutes (the recording rule \
                 the alert reads); the red line is the objective ({}).",
                objectives.error_ratio
            ),
        )
        .query(server.of(&recorded::error_ratio()), "5xx ratio")
        .objective(objectives.error_ratio),
        by_model_quantiles(
            Chart::new(
                "Batch size",
                "short",
                "Sequences per forward pass, by model.",
            ),
            &metrics::BATCH_SIZE,
            &server,
        )
        .query(
            format!(
                "sum {g} ({}) / sum {g} ({})",
                rate(server.of(&metrics::BATCH_SIZE.sum())),
                rate(server.of(&metrics::BATCH_SIZE.count())),
                g = by(&[server_labels::MODEL])
            ),
            format!("mean {{{{{}}}}}", server_labels::MODEL),
        ),
        by_model_quantiles(
            Chart::new(
                "Tokens per forward pass",
                "short",
                "Tokens per forward pass, by model: how full the token budget runs.",
            ),
            &metrics::BATCH_TOKENS,
            &server,
        ),
        Chart::new(
            "Queue depth",
            "short",
            "Embedding requests admitted and not yet answered (queued or computing), per pod; \
             at embedding.max_queued_requests the pod answers 429.",
        )
        .query(
            sum_by(
                &[labels::POD],
                server.of(metrics::INFLIGHT_REQUESTS.series()),
            ),
            format!("{{{{{}}}}}", labels::POD),
        ),
        by_model_quantiles(
            Chart::new(
                "Queue wait",
                "s",
                "Time from admission to the start of a request's forward pass, by model.",
            ),
            &metrics::QUEUE_WAIT,
            &server,
        ),
        Chart::new(
            "Tokens per second",
            "short",
            "Tokens and texts embedded per second, by model.",
        )
        .query(
            sum_by(
                &[server_labels::MODEL],
                rate(server.of(&metrics::EMBEDDED_TOKENS.total())),
            ),
            format!("tokens {{{{{}}}}}", server_labels::MODEL),
        )
        .query(
            sum_by(
                &[server_labels::MODEL],
                rate(server.of(&metrics::EMBEDDED_TEXTS.total())),
            ),
            format!("texts {{{{{}}}}}", server_labels::MODEL),
        ),
        by_model_quantiles(
            Chart::new(
                "Forward pass duration",
                "s",
                "Time of one forward pass, by model, and its median by the vector \
                 instructions the pods' kernels chose for their nodes' CPUs (akidb_build_info): \
                 pods on CPUs without AVX-512, or without AVX2, are slower.",
            ),
            &metrics::BATCH_DURATION,
            &server,
        )
        .query(
            by_kernels(0.5, &metrics::BATCH_DURATION, &server),
            format!("p50 {{{{{}}}}}", server_labels::SIMD),
        ),
        Chart::new(
            "Ready pods",
            "short",
            "Pods reporting ready (the server's own gauge) against the Deployment's available \
             and desired replicas (kube-state-metrics).",
        )
        .query(
            format!("sum({})", server.of(metrics::READY.series())),
            "ready (server)",
        )
        .query(
            format!("sum({})", deployment.of(kube::DEPLOYMENT_AVAILABLE)),
            "available",
        )
        .query(
            format!("sum({})", deployment.of(kube::DEPLOYMENT_REPLICAS)),
            "desired",
        ),
        Chart::new(
            "Restarts and failed model loads",
            "short",
            "Container restarts (kube-state-metrics) and on-demand model loads that failed.",
        )
        .query(
            format!(
                "sum {} (increase({}[{RATE_INTERVAL}]))",
                by(&[labels::POD]),
                container.of(kube::RESTARTS)
            ),
            format!("restarts {{{{{}}}}}", labels::POD),
        )
        .query(
            format!(
                "sum {} (increase({}[{RATE_INTERVAL}]))",
                by(&[server_labels::MODEL]),
                server.of(&metrics::MODEL_LOAD_FAILURES.total())
            ),
            format!("load failures {{{{{}}}}}", server_labels::MODEL),
        ),
        usage_vs(
            "CPU",
            "short",
            sum_by(&[labels::POD], rate(container.of(kube::CPU_SECONDS))),
            "cpu",
            "CPU cores used",
        ),
        usage_vs(
            "Memory",
            "bytes",
            sum_by(&[labels::POD], container.of(kube::MEMORY_WORKING_SET)),
            "memory",
            "Working set memory (what the OOM killer counts)",
        ),
    ];
    if let Some(hpa) = &scope.autoscaler {
        let hpa = Selector::default()
            .eq(labels::NAMESPACE, &scope.namespace)
            .eq(labels::HPA, hpa);
        let mut chart = Chart::new(
            "Autoscaler replicas",
            "short",
            "The HorizontalPodAutoscaler's current and desired replicas between its minimum \
             and maximum (kube-state-metrics).",
        );
        for (series, legend) in [
            (kube::HPA_CURRENT, "current"),
            (kube::HPA_DESIRED, "desired"),
            (kube::HPA_MIN, "min"),
            (kube::HPA_MAX, "max"),
        ] {
            chart = chart.query(format!("max({})", hpa.of(series)), legend);
        }
        out.push(chart);
    }
    out
}

/// Grafana limits a dashboard uid to 40 characters.
const UID_MAX: usize = 40;

/// The dashboard for `scope`, its latency and error charts drawn against `objectives`.
#[must_use]
pub fn build(scope: &Scope, objectives: &Objectives) -> Dashboard {
    let mut uid = format!("akidb-embed-{}", scope.namespace);
    uid.truncate(UID_MAX);
    Dashboard {
        uid,
        title: format!("akidb-embed ({})", scope.namespace),
        tags: vec!["akidb-embed".into(), scope.namespace.clone()],
        timezone: "browser".into(),
        schema_version: 39,
        refresh: "30s".into(),
        time: TimeRange {
            from: "now-6h".into(),
            to: "now".into(),
        },
        editable: false,
        graph_tooltip: 1,
        templating: Templating {
            list: vec![Variable {
                name: DATASOURCE_VARIABLE.into(),
                label: "Data source".into(),
                kind: "datasource".into(),
                query: "prometheus".into(),
            }],
        },
        panels: charts(scope, objectives)
            .into_iter()
            .zip(1..)
            .map(|(chart, id)| chart.panel(id))
            .collect(),
    }
}

impl Dashboard {
    /// Every query of every panel.
    pub fn queries(&self) -> impl Iterator<Item = &str> {
        self.panels
            .iter()
            .flat_map(|p| p.targets.iter().map(|t| t.expr.as_str()))
    }
}

/// The ConfigMap the Grafana sidecar imports: `dashboard` as `<uid>.json`, labelled with
/// [`SIDECAR_LABEL`] on top of `labels`.
#[must_use]
pub fn config_map(
    name: &str,
    namespace: &str,
    labels: &BTreeMap<String, String>,
    dashboard: &Dashboard,
) -> ConfigMap {
    let mut labels = labels.clone();
    labels.insert(SIDECAR_LABEL.0.into(), SIDECAR_LABEL.1.into());
    let json = serde_json::to_string_pretty(dashboard)
        .unwrap_or_else(|e| unreachable!("a dashboard of strings and numbers serialises: {e}"));
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(namespace.into()),
            labels: Some(labels),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([(format!("{}.json", dashboard.uid), json)])),
        ..ConfigMap::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitoring::testing::scope;

    fn dashboard() -> Dashboard {
        build(&scope(), &Objectives::default())
    }

    #[test]
    fn has_every_chart_the_issue_asks_for() {
        let titles: Vec<String> = dashboard().panels.iter().map(|p| p.title.clone()).collect();
        for t in [
            "Request rate",
            "Embedding latency",
            "Batch size",
            "Queue depth",
            "Tokens per second",
            "Errors by status",
            "Ready pods",
            "CPU",
            "Memory",
            "Autoscaler replicas",
        ] {
            assert!(titles.iter().any(|x| x == t), "{t} missing from {titles:?}");
        }
    }

    #[test]
    fn panels_tile_the_grid_without_overlap() {
        let d = dashboard();
        let mut cells = std::collections::BTreeSet::new();
        for p in &d.panels {
            let g = p.grid_pos;
            assert!(g.x + g.w <= 24);
            for x in g.x..g.x + g.w {
                for y in g.y..g.y + g.h {
                    assert!(cells.insert((x, y)), "panel {} overlaps", p.title);
                }
            }
        }
        let ids: std::collections::BTreeSet<u32> = d.panels.iter().map(|p| p.id).collect();
        assert_eq!(ids.len(), d.panels.len());
    }

    #[test]
    fn the_latency_chart_draws_the_objective() {
        let d = dashboard();
        let p = d
            .panels
            .iter()
            .find(|p| p.title == "Embedding latency")
            .unwrap();
        let t = p.field_config.defaults.thresholds.as_ref().unwrap();
        assert_eq!(t.steps[1].value, Some(1.0));
        assert_eq!(
            p.targets
                .iter()
                .map(|t| t.legend_format.as_str())
                .collect::<Vec<_>>(),
            ["p50", "p95", "p99"]
        );
        assert!(
            p.targets[0]
                .expr
                .contains("akidb_http_request_duration_seconds_bucket{")
        );
    }

    #[test]
    fn no_autoscaler_no_autoscaler_chart() {
        let mut s = scope();
        s.autoscaler = None;
        let d = build(&s, &Objectives::default());
        assert!(d.panels.iter().all(|p| p.title != "Autoscaler replicas"));
    }

    #[test]
    fn the_config_map_carries_the_sidecar_label_and_the_json() {
        let d = dashboard();
        let cm = config_map("akidb-embed-dashboard", "akidb-prod", &BTreeMap::new(), &d);
        assert_eq!(cm.metadata.labels.unwrap()["grafana_dashboard"], "1");
        let data = cm.data.unwrap();
        let back: Dashboard = serde_json::from_str(&data["akidb-embed-akidb-prod.json"]).unwrap();
        assert_eq!(back, d);
    }
}
