//! A custom resource: `apiVersion` and `kind` come from the spec's type, so a spec can
//! never be emitted under the wrong kind.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;

/// The group/version and kind of a custom resource's spec type.
pub trait CustomKind {
    /// `group/version`, e.g. `monitoring.coreos.com/v1`.
    const API_VERSION: &'static str;
    /// Kind, e.g. `PrometheusRule`.
    const KIND: &'static str;
}

/// A whole custom object: type meta, metadata and spec.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomResource<S> {
    api_version: &'static str,
    kind: &'static str,
    /// Name, namespace, labels.
    pub metadata: ObjectMeta,
    /// The kind's spec.
    pub spec: S,
}

impl<S: CustomKind> CustomResource<S> {
    /// The object `spec` under `metadata`.
    #[must_use]
    pub fn new(metadata: ObjectMeta, spec: S) -> Self {
        CustomResource {
            api_version: S::API_VERSION,
            kind: S::KIND,
            metadata,
            spec,
        }
    }

    /// `apiVersion`.
    #[must_use]
    pub fn api_version(&self) -> &'static str {
        self.api_version
    }

    /// `kind`.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        self.kind
    }
}
