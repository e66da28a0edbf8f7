//! The generated PrometheusRule through Debian's `promtool`: `check rules` accepts it, and
//! `test rules` runs unit tests (written here from the contract's metric names) in which
//! every alert fires on the series that should fire it and stays quiet on the ones that
//! should not.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use akidb_gen::monitoring::kube::{self, labels as k};
use akidb_gen::monitoring::promql::Selector;
use akidb_gen::monitoring::rules::{self, Alert, PrometheusRuleSpec, QUANTILE_LABEL};
use app::metrics::{self, labels as m};
use e2e::monitoring::{self, promtool};
use serde_json::{Value, json};

fn rules_spec() -> PrometheusRuleSpec {
    monitoring::objects().prometheus_rule.spec
}

fn write_rules(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("rules.yaml");
    std::fs::write(&path, serde_saphyr::to_string(&rules_spec()).unwrap()).unwrap();
    path
}

fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("could not run {cmd:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{text}",
        out.status
    );
    text
}

#[test]
fn promtool_check_rules_accepts_the_generated_rules() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_rules(dir.path());
    let out = run(Command::new(promtool())
        .arg("check")
        .arg("rules")
        .arg(&path));
    let count: usize = rules_spec().groups.iter().map(|g| g.rules.len()).sum();
    assert!(
        out.contains(&format!("SUCCESS: {count} rules found")),
        "{out}"
    );
}

/// One promtool test: input series, then whether `alert` fires at `eval` and with what.
struct Case {
    alert: &'static str,
    name: &'static str,
    series: Vec<(String, String)>,
    eval: &'static str,
    /// Labels of each expected alert (severity and alertname are added); empty: quiet.
    fires: Vec<BTreeMap<String, String>>,
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

const POD: &str = "akidb-embed-7d9f-abcde";

/// The server's series as the ServiceMonitor labels them, plus `extra`.
fn server(extra: &[(&str, &str)]) -> Selector {
    let mut s = monitoring::scope().server().eq(k::POD, POD);
    for (l, v) in extra {
        s = s.eq(l, v);
    }
    s
}

/// A kube-state-metrics series of the server's container in `namespace`.
fn ksm(namespace: &str, extra: &[(&str, &str)]) -> Selector {
    let scope = monitoring::scope();
    let mut s = Selector::default()
        .eq(k::NAMESPACE, namespace)
        .eq(k::POD, POD)
        .eq(k::CONTAINER, &scope.container)
        .eq(k::JOB, "kube-state-metrics");
    for (l, v) in extra {
        s = s.eq(l, v);
    }
    s
}

fn embed_requests(status: &str, values: &str) -> (String, String) {
    let s = server(&[
        (m::ROUTE, app::routes::EMBED),
        (m::METHOD, "POST"),
        (m::STATUS, status),
    ]);
    (s.of(&metrics::HTTP_REQUESTS.total()), values.to_owned())
}

/// Latency buckets of `/api/v1/embed` where every request takes about `seconds`.
fn latency(seconds: f64) -> Vec<(String, String)> {
    let h = &metrics::HTTP_REQUEST_DURATION;
    let mut bounds: Vec<String> = h.buckets.iter().map(|b| format!("{b:?}")).collect();
    bounds.push("+Inf".into());
    bounds
        .into_iter()
        .map(|le| {
            let bound: f64 = le.parse().unwrap_or(f64::INFINITY);
            let per_minute = if bound >= seconds { 60 } else { 0 };
            let s = server(&[(m::ROUTE, app::routes::EMBED), (m::LE, &le)]);
            (s.of(&h.bucket()), format!("0+{per_minute}x30"))
        })
        .collect()
}

fn cases() -> Vec<Case> {
    let scope = monitoring::scope();
    let ns = scope.namespace.as_str();
    let job = scope.job.as_str();
    let container = scope.container.as_str();
    let objectives = monitoring::objectives();
    let quantile = objectives.latency.quantile.to_string();
    let ns_job = labels(&[(k::NAMESPACE, ns), (k::JOB, job)]);
    let pod = labels(&[(k::NAMESPACE, ns), (k::POD, POD), (k::CONTAINER, container)]);
    let ready = metrics::READY.series();
    let restart_once = "0 0 0 1 1 1 1 1 1 1".to_owned();
    let restarts = |namespace: &str| ksm(namespace, &[]).of(kube::RESTARTS);
    let reason = |r: &str| ksm(ns, &[(k::REASON, r)]).of(kube::LAST_TERMINATED_REASON);
    let failures =
        |model: &str| server(&[(m::MODEL, model)]).of(&metrics::MODEL_LOAD_FAILURES.total());
    let rejected = server(&[]).of(&metrics::QUEUE_REJECTED.total());
    let health_503 = server(&[
        (m::ROUTE, app::routes::HEALTH_READY),
        (m::METHOD, "GET"),
        (m::STATUS, "503"),
    ])
    .of(&metrics::HTTP_REQUESTS.total());
    let mut slow = latency(2.0);
    slow.push(embed_requests("200", "0+60x30"));
    let mut fast = latency(0.05);
    fast.push(embed_requests("200", "0+60x30"));
    vec![
        Case {
            alert: "AkidbEmbedNoReadyPods",
            name: "the only pod reports unready",
            series: vec![(server(&[]).of(ready), "0x20".into())],
            eval: "10m",
            fires: vec![ns_job.clone()],
        },
        Case {
            alert: "AkidbEmbedNoReadyPods",
            name: "no pod is scraped at all",
            series: vec![(
                server(&[]).of(metrics::INFLIGHT_REQUESTS.series()),
                "0x20".into(),
            )],
            eval: "10m",
            fires: vec![ns_job.clone()],
        },
        Case {
            alert: "AkidbEmbedNoReadyPods",
            name: "one pod ready, one not",
            series: vec![
                (server(&[]).of(ready), "1x20".into()),
                (
                    monitoring::scope().server().eq(k::POD, "other").of(ready),
                    "0x20".into(),
                ),
            ],
            eval: "10m",
            fires: vec![],
        },
        Case {
            alert: "AkidbEmbedErrorRatioHigh",
            name: "one embedding request in eleven fails",
            series: vec![
                embed_requests("200", "0+60x20"),
                embed_requests("500", "0+6x20"),
            ],
            eval: "15m",
            fires: vec![ns_job.clone()],
        },
        Case {
            alert: "AkidbEmbedErrorRatioHigh",
            name: "no 5xx on embedding routes; probes answering 503 do not count",
            series: vec![
                embed_requests("200", "0+60x20"),
                embed_requests("500", "0x20"),
                (health_503, "0+60x20".into()),
            ],
            eval: "15m",
            fires: vec![],
        },
        Case {
            alert: "AkidbEmbedLatencyHigh",
            name: "requests take about 2 s",
            series: slow,
            eval: "20m",
            fires: vec![labels(&[
                (k::NAMESPACE, ns),
                (k::JOB, job),
                (QUANTILE_LABEL, &quantile),
            ])],
        },
        Case {
            alert: "AkidbEmbedLatencyHigh",
            name: "requests take about 50 ms",
            series: fast,
            eval: "20m",
            fires: vec![],
        },
        Case {
            alert: "AkidbEmbedQueueRejecting",
            name: "five 429s a minute",
            series: vec![(rejected.clone(), "0+5x30".into())],
            eval: "20m",
            fires: vec![ns_job.clone()],
        },
        Case {
            alert: "AkidbEmbedQueueRejecting",
            name: "no 429",
            series: vec![(rejected, "0x30".into())],
            eval: "20m",
            fires: vec![],
        },
        Case {
            alert: "AkidbEmbedModelLoadFailed",
            name: "an on-demand load of e5-small-v2 fails",
            series: vec![
                (failures("e5-small-v2"), restart_once.clone()),
                (failures("all-MiniLM-L6-v2"), "0x10".into()),
            ],
            eval: "5m",
            fires: vec![labels(&[
                (k::NAMESPACE, ns),
                (k::JOB, job),
                (m::MODEL, "e5-small-v2"),
            ])],
        },
        Case {
            alert: "AkidbEmbedModelLoadFailed",
            name: "no load fails",
            series: vec![(failures("e5-small-v2"), "0x10".into())],
            eval: "5m",
            fires: vec![],
        },
        Case {
            alert: "AkidbEmbedRestarting",
            name: "the container restarts once",
            series: vec![(restarts(ns), restart_once.clone())],
            eval: "5m",
            fires: vec![pod.clone()],
        },
        Case {
            alert: "AkidbEmbedRestarting",
            name: "only a container in another namespace restarts",
            series: vec![
                (restarts(ns), "0x10".into()),
                (restarts("akidb-staging"), restart_once.clone()),
            ],
            eval: "5m",
            fires: vec![],
        },
        Case {
            alert: "AkidbEmbedOOMKilled",
            name: "the container restarts after an OOM kill",
            series: vec![
                (restarts(ns), restart_once.clone()),
                (reason("OOMKilled"), "1x10".into()),
            ],
            eval: "5m",
            fires: vec![pod.clone()],
        },
        Case {
            alert: "AkidbEmbedOOMKilled",
            name: "the container restarts after an error exit",
            series: vec![
                (restarts(ns), restart_once),
                (reason("Error"), "1x10".into()),
            ],
            eval: "5m",
            fires: vec![],
        },
    ]
}

/// `{{ $labels.x }}` replaced by the alert's labels, as Prometheus expands annotations.
fn expand(template: &str, labels: &BTreeMap<String, String>) -> String {
    let mut out = template.to_owned();
    for (k, v) in labels {
        out = out.replace(&format!("{{{{ $labels.{k} }}}}"), v);
    }
    assert!(!out.contains("{{"), "unexpanded template in {out:?}");
    out
}

fn test_group(case: &Case, alert: &Alert) -> Value {
    let rule = alert.rule(monitoring::RUNBOOK_BASE);
    let expected: Vec<Value> = case
        .fires
        .iter()
        .map(|l| {
            let mut l = l.clone();
            l.insert("severity".into(), alert.severity.as_str().into());
            let annotations: BTreeMap<&String, String> = rule
                .annotations
                .iter()
                .map(|(k, v)| (k, expand(v, &l)))
                .collect();
            json!({ "exp_labels": l, "exp_annotations": annotations })
        })
        .collect();
    json!({
        "name": format!("{}: {}", case.alert, case.name),
        "interval": "1m",
        "input_series": case.series.iter()
            .map(|(s, v)| json!({ "series": s, "values": v }))
            .collect::<Vec<_>>(),
        "alert_rule_test": [{
            "eval_time": case.eval,
            "alertname": case.alert,
            "exp_alerts": expected,
        }],
    })
}

#[test]
fn promtool_unit_tests_make_every_alert_fire_and_stay_quiet() {
    let alerts = rules::alerts(&monitoring::scope(), &monitoring::objectives()).unwrap();
    let cases = cases();
    let fire: BTreeSet<&str> = cases
        .iter()
        .filter(|c| !c.fires.is_empty())
        .map(|c| c.alert)
        .collect();
    let quiet: BTreeSet<&str> = cases
        .iter()
        .filter(|c| c.fires.is_empty())
        .map(|c| c.alert)
        .collect();
    let names: BTreeSet<&str> = alerts.iter().map(|a| a.name).collect();
    assert_eq!(fire, names, "every alert needs a case that fires it");
    assert_eq!(quiet, names, "every alert needs a case that keeps it quiet");

    let dir = tempfile::tempdir().unwrap();
    write_rules(dir.path());
    let groups: Vec<Value> = cases
        .iter()
        .map(|c| {
            let alert = alerts.iter().find(|a| a.name == c.alert).unwrap();
            test_group(c, alert)
        })
        .collect();
    let tests = json!({
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "1m",
        "tests": groups,
    });
    let path = dir.path().join("tests.yaml");
    std::fs::write(&path, serde_saphyr::to_string(&tests).unwrap()).unwrap();
    let out = run(Command::new(promtool())
        .current_dir(dir.path())
        .arg("test")
        .arg("rules")
        .arg(&path));
    assert!(out.contains("SUCCESS"), "{out}");
}
