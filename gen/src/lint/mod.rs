//! Cross-object rules: defects that every object passes schema validation alone with, but
//! that break a deployment (a Service selecting nothing, a budget that blocks drains, a
//! read-write volume shared by autoscaled pods). They run on every render; errors stop it,
//! warnings go to stderr, and an environment may waive a rule only with a written reason.

mod index;
mod rules;

use std::fmt;

pub use self::index::{Index, pod_annotations, pod_labels, pod_spec, quantity_value};
use crate::objects::Object;
use crate::settings::{Environment, External, Waiver};

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Reported, does not stop the render.
    Warning,
    /// Stops the render.
    Error,
}

/// A rule: a stable id (what waivers name), its severity, and why it exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// Stable id, e.g. `service-selects-pods`.
    pub id: &'static str,
    /// Severity of its findings.
    pub severity: Severity,
    /// One line: what it checks.
    pub summary: &'static str,
    /// Why it exists: the failure it prevents.
    pub why: &'static str,
}

/// One violation of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The rule's id.
    pub rule: &'static str,
    /// Its severity.
    pub severity: Severity,
    /// `Kind/name` of the object at fault.
    pub object: String,
    /// Path of the field at fault, e.g. `spec.selector`.
    pub field: String,
    /// What is wrong, with the values involved.
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(
            f,
            "{level}[{}]: {} {}: {}",
            self.rule, self.object, self.field, self.message
        )
    }
}

/// What the rules know besides the objects: the environment's namespace and what it
/// declares as created elsewhere.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// Namespace every namespaced object must be in.
    pub namespace: String,
    /// Declared Secrets: name and the keys the pods may read.
    pub secrets: Vec<(String, Vec<String>)>,
    /// Other objects created outside the generator.
    pub external: External,
}

impl Context {
    /// The context of an environment.
    #[must_use]
    pub fn of(env: &Environment) -> Context {
        Context {
            namespace: env.namespace.to_string(),
            secrets: env
                .secrets
                .iter()
                .map(|s| {
                    (
                        s.name.to_string(),
                        s.env.values().map(ToString::to_string).collect(),
                    )
                })
                .collect(),
            external: env.external.clone(),
        }
    }
}

/// Every rule, in documentation order.
#[must_use]
pub fn rules() -> &'static [Rule] {
    rules::ALL
}

/// Looks up a rule by id.
#[must_use]
pub fn rule(id: &str) -> Option<&'static Rule> {
    rules::ALL.iter().find(|r| r.id == id)
}

/// Runs every rule over `objects`.
#[must_use]
pub fn lint(objects: &[Object], ctx: &Context) -> Vec<Finding> {
    let index = Index::new(objects);
    let mut out = Vec::new();
    rules::run(&index, ctx, &mut out);
    out
}

/// The outcome of linting with waivers applied.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Findings that stop the render.
    pub errors: Vec<Finding>,
    /// Findings reported on stderr.
    pub warnings: Vec<Finding>,
    /// Findings a waiver covered, with the waiver's reason.
    pub waived: Vec<(Finding, String)>,
}

/// Lints and applies `waivers`: a waived finding neither stops nor warns. A waiver that
/// covers nothing becomes a warning, so stale exemptions get noticed.
#[must_use]
pub fn lint_with_waivers(objects: &[Object], ctx: &Context, waivers: &[Waiver]) -> Outcome {
    let mut outcome = Outcome::default();
    let findings = lint(objects, ctx);
    for w in waivers {
        if !findings.iter().any(|f| f.rule == w.rule) {
            outcome.warnings.push(Finding {
                rule: "unused-waiver",
                severity: Severity::Warning,
                object: "environment".to_owned(),
                field: "waivers".to_owned(),
                message: format!("the waiver for `{}` covers no finding; remove it", w.rule),
            });
        }
    }
    for f in findings {
        if let Some(w) = waivers.iter().find(|w| w.rule == f.rule) {
            outcome.waived.push((f, w.reason.clone()));
        } else if f.severity == Severity::Error {
            outcome.errors.push(f);
        } else {
            outcome.warnings.push(f);
        }
    }
    outcome
}

/// Markdown listing every rule: what the docs show as the rules reference.
#[must_use]
pub fn rules_reference() -> String {
    let mut out = String::from(
        "<!-- Generated by `gen write` from gen/src/lint/rules: do not edit by hand. -->\n\
         # Cross-object rules\n\n\
         `gen` runs these on every render (`gen <env>`, `gen write`, `gen check`). An error stops\n\
         the render with the object and field at fault; a warning is printed on stderr.\n\n\
         To exempt an environment from a rule, add a waiver with a reason to its file; a\n\
         waiver that no longer covers anything is reported, so exemptions do not outlive\n\
         their cause:\n\n\
         ```yaml\n\
         waivers:\n  \
           - rule: pod-read-only-root\n    \
             reason: the vendor image writes its cache under /var; tracked in OPS-123\n\
         ```\n\n\
         | Id | Severity | Checks | Why |\n|---|---|---|---|\n",
    );
    for r in rules() {
        let sev = match r.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        out.push_str(&format!(
            "| `{}` | {sev} | {} | {} |\n",
            r.id, r.summary, r.why
        ));
    }
    out
}
