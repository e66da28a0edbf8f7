//! The monitoring objects against what reads them: the ServiceMonitor and PrometheusRule
//! against the prometheus-operator CRDs in `../shared/crds/` (strictly: a field the API
//! server would prune is an error), the dashboard ConfigMap against Kubernetes' own schema,
//! and every alert's runbook link against the sections of `docs/operations.md`.

use std::path::Path;

use akidb_gen::monitoring::heading_anchor;
use akidb_gen::validate;
use e2e::monitoring::{self, RUNBOOK_BASE};
use e2e::{crd_catalog, root, validator};
use serde_json::Value;

/// Problems of `objects` against the upstream CRDs (`gen check --crds`'s own check).
fn violations(objects: &[Value]) -> Vec<String> {
    crd_catalog()
        .check(objects, &[])
        .iter()
        .map(ToString::to_string)
        .collect()
}

fn assert_valid(object: &Value) {
    let found = violations(std::slice::from_ref(object));
    assert!(
        found.is_empty(),
        "{}\n{}",
        found.join("\n"),
        serde_json::to_string_pretty(object).unwrap()
    );
}

#[test]
fn the_service_monitor_is_valid_against_its_crd() {
    let sm = serde_json::to_value(monitoring::objects().service_monitor).unwrap();
    assert_valid(&sm);
}

#[test]
fn the_prometheus_rule_is_valid_against_its_crd() {
    let rule = serde_json::to_value(monitoring::objects().prometheus_rule).unwrap();
    assert_valid(&rule);
}

#[test]
fn the_validator_refuses_a_field_the_api_server_would_prune() {
    // The check above means something only if a misspelt field fails it.
    let mut sm = serde_json::to_value(monitoring::objects().service_monitor).unwrap();
    sm["spec"]["endpoints"][0]["scrapeIntervall"] = "30s".into();
    let mut rule = serde_json::to_value(monitoring::objects().prometheus_rule).unwrap();
    rule["spec"]["groups"][0]["rules"][3]["for"] = "five minutes".into();
    let text = violations(&[sm]).join("\n");
    assert!(text.contains("scrapeIntervall"), "{text}");
    let text = violations(&[rule]).join("\n");
    assert!(text.contains("five minutes"), "{text}");
}

#[test]
fn the_dashboard_config_map_is_a_valid_config_map() {
    let cm = monitoring::objects().dashboard;
    let yaml = serde_saphyr::to_string(&serde_json::json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": cm.metadata,
        "data": cm.data,
    }))
    .unwrap();
    let report = validate::validate(&yaml, "1.33", &validator())
        .unwrap_or_else(|e| panic!("validator: {e}"));
    assert!(report.is_ok(), "{report}");
}

/// The anchors of every heading of a Markdown file.
fn anchors(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter(|l| l.starts_with('#'))
        .map(|l| heading_anchor(l.trim_start_matches('#')))
        .collect()
}

#[test]
fn every_runbook_link_lands_on_a_section_of_the_operations_guide() {
    let doc = root().join("docs/operations.md");
    let anchors = anchors(&doc);
    let rule = monitoring::objects().prometheus_rule.spec;
    let rule = serde_json::to_value(rule).unwrap();
    let mut alerts = 0;
    for group in rule["groups"].as_array().unwrap() {
        for r in group["rules"].as_array().unwrap() {
            let Some(url) = r["annotations"]["runbook_url"].as_str() else {
                continue;
            };
            alerts += 1;
            let anchor = url
                .strip_prefix(&format!("{RUNBOOK_BASE}#"))
                .unwrap_or_else(|| panic!("{url} does not point into the operations guide"));
            assert!(
                anchors.iter().any(|a| a == anchor),
                "{} has no section for #{anchor} (alert {})",
                doc.display(),
                r["alert"]
            );
        }
    }
    assert!(alerts > 0, "no alert carries a runbook_url");
}

#[test]
fn the_operations_guide_names_every_series_from_outside_the_server() {
    let doc = std::fs::read_to_string(root().join("docs/operations.md")).unwrap();
    let section = doc
        .split("### Series from kube-state-metrics and cAdvisor")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("docs/operations.md has a section on kube-state-metrics and cAdvisor series");
    for (name, exporter) in akidb_gen::monitoring::kube::ALL {
        assert!(
            section.contains(&format!("`{name}`")),
            "docs/operations.md does not say that {name} comes from {exporter:?}"
        );
    }
}
