//! The kubernetes-validate backend (PyPI; the same upstream JSON schemas as kubeconform):
//! `kubernetes-validate -k V --strict FILE` on a temporary file, its text output parsed.
//!
//! kubernetes-validate 1.37.0 prints exactly one line per non-empty document, in stream
//! order (`FILE` is the path it was given):
//!
//! ```text
//! INFO FILE passed for resource deployment/akidb-embed against version 1.33
//! ERROR FILE did not validate for resource deployment/akidb-embed against version 1.33: spec.strategy.rollingUpdate: Additional properties are not allowed ('bogus' was unexpected)
//! ERROR FILE did not validate for resource service/akidb-embed against version 1.33: : Additional properties are not allowed ('foo' was unexpected)
//! WARN FILE Couldn't find schema for kind Foo with api version example.com/v1 for kubernetes version 1.33
//! ERROR FILE could not be validated: 'apiVersion'
//! FATAL kubernetes-validate 1.37.0 does not support kubernetes version 1.99.0
//! ERROR FILE could not be validated: list index out of range
//! ```
//!
//! The last one is what a version older than its oldest schemas (1.25) gives, once per
//! resource; like `FATAL`, it becomes [`ValidateError::UnsupportedVersion`].
//!
//! Kinds are lower-cased, namespaces and apiVersions never printed, and only the first
//! schema violation of a resource is reported (jsonschema's `validate` raises one). The
//! exit status is the bitwise or of 1 (invalid) and 2 (not validated, unsupported
//! version); a missing schema is only a warning and exits 0. Unreadable YAML or a missing
//! file go to stderr with status 1 and no line on stdout.

use std::ffi::OsString;
use std::io::Write;
use std::path::Path;

use super::manifest::{self, Identity};
use super::process;
use super::{Backend, FieldError, Report, ResourceResult, Status, ValidateError};

/// What to run kubernetes-validate with.
#[derive(Debug, Clone, Copy)]
pub(super) struct Options<'a> {
    pub(super) program: &'a Path,
    pub(super) ignore_missing_schemas: bool,
}

/// The command-line arguments for one run on `file`.
pub(super) fn args(kubernetes_version: &str, file: &Path) -> Vec<OsString> {
    vec![
        "-k".into(),
        kubernetes_version.into(),
        "--strict".into(),
        file.as_os_str().to_owned(),
    ]
}

/// Validates `yaml` against `kubernetes_version` (already normalised).
///
/// # Errors
/// A missing binary, an unsupported version, or a run whose output cannot be read.
pub(super) fn validate(
    yaml: &str,
    kubernetes_version: &str,
    options: &Options<'_>,
) -> Result<Report, ValidateError> {
    let backend = Backend::KubernetesValidate;
    let temp_error = |source| ValidateError::TempFile { backend, source };
    // kubernetes-validate 1.37 reads `-` as stdin, but older releases only read files.
    let mut file = tempfile::Builder::new()
        .prefix("gen-validate-")
        .suffix(".yaml")
        .tempfile()
        .map_err(temp_error)?;
    file.write_all(yaml.as_bytes()).map_err(temp_error)?;
    file.flush().map_err(temp_error)?;

    let done = process::run(
        backend,
        options.program,
        &args(kubernetes_version, file.path()),
        None,
    )?;
    if done.stderr.contains("Traceback (most recent call last)") {
        return Err(done.failed("it crashed"));
    }
    let file_name = file.path().to_string_lossy();
    let mut resources = match parse(&done.stdout, &file_name, options.ignore_missing_schemas) {
        Ok(resources) => resources,
        Err(Unreadable::UnsupportedVersion(message)) => {
            return Err(ValidateError::UnsupportedVersion {
                backend,
                program: options.program.to_owned(),
                version: kubernetes_version.to_owned(),
                message,
            });
        }
        Err(Unreadable::Line(reason)) => return Err(done.failed(reason)),
    };
    if !done.status.success() && resources.is_empty() {
        return Err(done.failed("it printed no result"));
    }
    if let Some(ids) = manifest::identities(yaml) {
        identify(&mut resources, &ids);
    }
    let report = Report {
        backend,
        kubernetes_version: kubernetes_version.to_owned(),
        resources,
    };
    if !done.status.success() && report.is_ok() {
        return Err(done.failed("it exited with a failure but printed no failing resource"));
    }
    Ok(report)
}

/// Why the output could not be turned into results.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Unreadable {
    /// A `FATAL ... does not support kubernetes version` line.
    UnsupportedVersion(String),
    /// A line this parser does not understand.
    Line(String),
}

/// Parses the text output of a run on `file`. A missing schema is [`Status::Error`], or
/// [`Status::Skipped`] with `ignore_missing_schemas`. Lines that continue a previous line
/// (a message with a line break) are appended to it.
///
/// # Errors
/// An unsupported version, or a line of unknown shape before any result.
pub(super) fn parse(
    stdout: &str,
    file: &str,
    ignore_missing_schemas: bool,
) -> Result<Vec<ResourceResult>, Unreadable> {
    let mut out: Vec<ResourceResult> = Vec::new();
    for line in stdout.lines() {
        if line.trim().is_empty() {
            continue;
        }
        if let Some(result) = parse_line(line, file, ignore_missing_schemas)? {
            out.push(result);
            continue;
        }
        let Some(last) = out.last_mut() else {
            return Err(Unreadable::Line(format!(
                "cannot read its output line {line:?}"
            )));
        };
        let message = match last.errors.last_mut() {
            Some(e) => &mut e.message,
            None => last.message.get_or_insert_with(String::new),
        };
        message.push('\n');
        message.push_str(line);
    }
    Ok(out)
}

/// One line, or `None` when it is not the start of a result.
fn parse_line(
    line: &str,
    file: &str,
    ignore_missing_schemas: bool,
) -> Result<Option<ResourceResult>, Unreadable> {
    if line.starts_with("FATAL ") && line.contains("does not support kubernetes version") {
        return Err(Unreadable::UnsupportedVersion(line.to_owned()));
    }
    // A version older than its oldest schemas fails every resource with this IndexError
    // (it picks the newest schema version not newer than the one asked for, of none).
    if line.starts_with("ERROR ")
        && line.ends_with("could not be validated: list index out of range")
    {
        return Err(Unreadable::UnsupportedVersion(format!(
            "{line} (it has no schemas for a version this old)"
        )));
    }
    let Some((level, rest)) = line.split_once(' ') else {
        return Ok(None);
    };
    // The file name is ours and contains none of the phrases below, so skipping it by
    // prefix (or, should the tool print it differently, by phrase) is unambiguous.
    let rest = rest
        .strip_prefix(file)
        .and_then(|r| r.strip_prefix(' '))
        .unwrap_or(rest);
    let after = |phrase: &str| rest.find(phrase).map(|i| &rest[i + phrase.len()..]);

    let result = match level {
        "INFO" => after("passed for resource ").map(|kn| {
            let (kind, name) = kind_name(kn.split(" against version ").next().unwrap_or(kn));
            unidentified(kind, name, Status::Valid)
        }),
        "ERROR" => {
            if let Some(body) = after("did not validate for resource ") {
                let (kn, detail) = body.split_once(" against version ").unwrap_or((body, ""));
                let (kind, name) = kind_name(kn);
                // `VERSION: PATH: MESSAGE`; PATH is empty for the top level.
                let detail = detail.split_once(": ").map_or("", |(_, d)| d);
                let (path, message) = detail.split_once(": ").unwrap_or(("", detail));
                let mut r = unidentified(kind, name, Status::Invalid);
                if message.is_empty() {
                    // Not the usual shape: keep the tool's words rather than lose them.
                    r.message = Some(body.to_owned());
                } else {
                    r.errors.push(FieldError {
                        path: path.to_owned(),
                        message: message.to_owned(),
                    });
                }
                Some(r)
            } else {
                after("could not be validated: ").map(|reason| {
                    let mut r = unidentified(String::new(), String::new(), Status::Error);
                    r.message = Some(format!("could not be validated: {reason}"));
                    r
                })
            }
        }
        "WARN" => {
            let message = rest.to_owned();
            let mut r = unidentified(String::new(), String::new(), Status::Error);
            if let Some(body) = after("Couldn't find schema for kind ") {
                let (kind, tail) = body.split_once(" with api version ").unwrap_or((body, ""));
                let api = tail.split(" for kubernetes version ").next().unwrap_or("");
                r.kind = kind.to_owned();
                r.version = (!api.is_empty()).then(|| api.to_owned());
                if ignore_missing_schemas {
                    r.status = Status::Skipped;
                }
            }
            r.message = Some(message);
            Some(r)
        }
        _ => None,
    };
    Ok(result)
}

fn kind_name(kn: &str) -> (String, String) {
    let (kind, name) = kn.split_once('/').unwrap_or((kn, ""));
    (kind.to_owned(), name.to_owned())
}

fn unidentified(kind: String, name: String, status: Status) -> ResourceResult {
    ResourceResult {
        kind,
        name,
        namespace: None,
        version: None,
        status,
        errors: Vec::new(),
        message: None,
    }
}

/// Results come one per document in stream order, so the n-th result is the n-th document:
/// take its kind (in its real case), name, namespace and apiVersion from the stream. Done
/// only when the counts agree, and per result only when what the tool printed matches.
fn identify(resources: &mut [ResourceResult], ids: &[Identity]) {
    if resources.len() != ids.len() {
        return;
    }
    for (r, id) in resources.iter_mut().zip(ids) {
        let kind_agrees = r.kind.is_empty()
            || id
                .kind
                .as_deref()
                .is_some_and(|k| k.eq_ignore_ascii_case(&r.kind));
        let name_agrees = r.name.is_empty() || id.name.as_deref() == Some(r.name.as_str());
        let version_agrees = r.version.is_none() || r.version == id.api_version;
        if !(kind_agrees && name_agrees && version_agrees) {
            continue;
        }
        if let Some(kind) = &id.kind {
            r.kind.clone_from(kind);
        }
        if let Some(name) = &id.name {
            r.name.clone_from(name);
        }
        r.namespace.clone_from(&id.namespace);
        r.version.clone_from(&id.api_version);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "/tmp/gen-validate-Ab12.yaml";

    /// Captured from kubernetes-validate 1.37.0 on out/prod.yaml (the file name replaced).
    const ALL_VALID: &str = "\
INFO /tmp/gen-validate-Ab12.yaml passed for resource namespace/akidb-prod against version 1.33
INFO /tmp/gen-validate-Ab12.yaml passed for resource serviceaccount/akidb-embed against version 1.33
INFO /tmp/gen-validate-Ab12.yaml passed for resource configmap/akidb-embed-config against version 1.33
INFO /tmp/gen-validate-Ab12.yaml passed for resource persistentvolumeclaim/akidb-embed-models against version 1.33
INFO /tmp/gen-validate-Ab12.yaml passed for resource service/akidb-embed against version 1.33
INFO /tmp/gen-validate-Ab12.yaml passed for resource deployment/akidb-embed against version 1.33
INFO /tmp/gen-validate-Ab12.yaml passed for resource horizontalpodautoscaler/akidb-embed against version 1.33
INFO /tmp/gen-validate-Ab12.yaml passed for resource poddisruptionbudget/akidb-embed against version 1.33
INFO /tmp/gen-validate-Ab12.yaml passed for resource ingress/akidb-embed against version 1.33
INFO /tmp/gen-validate-Ab12.yaml passed for resource networkpolicy/akidb-embed against version 1.33
";

    /// Captured from kubernetes-validate 1.37.0 on a broken prod stream (exit status 3): an
    /// extra top-level key in the Service, an extra key under the Deployment's
    /// rollingUpdate (its second error, a top-level `extra`, is not reported), a CRD-like
    /// kind, a ConfigMap without a name, a document without apiVersion, a wrong type.
    const BROKEN: &str = "\
INFO /tmp/gen-validate-Ab12.yaml passed for resource namespace/akidb-prod against version 1.33
ERROR /tmp/gen-validate-Ab12.yaml did not validate for resource service/akidb-embed against version 1.33: : Additional properties are not allowed ('foo' was unexpected)
ERROR /tmp/gen-validate-Ab12.yaml did not validate for resource deployment/akidb-embed against version 1.33: spec.strategy.rollingUpdate: Additional properties are not allowed ('bogus' was unexpected)
WARN /tmp/gen-validate-Ab12.yaml Couldn't find schema for kind Foo with api version example.com/v1 for kubernetes version 1.33
ERROR /tmp/gen-validate-Ab12.yaml could not be validated: 'name'
ERROR /tmp/gen-validate-Ab12.yaml could not be validated: 'apiVersion'
ERROR /tmp/gen-validate-Ab12.yaml did not validate for resource deployment/typ against version 1.33: spec.replicas: 'three' is not of type 'integer', 'null'
";

    const BROKEN_YAML: &str = "\
apiVersion: v1
kind: Namespace
metadata:
  name: akidb-prod
---
apiVersion: v1
kind: Service
foo: bar
metadata:
  name: akidb-embed
  namespace: akidb-prod
---
apiVersion: apps/v1
kind: Deployment
extra: true
metadata:
  name: akidb-embed
  namespace: akidb-prod
---
apiVersion: example.com/v1
kind: Foo
metadata:
  name: foo1
  namespace: x
---
apiVersion: v1
kind: ConfigMap
metadata:
  namespace: x
---
kind: ConfigMap
metadata:
  name: noapi
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: typ
spec:
  replicas: three
";

    #[test]
    fn all_valid_output_gives_one_valid_result_per_line() {
        let results = parse(ALL_VALID, FILE, false).unwrap();
        assert_eq!(results.len(), 10);
        assert!(results.iter().all(|r| r.status == Status::Valid));
        assert_eq!(
            (results[5].kind.as_str(), results[5].name.as_str()),
            ("deployment", "akidb-embed")
        );
    }

    #[test]
    fn broken_output_gives_each_shape_its_status() {
        let results = parse(BROKEN, FILE, false).unwrap();
        let summary: Vec<(&str, &str, Status)> = results
            .iter()
            .map(|r| (r.kind.as_str(), r.name.as_str(), r.status))
            .collect();
        assert_eq!(
            summary,
            [
                ("namespace", "akidb-prod", Status::Valid),
                ("service", "akidb-embed", Status::Invalid),
                ("deployment", "akidb-embed", Status::Invalid),
                ("Foo", "", Status::Error),
                ("", "", Status::Error),
                ("", "", Status::Error),
                ("deployment", "typ", Status::Invalid),
            ]
        );
        assert_eq!(
            results[1].errors,
            [FieldError {
                path: String::new(),
                message: "Additional properties are not allowed ('foo' was unexpected)".to_owned()
            }]
        );
        assert_eq!(results[2].errors[0].path, "spec.strategy.rollingUpdate");
        assert_eq!(
            results[6].errors[0].message,
            "'three' is not of type 'integer', 'null'"
        );
        assert_eq!(results[3].version.as_deref(), Some("example.com/v1"));
        assert_eq!(
            results[3].message.as_deref(),
            Some(
                "Couldn't find schema for kind Foo with api version example.com/v1 for kubernetes version 1.33"
            )
        );
        assert_eq!(
            results[5].message.as_deref(),
            Some("could not be validated: 'apiVersion'")
        );
    }

    #[test]
    fn the_stream_names_what_the_tool_leaves_out() {
        let mut results = parse(BROKEN, FILE, false).unwrap();
        identify(&mut results, &manifest::identities(BROKEN_YAML).unwrap());
        let ids: Vec<(&str, &str, Option<&str>, Option<&str>)> = results
            .iter()
            .map(|r| {
                (
                    r.kind.as_str(),
                    r.name.as_str(),
                    r.namespace.as_deref(),
                    r.version.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            ids,
            [
                ("Namespace", "akidb-prod", None, Some("v1")),
                ("Service", "akidb-embed", Some("akidb-prod"), Some("v1")),
                (
                    "Deployment",
                    "akidb-embed",
                    Some("akidb-prod"),
                    Some("apps/v1")
                ),
                ("Foo", "foo1", Some("x"), Some("example.com/v1")),
                ("ConfigMap", "", Some("x"), Some("v1")),
                ("ConfigMap", "noapi", None, None),
                ("Deployment", "typ", None, Some("apps/v1")),
            ]
        );
        let report = Report {
            backend: Backend::KubernetesValidate,
            kubernetes_version: "1.33.0".to_owned(),
            resources: results,
        };
        assert_eq!(
            report.to_string(),
            "Service akidb-embed: (top level): Additional properties are not allowed ('foo' was unexpected)\n\
             Deployment akidb-embed: spec.strategy.rollingUpdate: Additional properties are not allowed ('bogus' was unexpected)\n\
             Foo foo1: Couldn't find schema for kind Foo with api version example.com/v1 for kubernetes version 1.33\n\
             ConfigMap (unnamed): could not be validated: 'name'\n\
             ConfigMap noapi: could not be validated: 'apiVersion'\n\
             Deployment typ: spec.replicas: 'three' is not of type 'integer', 'null'\n"
        );
    }

    #[test]
    fn mismatched_streams_are_left_as_printed() {
        let mut results = parse(ALL_VALID, FILE, false).unwrap();
        identify(&mut results, &manifest::identities(BROKEN_YAML).unwrap());
        assert_eq!(results[0].kind, "namespace");
    }

    #[test]
    fn a_missing_schema_is_skipped_when_asked() {
        let results = parse(BROKEN, FILE, true).unwrap();
        assert_eq!(results[3].status, Status::Skipped);
    }

    #[test]
    fn an_unsupported_version_is_its_own_failure() {
        let out = "FATAL kubernetes-validate 1.37.0 does not support kubernetes version 1.99.0\n";
        assert_eq!(
            parse(out, FILE, false),
            Err(Unreadable::UnsupportedVersion(out.trim_end().to_owned()))
        );
    }

    #[test]
    fn an_odd_invalid_line_keeps_its_text() {
        let out = format!(
            "ERROR {FILE} did not validate for resource configmap/a against version 1.33\n"
        );
        let results = parse(&out, FILE, false).unwrap();
        assert_eq!(results[0].status, Status::Invalid);
        assert!(results[0].errors.is_empty());
        assert_eq!(
            results[0].message.as_deref(),
            Some("configmap/a against version 1.33")
        );
    }

    #[test]
    fn a_version_older_than_every_schema_is_unsupported_too() {
        let out = format!("ERROR {FILE} could not be validated: list index out of range\n");
        let Err(Unreadable::UnsupportedVersion(message)) = parse(&out, FILE, false) else {
            panic!("expected UnsupportedVersion");
        };
        assert!(
            message.contains("no schemas for a version this old"),
            "{message}"
        );
    }

    #[test]
    fn continuation_lines_join_the_previous_message_and_strays_are_refused() {
        let out = format!(
            "ERROR {FILE} did not validate for resource configmap/a against version 1.33: data.x: first\nsecond line\n"
        );
        let results = parse(&out, FILE, false).unwrap();
        assert_eq!(results[0].errors[0].message, "first\nsecond line");
        assert!(matches!(
            parse("Usage: something\n", FILE, false),
            Err(Unreadable::Line(_))
        ));
    }

    #[test]
    fn args_pass_the_version_strict_and_the_file() {
        let args = args("1.33.0", Path::new("/tmp/x.yaml"));
        assert_eq!(args, ["-k", "1.33.0", "--strict", "/tmp/x.yaml"]);
    }
}
