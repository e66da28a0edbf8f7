//! Waivers: an environment's exemptions from rules, each with a written reason. They are
//! checked against the rule table when the environment loads, and applied to findings.

use super::{Context, Finding, Severity, lint, rule, rules};
use crate::objects::Object;
use crate::settings::{Problem, Waiver};

/// Problems with `waivers` themselves: an unknown rule, a missing reason, a rule twice.
#[must_use]
pub fn check_waivers(waivers: &[Waiver]) -> Vec<Problem> {
    let mut out = Vec::new();
    for (i, w) in waivers.iter().enumerate() {
        if rule(&w.rule).is_none() {
            let ids: Vec<&str> = rules().iter().map(|r| r.id).collect();
            out.push(Problem::new(
                format!("waivers[{i}].rule"),
                format!(
                    "`{}` is not a rule; valid rules: {}",
                    w.rule,
                    ids.join(", ")
                ),
            ));
        }
        if w.reason.trim().len() < 10 {
            out.push(Problem::new(
                format!("waivers[{i}].reason"),
                "must say why the rule does not apply (at least a sentence)",
            ));
        }
        if waivers[..i].iter().any(|o| o.rule == w.rule) {
            out.push(Problem::new(
                format!("waivers[{i}].rule"),
                format!("waives `{}` twice", w.rule),
            ));
        }
    }
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
