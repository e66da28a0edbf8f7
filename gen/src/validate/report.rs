//! The typed result of a schema validation run, the same whichever tool produced it, so
//! callers (`gen check`) print and judge one shape.

use std::fmt;

/// The validator that produced a [`Report`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// [kubeconform](https://github.com/yannh/kubeconform), driven through its JSON output.
    Kubeconform,
    /// [kubernetes-validate](https://pypi.org/project/kubernetes-validate/), driven
    /// through its text output.
    KubernetesValidate,
}

impl Backend {
    /// The tool's usual command name.
    #[must_use]
    pub fn command_name(self) -> &'static str {
        match self {
            Backend::Kubeconform => "kubeconform",
            Backend::KubernetesValidate => "kubernetes-validate",
        }
    }

    /// How to install the tool, as a sentence fragment for error messages.
    #[must_use]
    pub fn install_hint(self) -> &'static str {
        match self {
            Backend::Kubeconform => {
                "install it with `go install github.com/yannh/kubeconform/cmd/kubeconform@latest` \
                 or a release binary from https://github.com/yannh/kubeconform/releases, \
                 or point KUBECONFORM at it"
            }
            Backend::KubernetesValidate => {
                "install it with `pip install kubernetes-validate` (or `make tools`, which puts it \
                 in .venv/bin), or point KUBERNETES_VALIDATE at it"
            }
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.command_name())
    }
}

/// What the validator concluded about one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// The resource matches its schema.
    Valid,
    /// The resource breaks its schema; [`ResourceResult::errors`] says where.
    Invalid,
    /// The resource could not be checked (no schema for its kind, unreadable document);
    /// [`ResourceResult::message`] says why. Counts as a failure: an unchecked resource
    /// proves nothing.
    Error,
    /// The validator was told to skip the resource (for example a kind without a schema
    /// when missing schemas are ignored).
    Skipped,
}

/// One schema violation inside a resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Dotted path of the offending field inside the resource (`spec.replicas`,
    /// `spec.template.spec.containers.0.image`); empty for the resource's top level.
    pub path: String,
    /// What is wrong, in the validator's words.
    pub message: String,
}

/// The verdict on one resource of the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceResult {
    /// `kind` (`Deployment`); empty when the validator could not tell.
    pub kind: String,
    /// `metadata.name`; empty when the validator could not tell.
    pub name: String,
    /// `metadata.namespace`, when the resource names one.
    pub namespace: Option<String>,
    /// `apiVersion` (`apps/v1`), when known.
    pub version: Option<String>,
    /// The verdict.
    pub status: Status,
    /// Field-level violations; empty unless [`Status::Invalid`].
    pub errors: Vec<FieldError>,
    /// The validator's own summary or reason (why a resource is [`Status::Error`], or its
    /// whole message for an invalid one).
    pub message: Option<String>,
}

impl ResourceResult {
    /// Whether this resource fails the run ([`Status::Invalid`] or [`Status::Error`]).
    #[must_use]
    pub fn is_problem(&self) -> bool {
        matches!(self.status, Status::Invalid | Status::Error)
    }

    /// `Kind name`, or a placeholder when the validator could not identify the resource.
    #[must_use]
    pub fn label(&self) -> String {
        match (self.kind.is_empty(), self.name.is_empty()) {
            (false, false) => format!("{} {}", self.kind, self.name),
            (false, true) => format!("{} (unnamed)", self.kind),
            (true, false) => format!("(unknown kind) {}", self.name),
            (true, true) => "(unidentified resource)".to_owned(),
        }
    }
}

/// Counts per [`Status`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    /// Resources that passed.
    pub valid: usize,
    /// Resources that broke their schema.
    pub invalid: usize,
    /// Resources that could not be checked.
    pub errors: usize,
    /// Resources skipped on purpose.
    pub skipped: usize,
}

/// The outcome of validating one YAML stream against one Kubernetes version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The tool that did the work.
    pub backend: Backend,
    /// The Kubernetes version validated against, normalised to `MAJOR.MINOR.PATCH`.
    pub kubernetes_version: String,
    /// One entry per resource, in the order the validator reported them (kubernetes-validate
    /// keeps the stream's order; kubeconform checks in parallel and does not).
    pub resources: Vec<ResourceResult>,
}

impl Report {
    /// True when no resource is [`Status::Invalid`] or [`Status::Error`].
    #[must_use]
    pub fn is_ok(&self) -> bool {
        !self.resources.iter().any(ResourceResult::is_problem)
    }

    /// The resources that fail the run.
    pub fn problems(&self) -> impl Iterator<Item = &ResourceResult> {
        self.resources.iter().filter(|r| r.is_problem())
    }

    /// How many resources ended in each status.
    #[must_use]
    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for r in &self.resources {
            match r.status {
                Status::Valid => c.valid += 1,
                Status::Invalid => c.invalid += 1,
                Status::Error => c.errors += 1,
                Status::Skipped => c.skipped += 1,
            }
        }
        c
    }

    /// One line for a summary: tool, version and counts.
    #[must_use]
    pub fn summary(&self) -> String {
        let c = self.counts();
        format!(
            "{} resources checked by {} against Kubernetes {} (strict): {} valid, {} invalid, {} errors, {} skipped",
            self.resources.len(),
            self.backend,
            self.kubernetes_version,
            c.valid,
            c.invalid,
            c.errors,
            c.skipped
        )
    }
}

/// One line per problem: `Kind name: path: message` for each field error, `Kind name:
/// message` for a resource that could not be checked. Prints nothing for a clean report.
impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for r in self.problems() {
            let label = r.label();
            if r.errors.is_empty() {
                let message = r.message.as_deref().unwrap_or(match r.status {
                    Status::Invalid => "invalid (the validator gave no detail)",
                    _ => "could not be validated (the validator gave no reason)",
                });
                writeln!(f, "{label}: {message}")?;
            }
            for e in &r.errors {
                if e.path.is_empty() {
                    writeln!(f, "{label}: (top level): {}", e.message)?;
                } else {
                    writeln!(f, "{label}: {}: {}", e.path, e.message)?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(kind: &str, name: &str, status: Status, errors: &[(&str, &str)]) -> ResourceResult {
        ResourceResult {
            kind: kind.to_owned(),
            name: name.to_owned(),
            namespace: None,
            version: None,
            status,
            errors: errors
                .iter()
                .map(|(p, m)| FieldError {
                    path: (*p).to_owned(),
                    message: (*m).to_owned(),
                })
                .collect(),
            message: None,
        }
    }

    #[test]
    fn display_prints_one_line_per_field_error_and_per_unchecked_resource() {
        let mut unchecked = result("Foo", "foo1", Status::Error, &[]);
        unchecked.message = Some("could not find schema for Foo".to_owned());
        let report = Report {
            backend: Backend::Kubeconform,
            kubernetes_version: "1.33.0".to_owned(),
            resources: vec![
                result("Namespace", "akidb-prod", Status::Valid, &[]),
                result(
                    "Deployment",
                    "akidb-embed",
                    Status::Invalid,
                    &[
                        (
                            "spec.strategy.rollingUpdate",
                            "Additional properties are not allowed ('bogus' was unexpected)",
                        ),
                        (
                            "",
                            "Additional properties are not allowed ('extra' was unexpected)",
                        ),
                    ],
                ),
                unchecked,
                result("Secret", "skipped", Status::Skipped, &[]),
            ],
        };
        assert!(!report.is_ok());
        assert_eq!(report.problems().count(), 2);
        assert_eq!(
            report.to_string(),
            "Deployment akidb-embed: spec.strategy.rollingUpdate: Additional properties are not allowed ('bogus' was unexpected)\n\
             Deployment akidb-embed: (top level): Additional properties are not allowed ('extra' was unexpected)\n\
             Foo foo1: could not find schema for Foo\n"
        );
        assert_eq!(
            report.counts(),
            Counts {
                valid: 1,
                invalid: 1,
                errors: 1,
                skipped: 1
            }
        );
    }

    #[test]
    fn skipped_and_valid_resources_are_ok() {
        let report = Report {
            backend: Backend::KubernetesValidate,
            kubernetes_version: "1.37.0".to_owned(),
            resources: vec![
                result("Namespace", "a", Status::Valid, &[]),
                result("Foo", "b", Status::Skipped, &[]),
            ],
        };
        assert!(report.is_ok());
        assert_eq!(report.to_string(), "");
        assert!(
            report
                .summary()
                .contains("2 resources checked by kubernetes-validate against Kubernetes 1.37.0")
        );
    }
}
