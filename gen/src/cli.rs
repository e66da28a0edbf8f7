//! The `gen` command line: only its clap types. `--help` is the reference; the binary
//! turns these into the plain options of [`crate::commands`].

use std::path::PathBuf;

use clap::{Parser, Subcommand};

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
    /// Regenerate everything: `out/<env>.yaml`, `out/kustomize/<env>/`, the schema, the settings reference, and each example's `out/`.
    ///
    /// Every environment (and example) is rendered in memory first; if any fails, nothing
    /// is written.
    /// Each file is then replaced atomically, and generated files that no environment
    /// produces any more are removed.
    Write {
        /// Output folder.
        #[arg(long, value_name = "DIR", default_value = "out")]
        out: PathBuf,
        /// Write nothing; list stale files and exit 1 if any.
        #[arg(long)]
        check: bool,
        /// Folder of examples: each `<example>/environments/` renders into `<example>/out/`.
        #[arg(long, value_name = "DIR", default_value = "examples")]
        examples: PathBuf,
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
    /// Folder of CustomResourceDefinitions (e.g. `kubectl get crd -o yaml` output, one or
    /// many per file): every custom resource is validated against its CRD's schema, fields
    /// the API server would prune refused; a custom kind without a CRD is an error.
    #[arg(long, value_name = "DIR", env = "GEN_CRDS")]
    pub crds: Option<PathBuf>,
    /// A custom kind to leave unchecked by `--crds` (repeatable), e.g. one whose CRD you
    /// do not have.
    #[arg(long = "skip-crd", value_name = "KIND")]
    pub skip_crds: Vec<String>,
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
