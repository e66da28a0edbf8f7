//! Ingress (networking.k8s.io/v1) with TLS, cert-manager and ingress-nginx annotations.

use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressRule,
    IngressServiceBackend, IngressSpec, IngressTLS, ServiceBackendPort,
};

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::meta;
use crate::settings::{Environment, IngressTls};
use crate::workload::{HTTP_PORT_NAME, MANAGED_BY, Plan};

/// Builds the Ingress, when the environment has one.
#[must_use]
pub fn build(plan: &Plan<'_>) -> Option<Ingress> {
    let ing = plan.settings.ingress?;
    let hosts: Vec<String> = ing.hosts.iter().map(|h| h.as_str().to_owned()).collect();
    let backend = service_backend(plan.name());
    let rules = hosts
        .iter()
        .map(|host| IngressRule {
            host: Some(host.clone()),
            http: Some(HTTPIngressRuleValue {
                paths: vec![HTTPIngressPath {
                    path: Some("/".to_owned()),
                    path_type: "Prefix".to_owned(),
                    backend: backend.clone(),
                }],
            }),
        })
        .collect();
    let tls = ing.tls.as_ref().map(|t| tls(hosts.clone(), t));

    let mut metadata = meta(plan, plan.name());
    // Added to what every object of the component carries (its sync wave).
    let mut annotations = metadata.annotations.take().unwrap_or_default();
    annotations.extend(issuer(ing.tls.as_ref()));
    if let Some(nginx) = &ing.nginx {
        let w = &plan.workload;
        annotations.insert(
            "nginx.ingress.kubernetes.io/proxy-body-size".to_owned(),
            nginx_size(w.body_limit_bytes),
        );
        // nginx must wait at least as long as the server lets a request run.
        annotations.insert(
            "nginx.ingress.kubernetes.io/proxy-read-timeout".to_owned(),
            w.request_timeout_secs.to_string(),
        );
        annotations.insert(
            "nginx.ingress.kubernetes.io/proxy-send-timeout".to_owned(),
            w.request_timeout_secs.to_string(),
        );
        annotations.insert(
            "nginx.ingress.kubernetes.io/ssl-redirect".to_owned(),
            nginx.ssl_redirect.to_string(),
        );
    }

    metadata.annotations = (!annotations.is_empty()).then_some(annotations);
    Some(Ingress {
        metadata,
        spec: Some(IngressSpec {
            ingress_class_name: Some(ing.class_name.as_str().to_owned()),
            rules: Some(rules),
            tls,
            default_backend: None,
        }),
        ..Ingress::default()
    })
}

/// A byte count in nginx's size syntax (`2m`, `512k`, `1000`), so the proxy admits
/// exactly the bodies the server admits.
#[must_use]
pub fn nginx_size(bytes: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if bytes % MIB == 0 {
        format!("{}m", bytes / MIB)
    } else if bytes % 1024 == 0 {
        format!("{}k", bytes / 1024)
    } else {
        bytes.to_string()
    }
}

/// Builds the application's Ingress of `ingress_routes`, named after `part_of`: each path
/// of each host to its component's Service, on the Service's `http` port.
#[must_use]
pub fn build_routes(app: &Environment) -> Option<Ingress> {
    let routes = app.ingress_routes.as_ref()?;
    let rules = routes
        .hosts
        .iter()
        .map(|(host, paths)| IngressRule {
            host: Some(host.as_str().to_owned()),
            http: Some(HTTPIngressRuleValue {
                paths: paths
                    .iter()
                    .map(|(path, component)| HTTPIngressPath {
                        path: Some(path.clone()),
                        path_type: "Prefix".to_owned(),
                        backend: service_backend(component.as_str()),
                    })
                    .collect(),
            }),
        })
        .collect();
    let hosts: Vec<String> = routes.hosts.keys().map(|h| h.as_str().to_owned()).collect();
    let name = app.part_of().to_string();
    let annotations: BTreeMap<String, String> = issuer(routes.tls.as_ref()).into_iter().collect();
    Some(Ingress {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(app.namespace.to_string()),
            labels: Some(BTreeMap::from([
                ("app.kubernetes.io/name".to_owned(), name.clone()),
                ("app.kubernetes.io/part-of".to_owned(), name),
                (
                    "app.kubernetes.io/managed-by".to_owned(),
                    MANAGED_BY.to_owned(),
                ),
            ])),
            annotations: (!annotations.is_empty()).then_some(annotations),
            ..ObjectMeta::default()
        },
        spec: Some(IngressSpec {
            ingress_class_name: Some(routes.class_name.as_str().to_owned()),
            rules: Some(rules),
            tls: routes.tls.as_ref().map(|t| tls(hosts, t)),
            default_backend: None,
        }),
        ..Ingress::default()
    })
}

/// A backend: the Service `name` on its `http` port.
fn service_backend(name: &str) -> IngressBackend {
    IngressBackend {
        service: Some(IngressServiceBackend {
            name: name.to_owned(),
            port: Some(ServiceBackendPort {
                name: Some(HTTP_PORT_NAME.to_owned()),
                number: None,
            }),
        }),
        resource: None,
    }
}

/// TLS for `hosts` with the certificate in `t`'s Secret.
fn tls(hosts: Vec<String>, t: &IngressTls) -> Vec<IngressTLS> {
    vec![IngressTLS {
        hosts: Some(hosts),
        secret_name: Some(t.secret_name.as_str().to_owned()),
    }]
}

/// cert-manager's annotation, when a ClusterIssuer is named.
fn issuer(t: Option<&IngressTls>) -> Option<(String, String)> {
    let issuer = t?.cluster_issuer.as_ref()?;
    Some((
        "cert-manager.io/cluster-issuer".to_owned(),
        issuer.as_str().to_owned(),
    ))
}

#[cfg(test)]
mod tests {
    use super::nginx_size;

    #[test]
    fn sizes_use_the_largest_exact_unit() {
        assert_eq!(nginx_size(2 * 1024 * 1024), "2m");
        assert_eq!(nginx_size(1536 * 1024), "1536k");
        assert_eq!(nginx_size(1000), "1000");
    }
}
