//! The `ServiceMonitor`: Prometheus Operator scrapes the server's `/metrics` through the
//! ClusterIP Service that carries the metrics port, and nothing else.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde::{Deserialize, Serialize};

use super::CustomKind;

/// The ClusterIP Service that exposes the metrics port, as the ServiceMonitor finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsService {
    /// Its name. The Operator gives scraped series `job="<name>"` (no `jobLabel` is set).
    pub name: String,
    /// Its namespace.
    pub namespace: String,
    /// Labels on the Service that select it, and only it.
    pub labels: BTreeMap<String, String>,
    /// Name of its metrics port.
    pub port_name: String,
}

impl MetricsService {
    /// The `job` label the scraped series get: the Service's name.
    #[must_use]
    pub fn job(&self) -> &str {
        &self.name
    }
}

/// `spec` of a `ServiceMonitor` (the fields this generator sets).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceMonitorSpec {
    /// Services to scrape, by label.
    pub selector: LabelSelector,
    /// Namespaces to look in.
    pub namespace_selector: NamespaceSelector,
    /// Ports to scrape on each selected Service.
    pub endpoints: Vec<Endpoint>,
}

impl CustomKind for ServiceMonitorSpec {
    const API_VERSION: &'static str = "monitoring.coreos.com/v1";
    const GROUP: &'static str = "monitoring.coreos.com";
    const VERSION: &'static str = "v1";
    const KIND: &'static str = "ServiceMonitor";
    const PLURAL: &'static str = "servicemonitors";
}

/// `namespaceSelector.matchNames`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceSelector {
    /// Namespaces, by name.
    pub match_names: Vec<String>,
}

/// One scraped port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Endpoint {
    /// Service port name.
    pub port: String,
    /// HTTP path.
    pub path: String,
    /// `http`.
    pub scheme: String,
    /// Scrape interval, e.g. `30s`.
    pub interval: String,
    /// Scrape timeout, below the interval.
    pub scrape_timeout: String,
}

/// Scrape interval of the ServiceMonitor, seconds; rules use 5-minute windows, which
/// hold ten scrapes.
pub const SCRAPE_INTERVAL_SECONDS: u32 = 30;
const SCRAPE_TIMEOUT_SECONDS: u32 = 10;

/// The ServiceMonitor spec scraping `service`'s metrics port at the server's
/// `/metrics` path.
#[must_use]
pub fn build(service: &MetricsService) -> ServiceMonitorSpec {
    ServiceMonitorSpec {
        selector: LabelSelector {
            match_labels: Some(service.labels.clone()),
            ..LabelSelector::default()
        },
        namespace_selector: NamespaceSelector {
            match_names: vec![service.namespace.clone()],
        },
        endpoints: vec![Endpoint {
            port: service.port_name.clone(),
            path: app::routes::METRICS.to_owned(),
            scheme: "http".into(),
            interval: format!("{SCRAPE_INTERVAL_SECONDS}s"),
            scrape_timeout: format!("{SCRAPE_TIMEOUT_SECONDS}s"),
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selects_the_service_by_label_in_its_namespace_on_the_named_port() {
        let svc = MetricsService {
            name: "akidb-embed-metrics".into(),
            namespace: "akidb-prod".into(),
            labels: BTreeMap::from([("app.kubernetes.io/component".into(), "metrics".into())]),
            port_name: "metrics".into(),
        };
        let json = serde_json::to_value(build(&svc)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "selector": {"matchLabels": {"app.kubernetes.io/component": "metrics"}},
                "namespaceSelector": {"matchNames": ["akidb-prod"]},
                "endpoints": [{
                    "port": "metrics", "path": "/metrics", "scheme": "http",
                    "interval": "30s", "scrapeTimeout": "10s"
                }]
            })
        );
        assert_eq!(svc.job(), "akidb-embed-metrics");
    }
}
