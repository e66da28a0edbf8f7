//! Reading a YAML stream back into typed objects, so the rules can check manifests that
//! did not come from `gen` alone (a kustomize overlay's output, a hand edit).

use serde_json::Value;

use super::Object;

/// Why a stream could not be read as objects.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// Not YAML.
    #[error("{source_name}: not a YAML stream: {message}")]
    Yaml {
        /// Where the text came from.
        source_name: String,
        /// Parser message.
        message: String,
    },
    /// A document of a kind the rules do not model.
    #[error(
        "{source_name}: document {index}: {api_version}/{kind} is not a kind gen models ({known})"
    )]
    UnknownKind {
        /// Where the text came from.
        source_name: String,
        /// 1-based document number.
        index: usize,
        /// apiVersion.
        api_version: String,
        /// kind.
        kind: String,
        /// The kinds that are understood.
        known: String,
    },
    /// A document whose fields do not match its kind's schema.
    #[error("{source_name}: document {index} ({kind}): {source}")]
    Invalid {
        /// Where the text came from.
        source_name: String,
        /// 1-based document number.
        index: usize,
        /// kind.
        kind: String,
        /// The type error.
        #[source]
        source: serde_json::Error,
    },
}

/// The kinds that are read, for the message about one that is not.
fn known() -> String {
    Object::BUILT_IN
        .iter()
        .filter(|(version, _)| !version.is_empty())
        .map(|(version, kind)| format!("{version}/{kind}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Parses every document of `text`; empty documents and custom resources are skipped.
///
/// # Errors
/// Invalid YAML, an unknown kind, or fields that do not fit the kind.
pub fn parse_stream(text: &str, source_name: &str) -> Result<Vec<Object>, ParseError> {
    let docs: Vec<Value> = serde_saphyr::from_multiple(text).map_err(|e| ParseError::Yaml {
        source_name: source_name.to_owned(),
        message: e.to_string(),
    })?;
    let mut out = Vec::new();
    for (i, doc) in docs.into_iter().enumerate().filter(|(_, d)| !d.is_null()) {
        let field = |k: &str| {
            doc.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let (api_version, kind) = (field("apiVersion"), field("kind"));
        let invalid = |source| ParseError::Invalid {
            source_name: source_name.to_owned(),
            index: i + 1,
            kind: kind.clone(),
            source,
        };
        // Custom resources are not the rules' to model; `gen check --crds` validates
        // them against their CRDs, and the schema validator refuses them without one.
        if !crate::crds::is_built_in(&api_version) {
            continue;
        }
        let Some(object) = Object::from_document(&api_version, &kind, doc) else {
            return Err(ParseError::UnknownKind {
                source_name: source_name.to_owned(),
                index: i + 1,
                api_version,
                kind,
                known: known(),
            });
        };
        let object = object.map_err(invalid)?;
        out.push(object);
    }
    Ok(out)
}
