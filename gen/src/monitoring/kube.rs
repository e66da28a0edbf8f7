//! Series the server does not export: kube-state-metrics' object state and the kubelet's
//! cAdvisor container usage, as kube-prometheus-stack scrapes them. Rules and charts
//! that read these need those exporters; `docs/operations.md` lists them.

/// Who exports a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exporter {
    /// kube-state-metrics.
    KubeStateMetrics,
    /// The kubelet's cAdvisor endpoint.
    Cadvisor,
}

/// Container restarts (counter), by `namespace`, `pod`, `container`.
pub const RESTARTS: &str = "kube_pod_container_status_restarts_total";
/// 1 for the reason of a container's last termination (`reason="OOMKilled"`, ...).
pub const LAST_TERMINATED_REASON: &str = "kube_pod_container_status_last_terminated_reason";
/// Requested resources per container, by `resource` (`cpu` in cores, `memory` in bytes).
pub const RESOURCE_REQUESTS: &str = "kube_pod_container_resource_requests";
/// Resource limits per container, by `resource`.
pub const RESOURCE_LIMITS: &str = "kube_pod_container_resource_limits";
/// Ready replicas of a Deployment, by `deployment`.
pub const DEPLOYMENT_AVAILABLE: &str = "kube_deployment_status_replicas_available";
/// Replicas a Deployment asks for, by `deployment`.
pub const DEPLOYMENT_REPLICAS: &str = "kube_deployment_spec_replicas";
/// Replicas the autoscaler currently runs, by `horizontalpodautoscaler`.
pub const HPA_CURRENT: &str = "kube_horizontalpodautoscaler_status_current_replicas";
/// Replicas the autoscaler wants, by `horizontalpodautoscaler`.
pub const HPA_DESIRED: &str = "kube_horizontalpodautoscaler_status_desired_replicas";
/// The autoscaler's floor.
pub const HPA_MIN: &str = "kube_horizontalpodautoscaler_spec_min_replicas";
/// The autoscaler's ceiling.
pub const HPA_MAX: &str = "kube_horizontalpodautoscaler_spec_max_replicas";
/// CPU seconds used (counter), by `namespace`, `pod`, `container`.
pub const CPU_SECONDS: &str = "container_cpu_usage_seconds_total";
/// Memory that counts against the limit (what the OOM killer looks at), bytes.
pub const MEMORY_WORKING_SET: &str = "container_memory_working_set_bytes";

/// Every series above with its exporter.
pub const ALL: [(&str, Exporter); 12] = [
    (RESTARTS, Exporter::KubeStateMetrics),
    (LAST_TERMINATED_REASON, Exporter::KubeStateMetrics),
    (RESOURCE_REQUESTS, Exporter::KubeStateMetrics),
    (RESOURCE_LIMITS, Exporter::KubeStateMetrics),
    (DEPLOYMENT_AVAILABLE, Exporter::KubeStateMetrics),
    (DEPLOYMENT_REPLICAS, Exporter::KubeStateMetrics),
    (HPA_CURRENT, Exporter::KubeStateMetrics),
    (HPA_DESIRED, Exporter::KubeStateMetrics),
    (HPA_MIN, Exporter::KubeStateMetrics),
    (HPA_MAX, Exporter::KubeStateMetrics),
    (CPU_SECONDS, Exporter::Cadvisor),
    (MEMORY_WORKING_SET, Exporter::Cadvisor),
];

/// Labels those exporters and the Prometheus Operator put on series.
pub mod labels {
    /// The object's (or scrape target's) namespace.
    pub const NAMESPACE: &str = "namespace";
    /// The scrape job: for a ServiceMonitor, the scraped Service's name.
    pub const JOB: &str = "job";
    /// Pod name.
    pub const POD: &str = "pod";
    /// Container name.
    pub const CONTAINER: &str = "container";
    /// Deployment name (kube-state-metrics).
    pub const DEPLOYMENT: &str = "deployment";
    /// HorizontalPodAutoscaler name (kube-state-metrics).
    pub const HPA: &str = "horizontalpodautoscaler";
    /// `cpu` or `memory` on request and limit series.
    pub const RESOURCE: &str = "resource";
    /// Termination reason, e.g. `OOMKilled`.
    pub const REASON: &str = "reason";
}
