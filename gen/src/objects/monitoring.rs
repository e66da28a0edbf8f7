//! The server's monitoring objects (ServiceMonitor, PrometheusRule, dashboard ConfigMap),
//! when its settings ask for them: built by [`crate::monitoring`] from the metrics Service
//! this module's siblings emit, so the rules select exactly the series it scrapes.

use crate::monitoring::objects::{self, Input, Objects};
use crate::monitoring::service_monitor::MetricsService;
use crate::workload::{METRICS_PORT_NAME, Plan};

use super::autoscaler;
use super::service::{metrics_service_name, metrics_service_selector};

/// The objects, or `None` without `monitoring` or without a metrics Service (the load
/// stage refuses that combination). `serving` is the plan of the Deployment that takes the
/// traffic (under blue-green, the active colour's); `plan` the component's.
#[must_use]
pub fn build(plan: &Plan<'_>, serving: &Plan<'_>) -> Option<Objects> {
    let settings = plan.settings.monitoring?;
    let metrics = plan.workload.metrics.as_ref()?;
    if !metrics.separate_from(plan.workload.api_port) {
        return None;
    }
    let service = MetricsService {
        name: metrics_service_name(plan),
        namespace: plan.namespace().to_owned(),
        labels: metrics_service_selector(plan),
        port_name: METRICS_PORT_NAME.to_owned(),
    };
    let labels = plan.labels();
    let autoscaler = autoscaler::build(serving).and_then(|h| h.metadata.name);
    let deployment = serving.workload_name();
    // The objectives passed the load stage's check, the only way this fails.
    objects::build(&Input {
        name: plan.name(),
        labels: &labels,
        metrics_service: &service,
        deployment: &deployment,
        container: &plan.workload.container_name,
        autoscaler: autoscaler.as_deref(),
        objectives: &settings.objectives,
        runbook_base: &settings.runbook_url,
    })
    .ok()
}
