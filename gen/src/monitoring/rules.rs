//! The `PrometheusRule`: recording rules for the embedding traffic and the alerts, each
//! with a severity and a `runbook_url` into `docs/operations.md`.
//!
//! An alert is kept as a *signal* compared with a threshold ([`Alert`]): the signal alone
//! is what a chart would plot and what a test can evaluate on a live Prometheus to prove
//! the series exist, and the comparison is the alert's condition.

use std::collections::BTreeMap;
use std::fmt;

use app::metrics::{self, labels as server_labels};
use serde::{Deserialize, Serialize};

use super::kube::{self, labels};
use super::promql::{Selector, any_of, by};
use super::{CustomKind, ObjectiveError, Objectives, Scope, heading_anchor};

/// `spec` of a `PrometheusRule`; serialised alone it is also a Prometheus rules file
/// (what `promtool check rules` reads).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrometheusRuleSpec {
    /// Rule groups, evaluated independently; rules inside a group in order.
    pub groups: Vec<RuleGroup>,
}

impl CustomKind for PrometheusRuleSpec {
    const API_VERSION: &'static str = "monitoring.coreos.com/v1";
    const GROUP: &'static str = "monitoring.coreos.com";
    const VERSION: &'static str = "v1";
    const KIND: &'static str = "PrometheusRule";
    const PLURAL: &'static str = "prometheusrules";
}

/// A named list of rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleGroup {
    /// Group name, unique in the rules file.
    pub name: String,
    /// The rules, in evaluation order.
    pub rules: Vec<Rule>,
}

/// A recording or an alerting rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Rule {
    /// Stores an expression under a new series name.
    Recording(RecordingRule),
    /// Fires while an expression returns series.
    Alerting(AlertingRule),
}

/// `record: name` / `expr`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordingRule {
    /// Name of the recorded series.
    pub record: String,
    /// PromQL.
    pub expr: String,
    /// Labels added to the recorded series.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// `alert: name` / `expr` / `for` / labels / annotations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertingRule {
    /// Alert name.
    pub alert: String,
    /// PromQL; every series it returns is a firing (or pending) alert.
    pub expr: String,
    /// How long the expression must hold before the alert fires.
    #[serde(rename = "for", default, skip_serializing_if = "Option::is_none")]
    pub for_: Option<String>,
    /// Labels added to the alert (`severity`).
    pub labels: BTreeMap<String, String>,
    /// `summary`, `description`, `runbook_url`.
    pub annotations: BTreeMap<String, String>,
}

/// How urgent an alert is: what the `severity` label says to Alertmanager's routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Users are failing now: page someone.
    Critical,
    /// Degraded or about to be: look during working hours.
    Warning,
}

impl Severity {
    /// The label value.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Warning => "warning",
        }
    }
}

/// The comparison that turns a signal into a condition.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Condition {
    /// Fires while the signal is above the value.
    Above(f64),
    /// Fires while the signal is below the value.
    Below(f64),
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Condition::Above(v) => write!(f, "> {v}"),
            Condition::Below(v) => write!(f, "< {v}"),
        }
    }
}

/// An alert, before it becomes a rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// Alert name; also the heading of its runbook section in `docs/operations.md`.
    pub name: &'static str,
    /// Severity label.
    pub severity: Severity,
    /// The value watched (one series per thing that can be alerting).
    pub signal: String,
    /// When the signal is alarming.
    pub condition: Condition,
    /// A selector whose *absence* also fires the alert (no series at all is news too).
    pub or_absent: Option<String>,
    /// Minutes the condition must hold; 0 fires at once.
    pub for_minutes: u32,
    /// One line: what is wrong.
    pub summary: String,
    /// What it means; may use `{{ $labels.<name> }}`.
    pub description: String,
}

impl Alert {
    /// The alert's PromQL: the signal compared, or the absence of its series.
    #[must_use]
    pub fn expr(&self) -> String {
        let compared = format!("{} {}", self.signal, self.condition);
        match &self.or_absent {
            Some(series) => format!("{compared} or absent({series})"),
            None => compared,
        }
    }

    /// The anchor of its runbook section in `docs/operations.md`.
    #[must_use]
    pub fn anchor(&self) -> String {
        heading_anchor(self.name)
    }

    /// The alerting rule, with `runbook_url` at `runbook_base#anchor`; `runbook_base` is
    /// where `docs/operations.md` is published (e.g. its page on the repository host).
    #[must_use]
    pub fn rule(&self, runbook_base: &str) -> AlertingRule {
        let text = |s: &str| s.to_owned();
        AlertingRule {
            alert: self.name.to_owned(),
            expr: self.expr(),
            for_: (self.for_minutes > 0).then(|| format!("{}m", self.for_minutes)),
            labels: BTreeMap::from([(text("severity"), text(self.severity.as_str()))]),
            annotations: BTreeMap::from([
                (text("summary"), self.summary.clone()),
                (text("description"), self.description.clone()),
                (
                    text("runbook_url"),
                    format!("{runbook_base}#{}", self.anchor()),
                ),
            ]),
        }
    }
}

/// Rate window of the recording rules and rate-based alerts.
const WINDOW: &str = "5m";
/// Window in which a restart, OOM kill or failed load keeps its alert firing.
const EVENT_WINDOW: &str = "15m";

/// Names of the recorded series, built from the contract's metric names.
pub mod recorded {
    use app::metrics;

    /// Embedding requests per second (`/api/v1/embed`, `/v1/embeddings`).
    #[must_use]
    pub fn request_rate() -> String {
        format!(
            "namespace_job:{}:embedding_rate5m",
            metrics::HTTP_REQUESTS.name
        )
    }

    /// Share of embedding requests answered 5xx (0 with traffic and no errors).
    #[must_use]
    pub fn error_ratio() -> String {
        format!(
            "namespace_job:{}:embedding_error_ratio_rate5m",
            metrics::HTTP_REQUESTS.name
        )
    }

    /// Latency of embedding requests at the objective's quantile (label `quantile`).
    #[must_use]
    pub fn latency() -> String {
        format!(
            "namespace_job:{}:embedding_quantile_rate5m",
            metrics::HTTP_REQUEST_DURATION.name
        )
    }
}

/// An annotation template for the value of the alert's label `name`.
fn label_value(name: &str) -> String {
    format!("{{{{ $labels.{name} }}}}")
}

/// Label of the recorded latency series that names its quantile.
pub const QUANTILE_LABEL: &str = "quantile";

fn embedding(scope: &Scope) -> Selector {
    scope
        .server()
        .re(server_labels::ROUTE, &any_of(metrics::EMBEDDING_ROUTES))
}

const NS_JOB: &[&str] = &[labels::NAMESPACE, labels::JOB];
const NS_POD_CONTAINER: &[&str] = &[labels::NAMESPACE, labels::POD, labels::CONTAINER];

/// The recording rules: embedding request rate, 5xx ratio and latency at the objective's
/// quantile, each by `namespace` and `job`.
#[must_use]
pub fn recording_rules(scope: &Scope, objectives: &Objectives) -> Vec<RecordingRule> {
    let requests = metrics::HTTP_REQUESTS.total();
    let embedding = embedding(scope);
    let errors = embedding.clone().re(server_labels::STATUS, "5..");
    let total = format!(
        "sum {} (rate({}[{WINDOW}]))",
        by(NS_JOB),
        embedding.of(&requests)
    );
    let rate = recorded::request_rate();
    // `or 0 * rate`: with traffic and no 5xx the ratio is 0, not absent.
    let ratio = format!(
        "(sum {} (rate({}[{WINDOW}])) or 0 * {rate}) / {rate}",
        by(NS_JOB),
        errors.of(&requests)
    );
    let mut le = NS_JOB.to_vec();
    le.push(server_labels::LE);
    let latency = format!(
        "histogram_quantile({}, sum {} (rate({}[{WINDOW}])))",
        objectives.latency.quantile,
        by(&le),
        embedding.of(&metrics::HTTP_REQUEST_DURATION.bucket())
    );
    vec![
        RecordingRule {
            record: rate.clone(),
            expr: total,
            labels: BTreeMap::new(),
        },
        RecordingRule {
            record: recorded::error_ratio(),
            expr: ratio,
            labels: BTreeMap::new(),
        },
        RecordingRule {
            record: recorded::latency(),
            expr: latency,
            labels: BTreeMap::from([(
                QUANTILE_LABEL.to_owned(),
                objectives.latency.quantile.to_string(),
            )]),
        },
    ]
}

/// Alerts on the server's own metrics (they read the recording rules).
///
/// # Errors
/// Objectives no alert could honour.
pub fn server_alerts(scope: &Scope, objectives: &Objectives) -> Result<Vec<Alert>, ObjectiveError> {
    objectives.check()?;
    let server = scope.server();
    let ready = server.of(metrics::READY.series());
    let ns = &scope.namespace;
    let latency = &objectives.latency;
    let p = latency.percentile();
    Ok(vec![
        Alert {
            name: "AkidbEmbedNoReadyPods",
            severity: Severity::Critical,
            signal: format!("sum {} ({ready})", by(NS_JOB)),
            condition: Condition::Below(1.0),
            or_absent: Some(ready.clone()),
            for_minutes: 5,
            summary: format!("No ready akidb-embed pod in {ns}"),
            description: "No pod of {{ $labels.job }} in {{ $labels.namespace }} has reported \
                          ready for 5 minutes (or Prometheus scrapes none): every embedding \
                          request fails."
                .into(),
        },
        Alert {
            name: "AkidbEmbedErrorRatioHigh",
            severity: Severity::Critical,
            signal: server.of(&recorded::error_ratio()),
            condition: Condition::Above(objectives.error_ratio),
            or_absent: None,
            for_minutes: 5,
            summary: format!(
                "More than {} % of embedding requests in {ns} fail with 5xx",
                objectives.error_ratio * 100.0
            ),
            description: format!(
                "For 5 minutes the share of embedding requests of {{{{ $labels.job }}}} in \
                 {{{{ $labels.namespace }}}} answered 5xx has been above the objective of {}.",
                objectives.error_ratio
            ),
        },
        Alert {
            name: "AkidbEmbedLatencyHigh",
            severity: Severity::Warning,
            signal: server
                .clone()
                .eq(QUANTILE_LABEL, &latency.quantile.to_string())
                .of(&recorded::latency()),
            condition: Condition::Above(latency.seconds),
            or_absent: None,
            for_minutes: 10,
            summary: format!(
                "p{p} latency of embedding requests in {ns} above {} s",
                latency.seconds
            ),
            description: format!(
                "For 10 minutes the p{p} latency of embedding requests of \
                 {{{{ $labels.job }}}} in {{{{ $labels.namespace }}}} has been above the \
                 objective of {} s.",
                latency.seconds
            ),
        },
        Alert {
            name: "AkidbEmbedQueueRejecting",
            severity: Severity::Warning,
            signal: format!(
                "sum {} (rate({}[{WINDOW}]))",
                by(NS_JOB),
                server.of(&metrics::QUEUE_REJECTED.total())
            ),
            condition: Condition::Above(0.0),
            or_absent: None,
            for_minutes: 10,
            summary: format!("akidb-embed in {ns} keeps answering 429 (queue full)"),
            description: "For 10 minutes {{ $labels.job }} in {{ $labels.namespace }} has \
                          refused embedding requests because every queue slot was taken."
                .into(),
        },
        Alert {
            name: "AkidbEmbedModelLoadFailed",
            severity: Severity::Warning,
            signal: format!(
                "sum {} (increase({}[{EVENT_WINDOW}]))",
                by(&[labels::NAMESPACE, labels::JOB, server_labels::MODEL]),
                server.of(&metrics::MODEL_LOAD_FAILURES.total())
            ),
            condition: Condition::Above(0.0),
            or_absent: None,
            for_minutes: 0,
            summary: format!("akidb-embed in {ns} failed to load a model"),
            description: format!(
                "{{{{ $labels.job }}}} in {{{{ $labels.namespace }}}} failed to load model {} \
                 on demand in the last 15 minutes; requests for it fail.",
                label_value(server_labels::MODEL)
            ),
        },
    ])
}

/// Alerts on kube-state-metrics series: restarts and OOM kills of the server's container.
#[must_use]
pub fn kubernetes_alerts(scope: &Scope) -> Vec<Alert> {
    let container = scope.container();
    let restarts = format!(
        "sum {} (increase({}[{EVENT_WINDOW}]))",
        by(NS_POD_CONTAINER),
        container.of(kube::RESTARTS)
    );
    let oom = container.clone().eq(labels::REASON, "OOMKilled");
    let ns = &scope.namespace;
    vec![
        Alert {
            name: "AkidbEmbedRestarting",
            severity: Severity::Warning,
            signal: restarts.clone(),
            condition: Condition::Above(0.0),
            or_absent: None,
            for_minutes: 0,
            summary: format!("akidb-embed container restarted in {ns}"),
            description: "Container {{ $labels.container }} of pod {{ $labels.pod }} in \
                          {{ $labels.namespace }} restarted in the last 15 minutes."
                .into(),
        },
        Alert {
            name: "AkidbEmbedOOMKilled",
            severity: Severity::Warning,
            signal: format!(
                "{restarts} * on ({}) max {} ({})",
                NS_POD_CONTAINER.join(", "),
                by(NS_POD_CONTAINER),
                oom.of(kube::LAST_TERMINATED_REASON)
            ),
            condition: Condition::Above(0.0),
            or_absent: None,
            for_minutes: 0,
            summary: format!("akidb-embed container killed for memory in {ns}"),
            description: "Container {{ $labels.container }} of pod {{ $labels.pod }} in \
                          {{ $labels.namespace }} was OOM-killed (it hit its memory limit) \
                          and restarted in the last 15 minutes."
                .into(),
        },
    ]
}

/// Every alert: the server's, then Kubernetes'.
///
/// # Errors
/// Objectives no alert could honour.
pub fn alerts(scope: &Scope, objectives: &Objectives) -> Result<Vec<Alert>, ObjectiveError> {
    let mut all = server_alerts(scope, objectives)?;
    all.extend(kubernetes_alerts(scope));
    Ok(all)
}

/// The `PrometheusRule` spec: group `akidb-embed.server` (recording rules, then the
/// alerts that read them, so one evaluation sees fresh values) and group
/// `akidb-embed.kubernetes`.
///
/// # Errors
/// Objectives no alert could honour.
pub fn build(
    scope: &Scope,
    objectives: &Objectives,
    runbook_base: &str,
) -> Result<PrometheusRuleSpec, ObjectiveError> {
    let mut server: Vec<Rule> = recording_rules(scope, objectives)
        .into_iter()
        .map(Rule::Recording)
        .collect();
    server.extend(
        server_alerts(scope, objectives)?
            .iter()
            .map(|a| Rule::Alerting(a.rule(runbook_base))),
    );
    let kubernetes = kubernetes_alerts(scope)
        .iter()
        .map(|a| Rule::Alerting(a.rule(runbook_base)))
        .collect();
    Ok(PrometheusRuleSpec {
        groups: vec![
            RuleGroup {
                name: "akidb-embed.server".into(),
                rules: server,
            },
            RuleGroup {
                name: "akidb-embed.kubernetes".into(),
                rules: kubernetes,
            },
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitoring::testing::scope;

    fn spec() -> PrometheusRuleSpec {
        build(&scope(), &Objectives::default(), "https://x/ops.md").unwrap()
    }

    #[test]
    fn every_alert_has_a_severity_a_runbook_and_a_unique_name() {
        let alerts = alerts(&scope(), &Objectives::default()).unwrap();
        let mut names: Vec<&str> = alerts.iter().map(|a| a.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), alerts.len());
        for a in &alerts {
            let rule = a.rule("https://x/ops.md");
            assert!(["critical", "warning"].contains(&rule.labels["severity"].as_str()));
            assert_eq!(
                rule.annotations["runbook_url"],
                format!("https://x/ops.md#{}", a.name.to_lowercase())
            );
        }
    }

    #[test]
    fn queries_name_only_contract_metrics_recordings_and_kube_series() {
        let recorded = [
            recorded::request_rate(),
            recorded::error_ratio(),
            recorded::latency(),
        ];
        let mut known: Vec<String> = metrics::ALL.iter().flat_map(|m| m.sample_names()).collect();
        known.extend(recorded.iter().cloned());
        known.extend(kube::ALL.iter().map(|(n, _)| (*n).to_owned()));
        for group in spec().groups {
            for rule in group.rules {
                let expr = match rule {
                    Rule::Recording(r) => r.expr,
                    Rule::Alerting(a) => a.expr,
                };
                for word in expr.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')) {
                    if word.starts_with("akidb_")
                        || word.starts_with("namespace_job:")
                        || word.starts_with("kube_")
                        || word.starts_with("container_")
                    {
                        assert!(known.iter().any(|k| k == word), "{word} in {expr}");
                    }
                }
            }
        }
    }

    #[test]
    fn the_error_ratio_reads_embedding_routes_and_5xx_only() {
        let r = recording_rules(&scope(), &Objectives::default());
        assert_eq!(
            r[1].expr,
            "(sum by (namespace, job) (rate(akidb_http_requests_total{namespace=\"akidb-prod\",\
             job=\"akidb-embed-metrics\",route=~\"/api/v1/embed|/v1/embeddings|/embed|/\",status=~\"5..\"}[5m])) \
             or 0 * namespace_job:akidb_http_requests:embedding_rate5m) \
             / namespace_job:akidb_http_requests:embedding_rate5m"
        );
    }

    #[test]
    fn no_ready_pods_fires_on_absence_too() {
        let a = &server_alerts(&scope(), &Objectives::default()).unwrap()[0];
        assert_eq!(
            a.expr(),
            "sum by (namespace, job) (akidb_ready{namespace=\"akidb-prod\",job=\"akidb-embed-metrics\"}) < 1 \
             or absent(akidb_ready{namespace=\"akidb-prod\",job=\"akidb-embed-metrics\"})"
        );
    }

    #[test]
    fn bad_objectives_are_refused() {
        let o = Objectives {
            error_ratio: 2.0,
            ..Objectives::default()
        };
        assert!(build(&scope(), &o, "x").is_err());
    }

    #[test]
    fn the_spec_serialises_as_a_rules_file() {
        let json = serde_json::to_value(spec()).unwrap();
        let first_alert = &json["groups"][0]["rules"][3];
        assert_eq!(first_alert["alert"], "AkidbEmbedNoReadyPods");
        assert_eq!(first_alert["for"], "5m");
        assert!(json["groups"][1]["rules"][0].get("for").is_none());
    }
}
