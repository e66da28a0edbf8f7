//! `gen ENV`: print one environment's manifests.

use std::path::PathBuf;

use super::{Error, print, report_lint};
use crate::catalog::Catalog;
use crate::pipeline;

/// Options of `gen ENV`.
#[derive(Debug, Clone)]
pub struct Options {
    /// Folder holding the environment files.
    pub environments: PathBuf,
    /// Environment name or path to an environment file.
    pub env: String,
}

/// Prints the YAML stream of one environment on stdout; rule warnings go to stderr.
///
/// # Errors
/// Loading, rule or serializer errors; a failed write to stdout.
pub fn run(opts: &Options) -> Result<(), Error> {
    let (source, env) = pipeline::load(&Catalog::new(&opts.environments), &opts.env)?;
    let checked = pipeline::objects(&env, &source.name)?;
    report_lint(&source.name, &checked.lint);
    print(&pipeline::render(&source.name, &checked.objects)?)
}
