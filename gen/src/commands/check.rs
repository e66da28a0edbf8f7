//! `gen check`: every check on fresh renders (or on a given manifest), one summary line per
//! check, and a non-zero exit when any fails.

use std::path::PathBuf;

use super::{Error, report_lint};
use crate::catalog::Catalog;
use crate::crds::CrdCatalog;
use crate::lint;
use crate::objects::parse::parse_stream;
use crate::pipeline;
use crate::validate::{self, ValidatorConfig};

/// Options of `gen check`.
#[derive(Debug, Clone)]
pub struct Options {
    /// Folder holding the environment files.
    pub environments: PathBuf,
    /// Environments to check (names or paths); every one in the folder when empty.
    pub envs: Vec<String>,
    /// Kubernetes versions to validate against.
    pub versions: Vec<String>,
    /// Which validator runs, and how.
    pub validator: ValidatorConfig,
    /// A YAML stream to check instead of a fresh render.
    pub manifest: Option<PathBuf>,
    /// Folder of CRDs that custom resources are validated against.
    pub crds: Option<PathBuf>,
    /// Custom kinds left unchecked.
    pub skip_crds: Vec<String>,
}

/// Runs `gen check`.
///
/// # Errors
/// [`Error::CheckFailed`] when any environment fails a check; setup errors (no validator
/// binary, unreadable manifest) as themselves.
pub fn run(opts: &Options) -> Result<(), Error> {
    let catalog = Catalog::new(&opts.environments);
    let names = if opts.envs.is_empty() {
        catalog.names()?
    } else {
        opts.envs.clone()
    };
    if opts.manifest.is_some() && names.len() != 1 {
        return Err(Error::ManifestNeedsOneEnv);
    }
    let crds = opts.crds.as_deref().map(CrdCatalog::load).transpose()?;
    let mut opts = opts.clone();
    if crds.is_some() {
        // Custom resources are the CRD catalog's to check; it refuses a kind it lacks.
        opts.validator.ignore_missing_schemas = true;
    }
    let mut failed = 0;
    for arg in &names {
        if !check_one(&catalog, arg, &opts, crds.as_ref())? {
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
    opts: &Options,
    crds: Option<&CrdCatalog>,
) -> Result<bool, Error> {
    let (source, env) = match pipeline::load(catalog, arg) {
        Ok(loaded) => loaded,
        Err(e) => {
            println!("{arg}: settings: FAILED\n{e}");
            return Ok(false);
        }
    };
    let name = source.name;
    println!("{name}: settings: ok");

    let (yaml, outcome) = if let Some(path) = &opts.manifest {
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
        (text, pipeline::lint(&env, &objects))
    } else {
        match pipeline::objects(&env, &name) {
            Ok(checked) => (pipeline::render(&name, &checked.objects)?, checked.lint),
            Err(pipeline::LintError { findings, .. }) => {
                let outcome = lint::Outcome {
                    errors: findings,
                    ..lint::Outcome::default()
                };
                (String::new(), outcome)
            }
        }
    };

    let mut ok = true;
    report_lint(&name, &outcome);
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
        if opts.manifest.is_none() {
            // Nothing was rendered, so there is nothing to validate.
            return Ok(false);
        }
    }

    for version in &opts.versions {
        let report = validate::validate(&yaml, version, &opts.validator)?;
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

    if let Some(crds) = crds {
        ok &= check_custom_resources(&name, &yaml, crds, &opts.skip_crds);
    }
    Ok(ok)
}

/// Validates the custom resources of `yaml` against their CRDs; `false` when any fails.
fn check_custom_resources(name: &str, yaml: &str, crds: &CrdCatalog, skip: &[String]) -> bool {
    let docs: Vec<serde_json::Value> = match serde_saphyr::from_multiple(yaml) {
        Ok(docs) => docs,
        Err(e) => {
            println!("{name}: custom resources: FAILED\n  not a YAML stream: {e}");
            return false;
        }
    };
    let custom = crate::crds::count_custom(&docs);
    let violations = crds.check(&docs, skip);
    if violations.is_empty() {
        println!("{name}: custom resources: ok ({custom} checked against their CRDs)");
        true
    } else {
        println!("{name}: custom resources: FAILED");
        for v in &violations {
            println!("  {v}");
        }
        false
    }
}
