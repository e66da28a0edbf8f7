//! `gen write`: regenerate `out/`, the schema and the references; `--check` only compares.

use std::path::{Path, PathBuf};

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
    /// Folder of examples: each `<example>/environments/` renders into `<example>/out/`.
    /// Skipped when it does not exist.
    pub examples: PathBuf,
}

/// Each example folder under `dir` that holds an `environments` folder, sorted.
fn examples(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(Vec::new());
    };
    let mut out: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join(ENVIRONMENTS).is_dir())
        .collect();
    out.sort();
    Ok(out)
}

/// Folder of an example's environment files, and of its rendered output.
const ENVIRONMENTS: &str = "environments";
const OUT: &str = "out";

/// Renders everything in memory, then writes it atomically (or lists what is stale).
///
/// # Errors
/// The first environment that fails (nothing is written), an I/O failure, or
/// [`Error::Stale`] with `check`.
pub fn run(opts: &Options) -> Result<(), Error> {
    let catalog = Catalog::new(&opts.environments);
    let mut sets = vec![(output::generate(&catalog, &opts.out)?, opts.out.clone())];
    // Render every example before writing anything, so one that fails leaves all as they were.
    for example in examples(&opts.examples)? {
        let files = output::generate_renders(
            &Catalog::new(example.join(ENVIRONMENTS)),
            &example.join(OUT),
        )?;
        sets.push((files, example.join(OUT)));
    }
    for (files, _) in &sets {
        for (env_name, lint) in &files.lint {
            report_lint(env_name, lint);
        }
    }
    let count: usize = sets.iter().map(|(f, _)| f.files.len()).sum();
    if opts.check {
        let stale: Vec<_> = sets.iter().flat_map(|(f, out)| f.stale(out)).collect();
        for s in &stale {
            eprintln!("{s}");
        }
        if !stale.is_empty() {
            return Err(Error::Stale { count: stale.len() });
        }
        eprintln!("{count} generated files are up to date");
    } else {
        for (files, out) in &sets {
            files.write(out)?;
        }
        eprintln!(
            "wrote {count} files ({}, {} and {})",
            opts.out.display(),
            catalog.dir().display(),
            opts.examples.display()
        );
    }
    Ok(())
}
