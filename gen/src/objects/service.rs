//! Service: named `http` and `metrics` ports that target the container's named ports.

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{int, meta};
use crate::settings::ServiceType;
use crate::workload::{HTTP_PORT_NAME, METRICS_PORT_NAME, Plan};

/// Builds the Service.
#[must_use]
pub fn build(plan: &Plan<'_>) -> Service {
    let settings = &plan.settings.service;
    let node_port = settings
        .node_port
        .filter(|_| settings.kind != ServiceType::ClusterIP)
        .map(int);
    let mut ports = vec![ServicePort {
        name: Some(HTTP_PORT_NAME.to_owned()),
        port: int(settings.port),
        target_port: Some(IntOrString::String(HTTP_PORT_NAME.to_owned())),
        protocol: Some("TCP".to_owned()),
        app_protocol: Some("http".to_owned()),
        node_port,
    }];
    if let Some(m) = plan
        .workload
        .metrics
        .as_ref()
        .filter(|m| m.separate_from(plan.workload.api_port))
    {
        ports.push(ServicePort {
            name: Some(METRICS_PORT_NAME.to_owned()),
            port: int(m.port),
            target_port: Some(IntOrString::String(METRICS_PORT_NAME.to_owned())),
            protocol: Some("TCP".to_owned()),
            app_protocol: Some("http".to_owned()),
            node_port: None,
        });
    }
    Service {
        metadata: meta(plan, plan.name()),
        spec: Some(ServiceSpec {
            type_: Some(settings.kind.as_str().to_owned()),
            selector: Some(plan.selector_labels()),
            ports: Some(ports),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}
