//! `gen`: typed Kubernetes manifests for the akidb-embed server, one YAML stream per
//! environment.
//!
//! `environments/<name>.yaml` is read into a typed [`settings::Environment`] (unknown keys
//! are errors), combined with the server's own contract into a [`workload::Plan`], built
//! into typed k8s-openapi [`objects`] and [`render`]ed in a fixed order. [`validate`] checks
//! a rendered stream against the Kubernetes schemas with a real validator.

pub mod catalog;
pub mod check;
pub mod cli;
pub mod diff;
pub mod embed;
pub mod lint;
pub mod objects;
pub mod output;
pub mod reference;
pub mod render;
pub mod schema;
pub mod settings;
pub mod validate;
pub mod workload;

pub use catalog::Catalog;
pub use objects::Object;
pub use settings::Environment;
pub use workload::{Plan, Workload};
