//! The three monitoring objects of one environment, built together so the rules and the
//! dashboard select exactly the series the ServiceMonitor produces.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::rules::{self, PrometheusRuleSpec};
use super::service_monitor::{self, MetricsService, ServiceMonitorSpec};
use super::{CustomResource, ObjectiveError, Objectives, Scope, dashboard};

/// What the monitoring objects of one environment are built from.
#[derive(Debug, Clone, PartialEq)]
pub struct Input<'a> {
    /// Base name of the objects: `<name>` (ServiceMonitor, PrometheusRule) and
    /// `<name>-dashboard` (ConfigMap).
    pub name: &'a str,
    /// Labels every object carries.
    pub labels: &'a BTreeMap<String, String>,
    /// The ClusterIP Service carrying the metrics port.
    pub metrics_service: &'a MetricsService,
    /// The Deployment's name.
    pub deployment: &'a str,
    /// The server's container name.
    pub container: &'a str,
    /// The HorizontalPodAutoscaler's name, when autoscaled.
    pub autoscaler: Option<&'a str>,
    /// Latency and error objectives.
    pub objectives: &'a Objectives,
    /// Where `docs/operations.md` is published, for the alerts' `runbook_url`.
    pub runbook_base: &'a str,
}

impl Input<'_> {
    /// The scope the rules and dashboard select: the namespace and `job` that the
    /// ServiceMonitor gives the server's series.
    #[must_use]
    pub fn scope(&self) -> Scope {
        Scope {
            namespace: self.metrics_service.namespace.clone(),
            job: self.metrics_service.job().to_owned(),
            deployment: self.deployment.to_owned(),
            container: self.container.to_owned(),
            autoscaler: self.autoscaler.map(str::to_owned),
        }
    }

    fn meta(&self, name: String) -> ObjectMeta {
        ObjectMeta {
            name: Some(name),
            namespace: Some(self.metrics_service.namespace.clone()),
            labels: Some(self.labels.clone()),
            ..ObjectMeta::default()
        }
    }
}

/// The ServiceMonitor, the PrometheusRule and the dashboard ConfigMap.
#[derive(Debug, Clone, PartialEq)]
pub struct Objects {
    /// Scrapes the metrics Service.
    pub service_monitor: CustomResource<ServiceMonitorSpec>,
    /// Recording rules and alerts.
    pub prometheus_rule: CustomResource<PrometheusRuleSpec>,
    /// The dashboard, for the Grafana sidecar.
    pub dashboard: ConfigMap,
}

/// Builds the three objects.
///
/// # Errors
/// Objectives no alert could honour.
pub fn build(input: &Input<'_>) -> Result<Objects, ObjectiveError> {
    let scope = input.scope();
    let rule_spec = rules::build(&scope, input.objectives, input.runbook_base)?;
    let board = dashboard::build(&scope, input.objectives);
    let namespace = &input.metrics_service.namespace;
    Ok(Objects {
        service_monitor: CustomResource::new(
            input.meta(input.name.to_owned()),
            service_monitor::build(input.metrics_service),
        ),
        prometheus_rule: CustomResource::new(input.meta(input.name.to_owned()), rule_spec),
        dashboard: dashboard::config_map(
            &format!("{}-dashboard", input.name),
            namespace,
            input.labels,
            &board,
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rules_select_the_job_the_service_monitor_produces() {
        let labels = BTreeMap::from([("app.kubernetes.io/name".into(), "akidb-embed".into())]);
        let svc = MetricsService {
            name: "akidb-embed-metrics".into(),
            namespace: "akidb-prod".into(),
            labels: labels.clone(),
            port_name: "metrics".into(),
        };
        let objects = build(&Input {
            name: "akidb-embed",
            labels: &labels,
            metrics_service: &svc,
            deployment: "akidb-embed",
            container: "akidb-embed",
            autoscaler: None,
            objectives: &Objectives::default(),
            runbook_base: "https://x/ops.md",
        })
        .unwrap();
        let rule = serde_json::to_value(&objects.prometheus_rule).unwrap();
        assert_eq!(rule["apiVersion"], "monitoring.coreos.com/v1");
        assert_eq!(rule["kind"], "PrometheusRule");
        assert_eq!(rule["metadata"]["namespace"], "akidb-prod");
        let expr = rule["spec"]["groups"][0]["rules"][0]["expr"]
            .as_str()
            .unwrap();
        assert!(
            expr.contains(r#"namespace="akidb-prod",job="akidb-embed-metrics""#),
            "{expr}"
        );
        assert_eq!(objects.service_monitor.kind(), "ServiceMonitor");
        assert_eq!(
            objects.dashboard.metadata.name.as_deref(),
            Some("akidb-embed-dashboard")
        );
    }
}
