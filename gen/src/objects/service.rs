//! Services: the API Service (the `http` port, exposed as the settings say) and, when the
//! server exports metrics on a port of their own, a ClusterIP Service for scraping only, so
//! `/metrics` never reaches a node port or a load balancer.

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{int, meta};
use crate::settings::ServiceType;
use crate::workload::{Controller, HTTP_PORT_NAME, METRICS_PORT_NAME, Plan};

/// Suffix of the metrics Service's name.
pub const METRICS_SERVICE_SUFFIX: &str = "-metrics";

/// Label that tells the metrics Service from the API Service (their other labels match),
/// so a ServiceMonitor selects it and only it.
pub const ROLE_LABEL: (&str, &str) = ("akidb-gen/role", "metrics");

/// Labels that select the metrics Service of `plan`, and only it.
#[must_use]
pub fn metrics_service_selector(plan: &Plan<'_>) -> std::collections::BTreeMap<String, String> {
    let mut labels = plan.selector_labels();
    labels.insert(ROLE_LABEL.0.to_owned(), ROLE_LABEL.1.to_owned());
    labels
}

/// Name of the metrics Service of `plan`.
#[must_use]
pub fn metrics_service_name(plan: &Plan<'_>) -> String {
    format!("{}{METRICS_SERVICE_SUFFIX}", plan.name())
}

/// Builds the API Service.
#[must_use]
pub fn build(plan: &Plan<'_>) -> Service {
    build_named(plan, plan.name())
}

/// Builds the headless Service that gives a StatefulSet's pods their DNS names
/// (`<pod>.<name>-headless`); it lists pods before they are ready, so peers of a clustered
/// store find each other while they start.
#[must_use]
pub fn build_headless(plan: &Plan<'_>) -> Option<Service> {
    if !matches!(plan.workload.controller, Controller::StatefulSet(_)) {
        return None;
    }
    let mut svc = build_named(plan, &plan.headless_service_name());
    if let Some(spec) = svc.spec.as_mut() {
        spec.type_ = Some("ClusterIP".to_owned());
        spec.cluster_ip = Some("None".to_owned());
        spec.publish_not_ready_addresses = Some(true);
        // Peers dial pod addresses directly, so the API port is listed as the pods serve it.
        for p in spec.ports.iter_mut().flatten() {
            p.node_port = None;
            if p.name.as_deref() == Some(HTTP_PORT_NAME) {
                p.port = int(plan.workload.api_port);
            }
        }
    }
    Some(svc)
}

/// Builds the API Service of one blue-green colour, for smoke tests of that colour alone:
/// named like its Deployment, always ClusterIP.
#[must_use]
pub fn build_for_color(plan: &Plan<'_>) -> Service {
    let mut svc = build_named(plan, &plan.workload_name());
    if let Some(spec) = svc.spec.as_mut() {
        spec.type_ = Some("ClusterIP".to_owned());
        for p in spec.ports.iter_mut().flatten() {
            p.node_port = None;
        }
    }
    svc
}

fn build_named(plan: &Plan<'_>, name: &str) -> Service {
    let settings = &plan.settings.service;
    let node_port = settings
        .node_port
        .filter(|_| settings.kind.is_exposed())
        .map(int);
    let headless = settings.kind == ServiceType::Headless;
    let mut ports = vec![ServicePort {
        name: Some(HTTP_PORT_NAME.to_owned()),
        // Clients of a headless Service dial the pods, so it lists the pods' own port.
        port: if headless {
            int(plan.workload.api_port)
        } else {
            int(settings.port)
        },
        target_port: Some(IntOrString::String(HTTP_PORT_NAME.to_owned())),
        protocol: Some("TCP".to_owned()),
        app_protocol: plan.workload.api_protocol.map(str::to_owned),
        node_port,
    }];
    // Further ports keep their own numbers: only the API port is remapped.
    ports.extend(
        plan.workload
            .extra_ports
            .iter()
            .map(|(name, n)| ServicePort {
                name: Some(name.clone()),
                port: int(*n),
                target_port: Some(IntOrString::String(name.clone())),
                protocol: Some("TCP".to_owned()),
                ..ServicePort::default()
            }),
    );
    Service {
        metadata: meta(plan, name),
        spec: Some(ServiceSpec {
            type_: Some(settings.kind.kubernetes_type().to_owned()),
            cluster_ip: headless.then(|| "None".to_owned()),
            selector: Some(plan.selector_labels()),
            ports: Some(ports),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

/// Builds the metrics Service: ClusterIP, the metrics port only; absent when the server
/// exports no metrics or serves them on the API port.
#[must_use]
pub fn build_metrics(plan: &Plan<'_>) -> Option<Service> {
    let m = plan
        .workload
        .metrics
        .as_ref()
        .filter(|m| m.separate_from(plan.workload.api_port))?;
    let mut metadata = meta(plan, metrics_service_name(plan));
    if let Some(labels) = metadata.labels.as_mut() {
        labels.insert(ROLE_LABEL.0.to_owned(), ROLE_LABEL.1.to_owned());
    }
    Some(Service {
        metadata,
        spec: Some(ServiceSpec {
            type_: Some(ServiceType::ClusterIP.as_str().to_owned()),
            selector: Some(plan.selector_labels()),
            ports: Some(vec![ServicePort {
                name: Some(METRICS_PORT_NAME.to_owned()),
                port: int(m.port),
                target_port: Some(IntOrString::String(METRICS_PORT_NAME.to_owned())),
                protocol: Some("TCP".to_owned()),
                app_protocol: Some("http".to_owned()),
                node_port: None,
            }]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    })
}
