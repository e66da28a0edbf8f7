//! `gen`: typed Kubernetes manifests for the akidb-embed server, one YAML stream per
//! environment.
//!
//! The [`pipeline`] names the stages every command runs: `environments/<name>.yaml` is
//! loaded into typed [`settings`] (unknown keys are errors) and checked, the component
//! ([`components`]) turns them into a [`workload::Plan`] from the server's own contract,
//! [`objects`] builds typed k8s-openapi objects, [`lint`] runs the cross-object rules and
//! [`render`] writes one YAML stream in a fixed order. [`commands`] holds one module per
//! command over plain options; [`cli`] only their clap types. [`validate`] checks a
//! rendered stream against the Kubernetes schemas with a real validator.

pub mod catalog;
pub mod cli;
pub mod commands;
pub mod components;
pub mod crds;
pub mod custom;
pub mod lint;
pub mod monitoring;
pub mod objects;
pub mod output;
pub mod pipeline;
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
