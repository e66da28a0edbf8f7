//! The real server's `/metrics`, under traffic, exposes exactly the metric families of the
//! contract (`app::metrics`): the same names, types, help, label names and buckets.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use app::metrics::{self, Metric, labels};
use common::{Builder, require_minilm};
use serde_json::json;

/// One family as the exposition shows it.
#[derive(Debug, Default)]
struct Family {
    kind: String,
    help: String,
    /// Label names of every sample, `le` excluded.
    labels: BTreeSet<String>,
    /// `le` values of the `_bucket` samples.
    le: BTreeSet<String>,
    samples: usize,
}

/// `name{a="x",b="y"} 1` -> (`name`, [`a`, `b`] with values).
fn parse_sample(line: &str) -> (String, Vec<(String, String)>) {
    let (name, rest) = match line.find(['{', ' ']) {
        Some(i) => line.split_at(i),
        None => panic!("not a sample: {line:?}"),
    };
    let mut labels = Vec::new();
    if let Some(body) = rest.strip_prefix('{') {
        let mut chars = body.chars();
        loop {
            let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
            assert_eq!(chars.next(), Some('"'), "bad label in {line:?}");
            let mut value = String::new();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
            labels.push((key.trim_start_matches(',').to_owned(), value));
            match chars.next() {
                Some(',') if chars.as_str().starts_with('}') => break,
                Some(',') => {}
                Some('}') => break,
                other => panic!("unexpected {other:?} in {line:?}"),
            }
        }
    }
    (name.to_owned(), labels)
}

/// The families of an OpenMetrics text exposition, by name.
fn families(text: &str) -> BTreeMap<String, Family> {
    let mut out: BTreeMap<String, Family> = BTreeMap::new();
    for line in text.lines().filter(|l| !l.is_empty() && *l != "# EOF") {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            out.entry(name.to_owned()).or_default().kind = kind.to_owned();
        } else if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap();
            out.entry(name.to_owned()).or_default().help = help.to_owned();
        } else {
            let (sample, labels) = parse_sample(line);
            let (family, f) = out
                .iter_mut()
                .filter(|(name, _)| sample.starts_with(name.as_str()))
                .max_by_key(|(name, _)| name.len())
                .unwrap_or_else(|| panic!("sample {sample} belongs to no declared family"));
            let suffix = &sample[family.len()..];
            let allowed: &[&str] = match f.kind.as_str() {
                "counter" => &["_total"],
                "histogram" => &["_bucket", "_sum", "_count"],
                _ => &[""],
            };
            assert!(
                allowed.contains(&suffix),
                "sample {sample} does not fit its {} family {family}",
                f.kind
            );
            f.samples += 1;
            for (k, v) in labels {
                if k == labels::LE && suffix == "_bucket" {
                    f.le.insert(v);
                } else {
                    f.labels.insert(k);
                }
            }
        }
    }
    out
}

fn le_text(bound: f64) -> String {
    // prometheus-client writes bounds with Rust's float formatting, `1.0`, `0.005`.
    format!("{bound:?}")
}

#[test]
fn metrics_under_traffic_expose_exactly_the_contract() {
    let s = Builder::new(&require_minilm()).separate_metrics().start();
    s.embed(&json!({ "texts": ["the contract names every metric", "and its labels"] }));
    let r = s.post_json("/v1/embeddings", &json!({ "input": "openai route" }));
    assert_eq!(r.status, 200, "{}", r.body);
    s.post_json("/api/v1/embed", &json!({ "texts": [] }))
        .expect_error(400, "invalid_request");
    // e5-small-v2 is not in the model folder: an on-demand load that fails.
    s.post_json(
        "/api/v1/embed",
        &json!({ "texts": ["a"], "model": "e5-small-v2" }),
    )
    .expect_error(404, "model_not_found");

    let text = s.metrics();
    let exposed = families(&text);

    let names = |it: &mut dyn Iterator<Item = String>| it.collect::<BTreeSet<String>>();
    assert_eq!(
        names(&mut exposed.keys().cloned()),
        names(&mut metrics::ALL.iter().map(|m| m.name().to_owned())),
        "the exposed metric families differ from app::metrics::ALL:\n{text}"
    );
    for m in metrics::ALL {
        let f = &exposed[m.name()];
        assert_eq!(f.kind, m.type_name(), "type of {}", m.name());
        assert_eq!(f.help, format!("{}.", m.help()), "help of {}", m.name());
        assert!(
            f.samples > 0,
            "{} has no sample under this traffic, so its labels cannot be checked:\n{text}",
            m.name()
        );
        let want: BTreeSet<String> = m.labels().iter().map(|l| (*l).to_owned()).collect();
        assert_eq!(f.labels, want, "label names of {}:\n{text}", m.name());
        if let Metric::Histogram(h) = m {
            let mut want: BTreeSet<String> = h.buckets.iter().map(|b| le_text(*b)).collect();
            want.insert("+Inf".into());
            assert_eq!(f.le, want, "buckets of {}", m.name());
        }
    }

    // The failed load is counted on the model it was for; the others stay at 0.
    let failures = metrics::MODEL_LOAD_FAILURES.total();
    for (model, count) in [("e5-small-v2", 1), ("all-MiniLM-L6-v2", 0)] {
        let line = format!("{failures}{{{}=\"{model}\"}} {count}", labels::MODEL);
        assert!(text.contains(&line), "missing {line} in\n{text}");
    }
    // The process says which kernels it chose: the same as this machine's detection.
    let info = format!(
        "{}{{{}=\"{}\",{}=\"{}\"}} 1",
        metrics::BUILD_INFO.series(),
        labels::VERSION,
        env!("CARGO_PKG_VERSION"),
        labels::SIMD,
        app::server::simd::instructions()
    );
    assert!(text.contains(&info), "missing {info} in\n{text}");
}

#[test]
fn the_api_docs_table_lists_every_metric_by_its_sample_name() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/api.md");
    let doc = std::fs::read_to_string(path).unwrap();
    let section = doc
        .split("## `GET /metrics`")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("docs/api.md has a `GET /metrics` section");
    let documented: BTreeSet<String> = section
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|s| s.starts_with("akidb_"))
        .map(str::to_owned)
        .collect();
    // The table names what a query selects: counters with `_total`, histograms by family.
    let contract: BTreeSet<String> = metrics::ALL
        .iter()
        .map(|m| match m {
            Metric::Counter(c) => c.total(),
            other => other.name().to_owned(),
        })
        .collect();
    assert_eq!(documented, contract, "docs/api.md's metrics table");
}
