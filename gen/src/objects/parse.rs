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
        known: &'static str,
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

const KNOWN: &str = "Namespace, ServiceAccount, ConfigMap, PersistentVolumeClaim, Service, Deployment, \
HorizontalPodAutoscaler (autoscaling/v2), PodDisruptionBudget, Ingress, NetworkPolicy, ResourceQuota";

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
        let object = match (api_version.as_str(), kind.as_str()) {
            ("v1", "Namespace") => Object::Namespace(serde_json::from_value(doc).map_err(invalid)?),
            ("v1", "ServiceAccount") => {
                Object::ServiceAccount(serde_json::from_value(doc).map_err(invalid)?)
            }
            ("v1", "ConfigMap") => Object::ConfigMap(serde_json::from_value(doc).map_err(invalid)?),
            ("v1", "PersistentVolumeClaim") => {
                Object::PersistentVolumeClaim(serde_json::from_value(doc).map_err(invalid)?)
            }
            ("v1", "Service") => Object::Service(serde_json::from_value(doc).map_err(invalid)?),
            ("apps/v1", "Deployment") => {
                Object::Deployment(serde_json::from_value(doc).map_err(invalid)?)
            }
            ("autoscaling/v2", "HorizontalPodAutoscaler") => {
                Object::HorizontalPodAutoscaler(serde_json::from_value(doc).map_err(invalid)?)
            }
            ("policy/v1", "PodDisruptionBudget") => {
                Object::PodDisruptionBudget(serde_json::from_value(doc).map_err(invalid)?)
            }
            ("networking.k8s.io/v1", "Ingress") => {
                Object::Ingress(serde_json::from_value(doc).map_err(invalid)?)
            }
            ("networking.k8s.io/v1", "NetworkPolicy") => {
                Object::NetworkPolicy(serde_json::from_value(doc).map_err(invalid)?)
            }
            ("v1", "ResourceQuota") => {
                Object::ResourceQuota(serde_json::from_value(doc).map_err(invalid)?)
            }
            // Custom resources are not the rules' to model; `gen check --crds` validates
            // them against their CRDs, and the schema validator refuses them without one.
            _ if !crate::crds::is_built_in(&api_version) => continue,
            _ => {
                return Err(ParseError::UnknownKind {
                    source_name: source_name.to_owned(),
                    index: i + 1,
                    api_version,
                    kind,
                    known: KNOWN,
                });
            }
        };
        out.push(object);
    }
    Ok(out)
}
