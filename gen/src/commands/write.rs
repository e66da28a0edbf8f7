//! `gen write`: regenerate `out/`, the schema and the references; `--check` only compares.

use std::path::PathBuf;

use super::{Error, report_lint};
use crate::catalog::Catalog;
use crate::output;

/// Options of `gen write`.
#[derive(Debug, Clone)]
pub struct Options {
    /// Folder holding the environment files.
    pub environments: PathBuf,
    /// Output folder.
    pub out: PathBuf,
    /// Write nothing; report stale files.
    pub check: bool,
}

/// Renders everything in memory, then writes it atomically (or lists what is stale).
///
/// # Errors
/// The first environment that fails (nothing is written), an I/O failure, or
/// [`Error::Stale`] with `check`.
pub fn run(opts: &Options) -> Result<(), Error> {
    let catalog = Catalog::new(&opts.environments);
    let files = output::generate(&catalog, &opts.out)?;
    for (env_name, lint) in &files.lint {
        report_lint(env_name, lint);
    }
    if opts.check {
        let stale = files.stale(&opts.out);
        for s in &stale {
            eprintln!("{s}");
        }
        if !stale.is_empty() {
            return Err(Error::Stale { count: stale.len() });
        }
        eprintln!("{} generated files are up to date", files.files.len());
    } else {
        files.write(&opts.out)?;
        eprintln!(
            "wrote {} files ({} and {})",
            files.files.len(),
            opts.out.display(),
            catalog.dir().display()
        );
    }
    Ok(())
}
