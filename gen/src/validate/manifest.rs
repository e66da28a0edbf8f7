//! Who each document of the stream is (kind, name, namespace, apiVersion), read on this
//! side because neither validator says it all: kubernetes-validate prints the kind in lower
//! case and never the namespace, kubeconform never the namespace.

use serde_json::Value;

/// The identity of one document.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(super) struct Identity {
    pub(super) kind: Option<String>,
    pub(super) name: Option<String>,
    pub(super) namespace: Option<String>,
    pub(super) api_version: Option<String>,
}

/// The documents of `yaml` in order, skipping the ones kubernetes-validate skips (PyYAML
/// drops every document that is "falsy": empty, null, `{}`, `[]`, `0`, `false`, `""`).
/// `None` when the stream is not valid YAML; the validator will then say why.
pub(super) fn identities(yaml: &str) -> Option<Vec<Identity>> {
    let docs: Vec<Value> = serde_saphyr::from_multiple(yaml).ok()?;
    Some(
        docs.iter()
            .filter(|d| !falsy(d))
            .map(|d| {
                let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
                let meta = d.get("metadata");
                Identity {
                    kind: text(d.get("kind")),
                    name: text(meta.and_then(|m| m.get("name"))),
                    namespace: text(meta.and_then(|m| m.get("namespace"))),
                    api_version: text(d.get("apiVersion")),
                }
            })
            .collect(),
    )
}

fn falsy(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_each_document_and_skips_empty_ones() {
        let yaml = "# header\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: prod\n---\n---\n{}\n---\nkind: Foo\nmetadata:\n  name: 123\n";
        let ids = identities(yaml).unwrap();
        assert_eq!(
            ids,
            vec![
                Identity {
                    kind: Some("Deployment".to_owned()),
                    name: Some("web".to_owned()),
                    namespace: Some("prod".to_owned()),
                    api_version: Some("apps/v1".to_owned()),
                },
                Identity {
                    kind: Some("Foo".to_owned()),
                    ..Identity::default()
                },
            ]
        );
    }

    #[test]
    fn broken_yaml_gives_none() {
        assert_eq!(identities("a: [\n"), None);
    }
}
