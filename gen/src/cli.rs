//! The `gen` command line. `--help` is the reference.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::catalog::{Catalog, CatalogError};
use crate::output::{self, OutputError};
use crate::render::{self, RenderError};
use crate::schema;

/// Typed Kubernetes manifests for the akidb-embed server.
///
/// Prints one YAML stream for an environment: every object it needs, in a fixed order,
/// byte-identical run to run. Diagnostics go to stderr; stdout holds only YAML.
#[derive(Debug, Parser)]
#[command(
    name = "gen",
    version,
    after_long_help = EXAMPLES,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct Cli {
    /// Environment to render: a name under the environments folder (`dev`, `staging`,
    /// `prod`, ...) or a path to an environment file.
    #[arg(value_name = "ENV", required = true)]
    pub env: Option<String>,

    /// Folder holding the environment files.
    #[arg(
        long,
        global = true,
        value_name = "DIR",
        env = "GEN_ENVIRONMENTS",
        default_value = "environments"
    )]
    pub environments: PathBuf,

    /// What to do instead of rendering one environment.
    #[command(subcommand)]
    pub command: Option<Command>,
}

const EXAMPLES: &str = "\
Examples:
  gen prod > out/prod.yaml     render one environment
  gen ./my-env.yaml            render an environment file kept anywhere
  gen list                     list the environments
  gen write                    regenerate out/, environments/schema.json and README.md
  gen write --check            fail if anything under out/ is stale
  gen check                    settings, rules and strict schemas (1.33, 1.37) for every environment
  gen diff prod                what a fresh render changes in out/prod.yaml (exit 1 if anything)
  kubectl apply -f out/        apply every environment (each has its own namespace)";

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the environments, one name per line.
    List,
    /// Print the JSON schema of environment files (draft-07).
    Schema,
    /// Run every check on fresh renders: settings, cross-object rules, and strict schema
    /// validation for each Kubernetes version, through kubeconform or kubernetes-validate.
    ///
    /// Checks every environment unless some are named. Exits 1 if any check fails.
    Check(CheckArgs),
    /// Show what a fresh render changes compared with `out/<ENV>.yaml`, as a unified diff.
    ///
    /// Exits 0 when they are equal and 1 when they differ, for CI and reviews.
    Diff {
        /// Environment name (or path to an environment file).
        #[arg(value_name = "ENV")]
        env: String,
        /// Folder holding the committed output.
        #[arg(long, value_name = "DIR", default_value = "out")]
        out: PathBuf,
    },
    /// Regenerate everything: `out/<env>.yaml`, `out/kustomize/<env>/`, the schema and the settings reference.
    ///
    /// Every environment is rendered in memory first; if any fails, nothing is written.
    /// Each file is then replaced atomically, and generated files that no environment
    /// produces any more are removed.
    Write {
        /// Output folder.
        #[arg(long, value_name = "DIR", default_value = "out")]
        out: PathBuf,
        /// Write nothing; list stale files and exit 1 if any.
        #[arg(long)]
        check: bool,
    },
}

/// Options of `gen check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Environments to check (names or paths); all of them when none are given.
    #[arg(value_name = "ENV")]
    pub envs: Vec<String>,
    /// Kubernetes versions to validate against (repeatable).
    #[arg(long = "kubernetes-version", value_name = "VERSION", default_values = ["1.33.0", "1.37.0"])]
    pub versions: Vec<String>,
    /// Which schema validator to run: kubeconform if installed, else kubernetes-validate.
    #[arg(long, value_enum, default_value = "auto")]
    pub validator: ValidatorChoice,
    /// kubeconform binary.
    #[arg(
        long,
        value_name = "PATH",
        env = "KUBECONFORM",
        default_value = "kubeconform"
    )]
    pub kubeconform: PathBuf,
    /// kubeconform schema location (repeatable): a URL template or an offline folder template.
    #[arg(
        long = "schema-location",
        value_name = "LOCATION",
        env = "KUBECONFORM_SCHEMA_LOCATION",
        value_delimiter = ','
    )]
    pub schema_locations: Vec<String>,
    /// kubernetes-validate binary.
    #[arg(
        long,
        value_name = "PATH",
        env = "KUBERNETES_VALIDATE",
        default_value = "kubernetes-validate"
    )]
    pub kubernetes_validate: PathBuf,
    /// Check this YAML stream (e.g. `kubectl kustomize` output) instead of a fresh render,
    /// against the declarations (namespace, secrets, external objects, waivers) of the one
    /// environment named.
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<PathBuf>,
}

/// Schema validator selection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ValidatorChoice {
    /// kubeconform when found, else kubernetes-validate.
    Auto,
    /// kubeconform only.
    Kubeconform,
    /// kubernetes-validate only.
    KubernetesValidate,
}

/// Everything that can stop a command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Finding or loading an environment failed.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// Rendering failed.
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

/// Runs the parsed command line, printing errors; returns the process exit code.
#[must_use]
pub fn main(cli: Cli) -> ExitCode {
    match run(cli) {
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

fn run(cli: Cli) -> Result<(), Error> {
    let catalog = Catalog::new(&cli.environments);
    match cli.command {
        Some(Command::List) => print(
            &catalog
                .names()?
                .iter()
                .map(|n| format!("{n}\n"))
                .collect::<String>(),
        ),
        Some(Command::Schema) => print(&schema::environment_schema()),
        Some(Command::Check(args)) => crate::check::run(&catalog, &args),
        Some(Command::Diff { env: arg, out }) => {
            let (source, env) = catalog.load(&arg)?;
            let checked = render::build(&env, &source.name)?;
            report_lint(&source.name, &checked.lint);
            let fresh = render::stream(&source.name, &checked.objects)?;
            let committed_path = out.join(format!("{}.yaml", source.name));
            let committed = std::fs::read_to_string(&committed_path).unwrap_or_default();
            let diff = crate::diff::unified(
                &committed,
                &fresh,
                &committed_path.display().to_string(),
                &format!("gen {}", source.name),
            );
            if diff.is_empty() {
                eprintln!("{} is up to date", committed_path.display());
                return Ok(());
            }
            print(&diff)?;
            Err(Error::Differs { env: source.name })
        }
        Some(Command::Write { out, check }) => {
            let files = output::generate(&catalog, &out)?;
            for (env_name, lint) in &files.lint {
                report_lint(env_name, lint);
            }
            if check {
                let stale = files.stale(&out);
                for s in &stale {
                    eprintln!("{s}");
                }
                if !stale.is_empty() {
                    return Err(Error::Stale { count: stale.len() });
                }
                eprintln!("{} generated files are up to date", files.files.len());
            } else {
                files.write(&out)?;
                eprintln!(
                    "wrote {} files ({} and {})",
                    files.files.len(),
                    out.display(),
                    catalog.dir().display()
                );
            }
            Ok(())
        }
        None => {
            // `required = true` on ENV with `subcommand_negates_reqs` guarantees it here.
            let arg = cli.env.unwrap_or_default();
            let (source, env) = catalog.load(&arg)?;
            let checked = render::build(&env, &source.name)?;
            report_lint(&source.name, &checked.lint);
            print(&render::stream(&source.name, &checked.objects)?)
        }
    }
}

/// Warnings and waived findings go to stderr; stdout stays pure YAML.
pub(crate) fn report_lint(env_name: &str, lint: &crate::lint::Outcome) {
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

fn print(text: &str) -> Result<(), Error> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(Error::Stdout)
}
