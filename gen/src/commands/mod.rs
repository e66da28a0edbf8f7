//! One module per command, each a function over plain options; none of them reads the
//! command line (that is [`crate::cli`]'s job).

pub mod check;
pub mod diff;
pub mod list;
pub mod render;
pub mod schema;
pub mod write;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::catalog::CatalogError;
use crate::lint::Outcome;
use crate::output::OutputError;
use crate::pipeline::LintError;
use crate::render::RenderError;

/// Everything that can stop a command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Finding or loading an environment failed.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// Cross-object rules found errors.
    #[error(transparent)]
    Lint(#[from] LintError),
    /// An object could not be written as YAML.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// Writing generated files failed.
    #[error(transparent)]
    Output(#[from] OutputError),
    /// Writing to stdout failed.
    #[error("cannot write to stdout: {0}")]
    Stdout(#[source] std::io::Error),
    /// `check` found problems.
    #[error("{failed} of {total} environment check(s) failed")]
    CheckFailed {
        /// Environments with problems.
        failed: usize,
        /// Environments checked.
        total: usize,
    },
    /// `check --manifest` needs exactly one environment.
    #[error(
        "--manifest checks one file against one environment's declarations: name exactly one environment"
    )]
    ManifestNeedsOneEnv,
    /// The manifest given to `check --manifest` could not be read.
    #[error("cannot read {}: {source}", path.display())]
    ReadManifest {
        /// File.
        path: PathBuf,
        /// I/O failure.
        #[source]
        source: std::io::Error,
    },
    /// The CRD folder could not be read.
    #[error(transparent)]
    Crds(#[from] crate::crds::CrdError),
    /// Schema validation could not run.
    #[error(transparent)]
    Validate(#[from] crate::validate::ValidateError),
    /// `diff` found differences.
    #[error("out/{env}.yaml differs from a fresh render; run `make out` to update it")]
    Differs {
        /// Environment name.
        env: String,
    },
    /// `write --check` found stale files.
    #[error(
        "{count} generated file(s) are stale; run `make out` (or `cargo run -p gen -- write`) and commit the result"
    )]
    Stale {
        /// How many.
        count: usize,
    },
}

/// Prints a command's error with its chain of causes on stderr and returns the exit code:
/// 0 on success and on a closed stdout (`gen prod | head`), 1 otherwise.
#[must_use]
pub fn exit_code(result: Result<(), Error>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Error::Stdout(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            let mut msg = format!("error: {e}");
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                let text = s.to_string();
                if !msg.contains(&text) {
                    msg.push_str(&format!("\n  caused by: {text}"));
                }
                source = s.source();
            }
            eprintln!("{msg}");
            ExitCode::FAILURE
        }
    }
}

/// Warnings and waived findings go to stderr; stdout stays pure YAML.
pub fn report_lint(env_name: &str, lint: &Outcome) {
    for w in &lint.warnings {
        eprintln!("{env_name}: {w}");
    }
    for (f, reason) in &lint.waived {
        eprintln!(
            "{env_name}: waived[{}]: {} {} (reason: {reason})",
            f.rule, f.object, f.field
        );
    }
}

/// Writes `text` to stdout.
///
/// # Errors
/// [`Error::Stdout`], a broken pipe included (the caller treats that one as success).
pub fn print(text: &str) -> Result<(), Error> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(Error::Stdout)
}
