//! The stages every command runs, each named once here and each knowing only the one
//! before it:
//!
//! 1. **load**: read an environment file, parse it into typed settings (positions in
//!    errors), then check it: the settings on their own, what the component needs of them,
//!    and the waivers against the rule table; every problem of a file is reported at once.
//! 2. **plan**: turn the settings into plain facts about the workload.
//! 3. **build**: typed Kubernetes objects, in emission order.
//! 4. **lint**: the cross-object rules, with the environment's waivers.
//! 5. **render**: one YAML stream.

use std::path::Path;

use crate::catalog::{Catalog, CatalogError, Source};
use crate::components::{akidb_embed, container, dependencies, postgres};
use crate::lint::{self, Finding, Outcome};
use crate::objects::{self, Object};
use crate::render::{self, RenderError};
use crate::settings::{self, Component, Environment, LoadError};
use crate::workload::{Database, Plans};

/// Stage 1: resolves `arg` (a name in the catalog or a path) and loads it.
///
/// # Errors
/// An unknown environment, or as [`load_file`].
pub fn load(catalog: &Catalog, arg: &str) -> Result<(Source, Environment), CatalogError> {
    let source = catalog.resolve(arg)?;
    let env = load_file(&source.path)?;
    Ok((source, env))
}

/// Stage 1 for a file; an `include` is read relative to the file's folder.
///
/// # Errors
/// As [`load_str`], or the file cannot be read.
pub fn load_file(path: &Path) -> Result<Environment, LoadError> {
    let text = settings::read_file(path)?;
    let dir = path.parent().unwrap_or(Path::new(""));
    load_str_in(&text, &path.display().to_string(), dir)
}

/// Stage 1 for text; `source_name` names it in errors, and an `include` is read relative
/// to the working folder.
///
/// # Errors
/// YAML or type errors with their position, or every problem the checks found.
pub fn load_str(text: &str, source_name: &str) -> Result<Environment, LoadError> {
    load_str_in(text, source_name, Path::new(""))
}

fn load_str_in(text: &str, source_name: &str, dir: &Path) -> Result<Environment, LoadError> {
    let mut env = settings::parse_str(text, source_name)?;
    let mut problems = Vec::new();
    if let Some(include) = env.include.clone() {
        let path = dir.join(&include);
        let text = settings::read_file(&path)?;
        let included = settings::parse_components(&text, &path.display().to_string())?;
        problems.extend(settings::include::merge(&mut env, included, &include));
    }
    problems.extend(settings::include::apply_sizing(&mut env));
    problems.extend(settings::check(&env));
    problems.extend(akidb_embed::check::check(&env));
    problems.extend(container::check::check(&env));
    problems.extend(postgres::check(&env));
    // Ports of dependencies are read from plans, which need settings that passed.
    if problems.is_empty() {
        problems.extend(dependencies::check(&env, &plan(&env)));
    }
    problems.extend(lint::check_waivers(&env.waivers));
    if problems.is_empty() {
        Ok(env)
    } else {
        Err(LoadError::Invalid {
            source_name: source_name.to_owned(),
            problems,
        })
    }
}

/// Stage 2: the plan of every component of a loaded environment, in name order.
#[must_use]
pub fn plan(env: &Environment) -> Plans<'_> {
    let mut pods = Vec::new();
    let mut databases = Vec::new();
    for (name, component) in &env.components {
        match component {
            Component::AkidbEmbed(s) => pods.push(akidb_embed::plan(env, name, s)),
            Component::Deployment(s) => pods.push(container::plan(env, name, s)),
            Component::StatefulSet(s) => pods.push(container::plan_stateful(env, name, s)),
            Component::Postgres(s) => databases.push(Database {
                app: env,
                name,
                settings: s,
                callers: Vec::new(),
            }),
        }
    }
    let mut plans = Plans { pods, databases };
    connect(&mut plans);
    plans
}

/// Fills each plan's [`Connections`](crate::workload::Connections), and each database's
/// callers, from the `connects_to` of all of them (names that exist: the load stage
/// checked).
fn connect(plans: &mut Plans<'_>) {
    // Every component that can be called: its name, the labels of its pods, its ports.
    let mut ends: Vec<_> = plans
        .pods
        .iter()
        .map(|p| {
            (
                p.name.clone(),
                p.selector_labels(),
                p.workload.served_ports(),
            )
        })
        .collect();
    ends.extend(
        plans
            .databases
            .iter()
            .map(|d| (d.name.clone(), d.selector_labels(), vec![d.port()])),
    );
    // Each caller's targets, with the one port it uses (`None`: all): `connects_to`, then
    // `depends_on`.
    let calls: Vec<Vec<(crate::settings::DnsLabel, Option<u16>)>> = plans
        .pods
        .iter()
        .map(|p| {
            p.settings
                .connects_to
                .iter()
                .map(|c| (c.clone(), None))
                .chain(
                    p.settings
                        .depends_on
                        .iter()
                        .map(|d| (d.component.clone(), d.port)),
                )
                .collect()
        })
        .collect();
    let pod_count = plans.pods.len();
    for (caller, targets) in calls.iter().enumerate() {
        for (target, port) in targets {
            let Some(t) = ends.iter().position(|(n, _, _)| n == target) else {
                continue;
            };
            let labels = ends[t].1.clone();
            let ports = port.map_or_else(|| ends[t].2.clone(), |p| vec![p]);
            plans.pods[caller].connections.to.push((labels, ports));
            let from = ends[caller].1.clone();
            if t < pod_count {
                plans.pods[t].connections.from.push((from, *port));
            } else {
                plans.databases[t - pod_count].callers.push(from);
            }
        }
    }
}

/// Stage 3: every object of the plans, in emission order.
#[must_use]
pub fn build(plans: &Plans<'_>) -> Vec<Object> {
    objects::build_all(plans)
}

/// Stage 4: the cross-object rules over `objects`, with `env`'s waivers applied.
#[must_use]
pub fn lint(env: &Environment, objects: &[Object]) -> Outcome {
    lint::lint_with_waivers(objects, &lint::Context::of(env), &env.waivers)
}

/// Stage 5: the YAML stream of `objects`.
///
/// # Errors
/// An object the serializer refuses, named.
pub fn render(env_name: &str, objects: &[Object]) -> Result<String, RenderError> {
    render::stream(env_name, objects)
}

/// Cross-object rules found errors that no waiver covers.
#[derive(Debug, thiserror::Error)]
#[error("environment `{env}`: {} cross-object rule error(s):\n{}", findings.len(), findings.iter().map(|f| format!("  {f}")).collect::<Vec<_>>().join("\n"))]
pub struct LintError {
    /// Environment name.
    pub env: String,
    /// The errors.
    pub findings: Vec<Finding>,
}

/// An environment's objects that passed the cross-object rules, with what the rules said.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The objects, in emission order.
    pub objects: Vec<Object>,
    /// Warnings and waived findings (errors would have stopped the build).
    pub lint: Outcome,
}

/// Stages 2 to 4 for a loaded environment: plan, build and lint.
///
/// # Errors
/// Rule errors that no waiver covers.
pub fn objects(env: &Environment, env_name: &str) -> Result<Checked, LintError> {
    let objects = build(&plan(env));
    let outcome = lint(env, &objects);
    if outcome.errors.is_empty() {
        Ok(Checked {
            objects,
            lint: outcome,
        })
    } else {
        Err(LintError {
            env: env_name.to_owned(),
            findings: outcome.errors,
        })
    }
}
