//! `gen check`: every check on fresh renders (or on a given manifest), one summary line per
//! check, and a non-zero exit when any fails.

use crate::catalog::Catalog;
use crate::cli::{CheckArgs, Error, ValidatorChoice};
use crate::lint;
use crate::objects::parse::parse_stream;
use crate::render;
use crate::validate::{self, BackendChoice, ValidatorConfig};

/// Runs `gen check`.
///
/// # Errors
/// [`Error::CheckFailed`] when any environment fails a check; setup errors (no validator
/// binary, unreadable manifest) as themselves.
pub fn run(catalog: &Catalog, args: &CheckArgs) -> Result<(), Error> {
    let names = if args.envs.is_empty() {
        catalog.names()?
    } else {
        args.envs.clone()
    };
    if args.manifest.is_some() && names.len() != 1 {
        return Err(Error::ManifestNeedsOneEnv);
    }
    let config = ValidatorConfig {
        backend: match args.validator {
            ValidatorChoice::Auto => BackendChoice::Auto,
            ValidatorChoice::Kubeconform => BackendChoice::Kubeconform,
            ValidatorChoice::KubernetesValidate => BackendChoice::KubernetesValidate,
        },
        kubeconform: args.kubeconform.clone(),
        kubeconform_schema_locations: args.schema_locations.clone(),
        kubernetes_validate: args.kubernetes_validate.clone(),
        ignore_missing_schemas: false,
    };
    let mut failed = 0;
    for arg in &names {
        if !check_one(catalog, arg, args, &config)? {
            failed += 1;
        }
    }
    if failed > 0 {
        return Err(Error::CheckFailed {
            failed,
            total: names.len(),
        });
    }
    println!("all {} environment(s) passed", names.len());
    Ok(())
}

/// Checks one environment; `Ok(false)` when a check failed (already printed).
fn check_one(
    catalog: &Catalog,
    arg: &str,
    args: &CheckArgs,
    config: &ValidatorConfig,
) -> Result<bool, Error> {
    let (source, env) = match catalog.load(arg) {
        Ok(loaded) => loaded,
        Err(e) => {
            println!("{arg}: settings: FAILED\n{e}");
            return Ok(false);
        }
    };
    let name = source.name;
    println!("{name}: settings: ok");

    let (yaml, outcome) = if let Some(path) = &args.manifest {
        let text = std::fs::read_to_string(path).map_err(|source| Error::ReadManifest {
            path: path.clone(),
            source,
        })?;
        let objects = match parse_stream(&text, &path.display().to_string()) {
            Ok(o) => o,
            Err(e) => {
                println!("{name}: manifest: FAILED\n  {e}");
                return Ok(false);
            }
        };
        (
            text,
            lint::lint_with_waivers(&objects, &lint::Context::of(&env), &env.waivers),
        )
    } else {
        match render::build(&env, &name) {
            Ok(checked) => (render::stream(&name, &checked.objects)?, checked.lint),
            Err(render::RenderError::Lint { findings, .. }) => {
                let outcome = lint::Outcome {
                    errors: findings,
                    ..lint::Outcome::default()
                };
                (String::new(), outcome)
            }
            Err(e) => return Err(e.into()),
        }
    };

    let mut ok = true;
    crate::cli::report_lint(&name, &outcome);
    if outcome.errors.is_empty() {
        println!(
            "{name}: rules: ok ({} warning(s), {} waived)",
            outcome.warnings.len(),
            outcome.waived.len()
        );
    } else {
        ok = false;
        println!("{name}: rules: FAILED");
        for f in &outcome.errors {
            println!("  {f}");
        }
        if args.manifest.is_none() {
            // Nothing was rendered, so there is nothing to validate.
            return Ok(false);
        }
    }

    for version in &args.versions {
        let report = validate::validate(&yaml, version, config)?;
        if report.is_ok() {
            println!("{name}: {}", report.summary());
        } else {
            ok = false;
            println!("{name}: {}: FAILED", report.summary());
            for line in report.to_string().lines() {
                println!("  {line}");
            }
        }
    }
    Ok(ok)
}
