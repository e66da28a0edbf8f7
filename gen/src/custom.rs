//! Custom resources: `apiVersion` and `kind` come from the spec's type, so a spec can
//! never be emitted under the wrong kind, and the whole object implements k8s-openapi's
//! own [`Resource`] and [`Metadata`] traits, like every built-in kind.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::{Metadata, NamespaceResourceScope, Resource};
use serde::Serialize;

/// Where a custom resource's spec type lives in the API: its CRD's group, version, kind
/// and plural.
pub trait CustomKind {
    /// `group/version`, e.g. `monitoring.coreos.com/v1`.
    const API_VERSION: &'static str;
    /// API group, e.g. `monitoring.coreos.com`.
    const GROUP: &'static str;
    /// Version inside the group, e.g. `v1`.
    const VERSION: &'static str;
    /// Kind, e.g. `PrometheusRule`.
    const KIND: &'static str;
    /// The CRD's plural name, e.g. `prometheusrules`.
    const PLURAL: &'static str;
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

impl<S: CustomKind> Resource for CustomResource<S> {
    const API_VERSION: &'static str = S::API_VERSION;
    const GROUP: &'static str = S::GROUP;
    const KIND: &'static str = S::KIND;
    const VERSION: &'static str = S::VERSION;
    const URL_PATH_SEGMENT: &'static str = S::PLURAL;
    type Scope = NamespaceResourceScope;
}

impl<S: CustomKind> Metadata for CustomResource<S> {
    type Ty = ObjectMeta;

    fn metadata(&self) -> &ObjectMeta {
        &self.metadata
    }

    fn metadata_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}
