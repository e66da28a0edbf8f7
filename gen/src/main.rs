//! The `gen` binary: parses the command line and hands plain options to a command.

use std::process::ExitCode;

use akidb_gen::cli::{CheckArgs, Cli, Command, ValidatorChoice};
use akidb_gen::commands::{self, Error};
use akidb_gen::validate::{BackendChoice, ValidatorConfig};
use clap::Parser;

fn main() -> ExitCode {
    commands::exit_code(run(Cli::parse()))
}

fn run(cli: Cli) -> Result<(), Error> {
    let environments = cli.environments;
    match cli.command {
        Some(Command::List) => commands::list::run(&environments),
        Some(Command::Schema) => commands::schema::run(),
        Some(Command::Check(args)) => commands::check::run(&check_options(environments, args)),
        Some(Command::Diff { env, out }) => commands::diff::run(&commands::diff::Options {
            environments,
            env,
            out,
        }),
        Some(Command::Write {
            out,
            check,
            examples,
        }) => commands::write::run(&commands::write::Options {
            environments,
            out,
            check,
            examples,
        }),
        // `required = true` on ENV with `subcommand_negates_reqs` guarantees it here.
        None => commands::render::run(&commands::render::Options {
            environments,
            env: cli.env.unwrap_or_default(),
        }),
    }
}

fn check_options(environments: std::path::PathBuf, args: CheckArgs) -> commands::check::Options {
    commands::check::Options {
        environments,
        envs: args.envs,
        versions: args.versions,
        validator: ValidatorConfig {
            backend: match args.validator {
                ValidatorChoice::Auto => BackendChoice::Auto,
                ValidatorChoice::Kubeconform => BackendChoice::Kubeconform,
                ValidatorChoice::KubernetesValidate => BackendChoice::KubernetesValidate,
            },
            kubeconform: args.kubeconform,
            kubeconform_schema_locations: args.schema_locations,
            kubernetes_validate: args.kubernetes_validate,
            ignore_missing_schemas: false,
        },
        manifest: args.manifest,
        crds: args.crds,
        skip_crds: args.skip_crds,
    }
}
