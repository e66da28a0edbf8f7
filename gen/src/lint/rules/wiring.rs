//! Services, Ingresses, probes and scrape annotations point at things that exist.

use k8s_openapi::api::core::v1::{Container, Probe};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::super::index::display;
use super::{Findings, Index};

pub(super) fn check(index: &Index<'_>, f: &mut Findings<'_>) {
    services(index, f);
    ingresses(index, f);
    probes(index, f);
}

fn declares(containers: &[&Container], port: &IntOrString) -> bool {
    containers
        .iter()
        .flat_map(|c| c.ports.iter().flatten())
        .any(|p| match port {
            IntOrString::String(name) => p.name.as_deref() == Some(name.as_str()),
            IntOrString::Int(n) => p.container_port == *n,
        })
}

/// Whether `target` (a Service targetPort) reaches container port number `n`.
fn targets(containers: &[&Container], target: &IntOrString, n: i32) -> bool {
    match target {
        IntOrString::Int(t) => *t == n,
        IntOrString::String(name) => containers
            .iter()
            .flat_map(|c| c.ports.iter().flatten())
            .any(|p| p.name.as_deref() == Some(name.as_str()) && p.container_port == n),
    }
}

fn show(port: &IntOrString) -> String {
    match port {
        IntOrString::String(s) => format!("`{s}`"),
        IntOrString::Int(n) => n.to_string(),
    }
}

fn services(index: &Index<'_>, f: &mut Findings<'_>) {
    for svc in index.services() {
        let who = display("Service", svc.metadata.name.as_ref());
        let Some(spec) = &svc.spec else { continue };
        if spec.type_.as_deref() == Some("ExternalName") {
            continue;
        }
        let selector = spec.selector.clone().unwrap_or_default();
        if selector.is_empty() {
            f.add(
                "service-selects-pods",
                who,
                "spec.selector",
                "is empty: the Service selects no pods",
            );
            continue;
        }
        let selected: Vec<_> = index.pod_owners_matching(&selector).collect();
        if selected.is_empty() {
            f.add(
                "service-selects-pods",
                who,
                "spec.selector",
                format!("{selector:?} matches the pod labels of no Deployment or StatefulSet"),
            );
            continue;
        }
        let containers: Vec<&Container> = selected.iter().flat_map(|d| d.containers()).collect();
        let public = matches!(spec.type_.as_deref(), Some("NodePort" | "LoadBalancer"));
        let scraped: Vec<i32> = selected
            .iter()
            .filter_map(|d| d.annotations().get("prometheus.io/port")?.parse().ok())
            .collect();
        for (i, p) in spec.ports.iter().flatten().enumerate() {
            let target = p.target_port.clone().unwrap_or(IntOrString::Int(p.port));
            if public && scraped.iter().any(|n| targets(&containers, &target, *n)) {
                f.add(
                    "metrics-port-private",
                    who.clone(),
                    format!("spec.ports[{i}]"),
                    format!(
                        "{} is the scraped metrics port, on a {} Service: move it to a ClusterIP Service",
                        show(&target),
                        spec.type_.as_deref().unwrap_or_default()
                    ),
                );
            }
            if !declares(&containers, &target) {
                f.add(
                    "service-target-port-exists",
                    who.clone(),
                    format!("spec.ports[{i}].targetPort"),
                    format!("{} is not a port of the selected containers", show(&target)),
                );
            }
        }
    }
}

fn ingresses(index: &Index<'_>, f: &mut Findings<'_>) {
    for ing in index.ingresses() {
        let who = display("Ingress", ing.metadata.name.as_ref());
        let Some(spec) = &ing.spec else { continue };
        let mut backends = Vec::new();
        if let Some(b) = &spec.default_backend {
            backends.push(("spec.defaultBackend".to_owned(), b));
        }
        for (r, rule) in spec.rules.iter().flatten().enumerate() {
            for (p, path) in rule.http.iter().flat_map(|h| h.paths.iter()).enumerate() {
                backends.push((
                    format!("spec.rules[{r}].http.paths[{p}].backend"),
                    &path.backend,
                ));
            }
        }
        for (field, backend) in backends {
            let Some(target) = &backend.service else {
                continue;
            };
            let Some(svc) = index.services_named(Some(&target.name)).next() else {
                f.add(
                    "ingress-backend-exists",
                    who.clone(),
                    format!("{field}.service.name"),
                    format!("Service `{}` is not emitted", target.name),
                );
                continue;
            };
            let Some(port) = &target.port else { continue };
            let ports = svc
                .spec
                .as_ref()
                .and_then(|s| s.ports.clone())
                .unwrap_or_default();
            let found = ports.iter().any(|p| match (&port.name, port.number) {
                (Some(n), _) => p.name.as_deref() == Some(n.as_str()),
                (None, Some(num)) => p.port == num,
                (None, None) => false,
            });
            if !found {
                let wanted = port
                    .name
                    .clone()
                    .or_else(|| port.number.map(|n| n.to_string()))
                    .unwrap_or_default();
                f.add(
                    "ingress-backend-exists",
                    who.clone(),
                    format!("{field}.service.port"),
                    format!("Service `{}` has no port `{wanted}`", target.name),
                );
            }
        }
    }
}

fn probe_port(p: &Probe) -> Option<&IntOrString> {
    p.http_get
        .as_ref()
        .map(|h| &h.port)
        .or_else(|| p.tcp_socket.as_ref().map(|t| &t.port))
}

fn probes(index: &Index<'_>, f: &mut Findings<'_>) {
    for d in index.pod_owners() {
        let who = d.who();
        let containers: Vec<&Container> = d.containers().collect();
        for (base, c) in d.containers_at() {
            let one = [c];
            for (kind, probe) in [
                ("startupProbe", &c.startup_probe),
                ("livenessProbe", &c.liveness_probe),
                ("readinessProbe", &c.readiness_probe),
            ] {
                let Some(port) = probe.as_ref().and_then(probe_port) else {
                    continue;
                };
                if !declares(&one, port) {
                    f.add(
                        "probe-port-declared",
                        who.clone(),
                        format!("{base}.{kind}"),
                        format!(
                            "port {} is not declared by container `{}`",
                            show(port),
                            c.name
                        ),
                    );
                }
            }
            let target = |p: &Option<Probe>| {
                p.as_ref()
                    .and_then(|p| p.http_get.as_ref())
                    .map(|h| (h.path.clone(), h.port.clone()))
            };
            if let (Some(live), Some(ready)) =
                (target(&c.liveness_probe), target(&c.readiness_probe))
                && live == ready
            {
                f.add(
                    "liveness-differs-from-readiness",
                    who.clone(),
                    format!("{base}.livenessProbe"),
                    format!(
                        "checks {} like the readiness probe; a busy pod would be restarted",
                        live.0.unwrap_or_default()
                    ),
                );
            }
        }
        let annotations = d.annotations();
        if annotations.get("prometheus.io/scrape").map(String::as_str) == Some("true") {
            let port = annotations.get("prometheus.io/port");
            let declared = port
                .and_then(|p| p.parse::<i32>().ok())
                .is_some_and(|n| declares(&containers, &IntOrString::Int(n)));
            if !declared {
                f.add(
                    "scrape-port-declared",
                    who.clone(),
                    "spec.template.metadata.annotations.prometheus.io/port",
                    format!("{port:?} is not a declared container port number"),
                );
            }
        }
    }
}
