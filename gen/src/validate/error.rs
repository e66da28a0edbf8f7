//! Why validation could not produce a [`Report`](super::Report). A resource that breaks its
//! schema is not an error here: it is a result inside the report.

use std::fmt;
use std::path::PathBuf;

use super::Backend;

/// A validator binary that could not be found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tried {
    /// Which tool.
    pub backend: Backend,
    /// The program that was run (a bare name is looked up on `PATH`).
    pub program: PathBuf,
}

impl fmt::Display for Tried {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} as `{}` (not found: {})",
            self.backend,
            self.program.display(),
            self.backend.install_hint()
        )
    }
}

/// Why a validation run failed before it could judge the resources.
#[derive(Debug, thiserror::Error)]
pub enum ValidateError {
    /// The Kubernetes version is not `MAJOR.MINOR[.PATCH]`.
    #[error(
        "invalid Kubernetes version `{given}`: expected MAJOR.MINOR or MAJOR.MINOR.PATCH, e.g. 1.33 or 1.33.0"
    )]
    Version {
        /// What was given.
        given: String,
    },
    /// No validator binary could be found; each attempt says how to install that tool.
    #[error("no schema validator found; tried {}", tried.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    NotFound {
        /// Every binary looked for, in order.
        tried: Vec<Tried>,
    },
    /// The binary exists but could not be started or talked to (permissions, a broken pipe).
    #[error("cannot run {backend} as `{}`: {source}", program.display())]
    Run {
        /// Which tool.
        backend: Backend,
        /// The program.
        program: PathBuf,
        /// I/O failure.
        #[source]
        source: std::io::Error,
    },
    /// The temporary file handed to a validator that reads files could not be written.
    #[error("cannot write the manifests to a temporary file for {backend}: {source}")]
    TempFile {
        /// Which tool.
        backend: Backend,
        /// I/O failure.
        #[source]
        source: std::io::Error,
    },
    /// The validator does not know this Kubernetes version.
    #[error("{backend} (`{}`) does not support Kubernetes {version}: {message}", program.display())]
    UnsupportedVersion {
        /// Which tool.
        backend: Backend,
        /// The program.
        program: PathBuf,
        /// The version asked for.
        version: String,
        /// The tool's own words.
        message: String,
    },
    /// The validator crashed or printed something this wrapper cannot read.
    #[error("{backend} (`{}`) failed: {reason}; exit status: {status}; stderr: {stderr}", program.display())]
    Failed {
        /// Which tool.
        backend: Backend,
        /// The program.
        program: PathBuf,
        /// Its exit status, as the OS reports it.
        status: String,
        /// The first lines of its standard error (`(empty)` when it printed none).
        stderr: String,
        /// What went wrong on this side (the output that could not be parsed, and why).
        reason: String,
    },
}
