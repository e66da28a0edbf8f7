//! What the monitoring tests share: Debian's Prometheus tools, and the monitoring objects
//! of an environment shaped like prod.

use std::collections::BTreeMap;
use std::path::PathBuf;

use akidb_gen::monitoring::objects::{self, Input, Objects};
use akidb_gen::monitoring::service_monitor::MetricsService;
use akidb_gen::monitoring::{Objectives, Scope};

/// Where the runbook is published in the fixture.
pub const RUNBOOK_BASE: &str = "https://example.invalid/akidb-embed/blob/main/docs/operations.md";

fn tool(name: &str, env: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(env) {
        return PathBuf::from(p);
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "`{name}` is not installed: install Debian's prometheus package \
                 (`apt-get install prometheus`, as .ci/run does), or set {env} to the binary"
            )
        })
}

/// `promtool` (`PROMTOOL`, else on `PATH`).
#[must_use]
pub fn promtool() -> PathBuf {
    tool("promtool", "PROMTOOL")
}

/// The Prometheus server (`PROMETHEUS`, else `prometheus` on `PATH`).
#[must_use]
pub fn prometheus() -> PathBuf {
    tool("prometheus", "PROMETHEUS")
}

/// The metrics Service of the fixture: named and labelled as prod's.
#[must_use]
pub fn metrics_service() -> MetricsService {
    MetricsService {
        name: "akidb-embed-metrics".into(),
        namespace: "akidb-prod".into(),
        labels: BTreeMap::from([
            ("app.kubernetes.io/instance".into(), "akidb-embed".into()),
            ("app.kubernetes.io/name".into(), "akidb-embed".into()),
        ]),
        port_name: "metrics".into(),
    }
}

/// The fixture's objectives: the defaults (p99 within 1 s, 1 % errors).
#[must_use]
pub fn objectives() -> Objectives {
    Objectives::default()
}

fn with_input<T>(f: impl FnOnce(&Input<'_>) -> T) -> T {
    let service = metrics_service();
    let labels = service.labels.clone();
    let objectives = objectives();
    f(&Input {
        name: "akidb-embed",
        labels: &labels,
        metrics_service: &service,
        deployment: "akidb-embed",
        container: "akidb-embed",
        autoscaler: Some("akidb-embed"),
        objectives: &objectives,
        runbook_base: RUNBOOK_BASE,
    })
}

/// The scope the fixture's rules and dashboard select.
#[must_use]
pub fn scope() -> Scope {
    with_input(|i| i.scope())
}

/// The fixture's ServiceMonitor, PrometheusRule and dashboard ConfigMap.
///
/// # Panics
/// When the fixture's objectives are refused.
#[must_use]
pub fn objects() -> Objects {
    with_input(|i| objects::build(i).unwrap_or_else(|e| panic!("fixture objectives: {e}")))
}
