//! The kubeconform backend: `kubeconform -strict -summary -output json -verbose
//! -kubernetes-version V [-schema-location L]... [-ignore-missing-schemas]` with the stream
//! on stdin (kubeconform reads stdin when given no file), and its JSON report parsed.
//!
//! The report format (kubeconform 0.6, `pkg/output/json.go`):
//! `{"resources": [{"filename", "kind", "name", "version", "status", "msg",
//! "validationErrors": [{"path", "msg"}]}], "summary": {"valid", "invalid", "errors",
//! "skipped"}}`, where `status` is `statusValid`, `statusInvalid`, `statusError` or
//! `statusSkipped` and `path` is a JSON pointer (`/spec/replicas`). Without `-verbose`
//! kubeconform lists only failing resources; with it every resource appears, so the
//! report says what was checked.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::Path;

use serde::Deserialize;

use super::manifest::{self, Identity};
use super::process;
use super::{Backend, FieldError, Report, ResourceResult, Status, ValidateError};

/// What to run kubeconform with.
#[derive(Debug, Clone, Copy)]
pub(super) struct Options<'a> {
    pub(super) program: &'a Path,
    pub(super) schema_locations: &'a [String],
    pub(super) ignore_missing_schemas: bool,
}

/// The command-line arguments for one run (the stream goes on stdin).
pub(super) fn args(kubernetes_version: &str, options: &Options<'_>) -> Vec<OsString> {
    let mut args: Vec<OsString> = [
        "-strict",
        "-summary",
        "-output",
        "json",
        "-verbose",
        "-kubernetes-version",
        kubernetes_version,
    ]
    .iter()
    .map(OsString::from)
    .collect();
    for location in options.schema_locations {
        args.push("-schema-location".into());
        args.push(location.into());
    }
    if options.ignore_missing_schemas {
        args.push("-ignore-missing-schemas".into());
    }
    args
}

/// Validates `yaml` against `kubernetes_version` (already normalised).
///
/// # Errors
/// A missing binary, or one that fails without a readable report.
pub(super) fn validate(
    yaml: &str,
    kubernetes_version: &str,
    options: &Options<'_>,
) -> Result<Report, ValidateError> {
    let done = process::run(
        Backend::Kubeconform,
        options.program,
        &args(kubernetes_version, options),
        Some(yaml),
    )?;
    let mut resources = parse(&done.stdout).map_err(|reason| done.failed(reason))?;
    if let Some(ids) = manifest::identities(yaml) {
        add_namespaces(&mut resources, &ids);
    }
    let report = Report {
        backend: Backend::Kubeconform,
        kubernetes_version: kubernetes_version.to_owned(),
        resources,
    };
    if !done.status.success() && report.is_ok() {
        return Err(
            done.failed("it exited with a failure but its report names no failing resource")
        );
    }
    Ok(report)
}

#[derive(Debug, Deserialize)]
struct JsonReport {
    resources: Vec<JsonResource>,
}

#[derive(Debug, Deserialize)]
struct JsonResource {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    version: String,
    status: String,
    #[serde(default)]
    msg: String,
    #[serde(default, rename = "validationErrors")]
    validation_errors: Vec<JsonFieldError>,
}

#[derive(Debug, Deserialize)]
struct JsonFieldError {
    #[serde(default)]
    path: String,
    #[serde(default)]
    msg: String,
}

/// Parses kubeconform's `-output json` report into results.
///
/// # Errors
/// A sentence saying what is wrong with the text (for [`ValidateError::Failed`]).
pub(super) fn parse(stdout: &str) -> Result<Vec<ResourceResult>, String> {
    let report: JsonReport = serde_json::from_str(stdout).map_err(|e| {
        format!(
            "cannot read its JSON report ({e}); stdout began: {:?}",
            stdout.chars().take(200).collect::<String>()
        )
    })?;
    report
        .resources
        .into_iter()
        .map(|r| {
            let status = match r.status.as_str() {
                "statusValid" | "VALID" => Status::Valid,
                "statusInvalid" | "INVALID" => Status::Invalid,
                "statusError" | "ERROR" => Status::Error,
                "statusSkipped" | "SKIPPED" => Status::Skipped,
                other => {
                    return Err(format!(
                        "unknown status `{other}` for {} {} in its JSON report",
                        r.kind, r.name
                    ));
                }
            };
            Ok(ResourceResult {
                kind: r.kind,
                name: r.name,
                namespace: None,
                version: (!r.version.is_empty()).then_some(r.version),
                status,
                errors: r
                    .validation_errors
                    .into_iter()
                    .map(|e| FieldError {
                        path: dotted(&e.path),
                        message: e.msg,
                    })
                    .collect(),
                message: (!r.msg.is_empty()).then_some(r.msg),
            })
        })
        .collect()
}

/// JSON pointer to the dotted form kubernetes-validate and kubectl use:
/// `/spec/template/spec/containers/0/image` → `spec.template.spec.containers.0.image`.
fn dotted(pointer: &str) -> String {
    pointer
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect::<Vec<_>>()
        .join(".")
}

/// kubeconform does not print namespaces: take them from the stream, matching on kind,
/// name and apiVersion (left out when that is ambiguous).
fn add_namespaces(resources: &mut [ResourceResult], ids: &[Identity]) {
    let mut by_key: HashMap<(&str, &str, &str), Option<&str>> = HashMap::new();
    for id in ids {
        let (Some(kind), Some(name)) = (id.kind.as_deref(), id.name.as_deref()) else {
            continue;
        };
        let key = (kind, name, id.api_version.as_deref().unwrap_or(""));
        let ns = id.namespace.as_deref();
        by_key
            .entry(key)
            .and_modify(|seen| {
                if *seen != ns {
                    *seen = None;
                }
            })
            .or_insert(ns);
    }
    for r in resources {
        let key = (
            r.kind.as_str(),
            r.name.as_str(),
            r.version.as_deref().unwrap_or(""),
        );
        if let Some(Some(ns)) = by_key.get(&key) {
            r.namespace = Some((*ns).to_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(locations: &[String], ignore: bool) -> Options<'_> {
        Options {
            program: Path::new("kubeconform"),
            schema_locations: locations,
            ignore_missing_schemas: ignore,
        }
    }

    #[test]
    fn args_are_strict_json_verbose_with_every_schema_location() {
        let locations = vec![
            "default".to_owned(),
            "/schemas/{{ .ResourceKind }}.json".to_owned(),
        ];
        let full = args("1.33.0", &options(&locations, true));
        let full: Vec<&str> = full.iter().map(|a| a.to_str().unwrap()).collect();
        assert_eq!(
            full,
            [
                "-strict",
                "-summary",
                "-output",
                "json",
                "-verbose",
                "-kubernetes-version",
                "1.33.0",
                "-schema-location",
                "default",
                "-schema-location",
                "/schemas/{{ .ResourceKind }}.json",
                "-ignore-missing-schemas",
            ]
        );
        assert!(!args_has(
            &args("1.33.0", &options(&[], false)),
            "-ignore-missing-schemas"
        ));
    }

    fn args_has(args: &[OsString], flag: &str) -> bool {
        args.iter().any(|a| a == flag)
    }

    #[test]
    fn all_valid() {
        let text = r#"{
  "resources": [
    {
      "filename": "stdin",
      "kind": "Namespace",
      "name": "akidb-prod",
      "version": "v1",
      "status": "statusValid",
      "msg": ""
    },
    {
      "filename": "stdin",
      "kind": "Deployment",
      "name": "akidb-embed",
      "version": "apps/v1",
      "status": "statusValid",
      "msg": ""
    }
  ],
  "summary": {
    "valid": 2,
    "invalid": 0,
    "errors": 0,
    "skipped": 0
  }
}
"#;
        let results = parse(text).unwrap();
        assert_eq!(results.len(), 2);
        assert!(
            results
                .iter()
                .all(|r| r.status == Status::Valid && r.errors.is_empty() && r.message.is_none())
        );
        assert_eq!(results[1].kind, "Deployment");
        assert_eq!(results[1].version.as_deref(), Some("apps/v1"));
    }

    #[test]
    fn invalid_with_several_errors() {
        let text = r#"{
  "resources": [
    {
      "filename": "stdin",
      "kind": "Deployment",
      "name": "akidb-embed",
      "version": "apps/v1",
      "status": "statusInvalid",
      "msg": "problem validating schema. Check JSON formatting: jsonschema validation failed with 'https://raw.githubusercontent.com/yannh/kubernetes-json-schema/master/v1.33.0-standalone-strict/deployment-apps-v1.json#'\n- at '/spec/strategy/rollingUpdate': additional properties 'bogus' not allowed\n- at '/spec/replicas': got string, want integer",
      "validationErrors": [
        {
          "path": "/spec/strategy/rollingUpdate",
          "msg": "additional properties 'bogus' not allowed"
        },
        {
          "path": "/spec/replicas",
          "msg": "got string, want integer"
        },
        {
          "path": "/metadata/annotations/prometheus.io~1port",
          "msg": "got number, want string"
        },
        {
          "path": "",
          "msg": "additional properties 'extra' not allowed"
        }
      ]
    }
  ],
  "summary": {
    "valid": 0,
    "invalid": 1,
    "errors": 0,
    "skipped": 0
  }
}
"#;
        let results = parse(text).unwrap();
        let r = &results[0];
        assert_eq!(r.status, Status::Invalid);
        let errors: Vec<(&str, &str)> = r
            .errors
            .iter()
            .map(|e| (e.path.as_str(), e.message.as_str()))
            .collect();
        assert_eq!(
            errors,
            [
                (
                    "spec.strategy.rollingUpdate",
                    "additional properties 'bogus' not allowed"
                ),
                ("spec.replicas", "got string, want integer"),
                (
                    "metadata.annotations.prometheus.io/port",
                    "got number, want string"
                ),
                ("", "additional properties 'extra' not allowed"),
            ]
        );
        assert!(
            r.message
                .as_deref()
                .unwrap()
                .starts_with("problem validating schema")
        );
        let report = Report {
            backend: Backend::Kubeconform,
            kubernetes_version: "1.33.0".to_owned(),
            resources: results,
        };
        assert!(!report.is_ok());
        assert_eq!(
            report.to_string().lines().next().unwrap(),
            "Deployment akidb-embed: spec.strategy.rollingUpdate: additional properties 'bogus' not allowed"
        );
        assert_eq!(report.to_string().lines().count(), 4);
    }

    #[test]
    fn error_when_no_schema_is_found() {
        let text = r#"{
  "resources": [
    {
      "filename": "stdin",
      "kind": "Foo",
      "name": "foo1",
      "version": "example.com/v1",
      "status": "statusError",
      "msg": "could not find schema for Foo"
    }
  ],
  "summary": {
    "valid": 0,
    "invalid": 0,
    "errors": 1,
    "skipped": 0
  }
}
"#;
        let results = parse(text).unwrap();
        assert_eq!(results[0].status, Status::Error);
        assert!(results[0].errors.is_empty());
        let report = Report {
            backend: Backend::Kubeconform,
            kubernetes_version: "1.33.0".to_owned(),
            resources: results,
        };
        assert!(!report.is_ok());
        assert_eq!(
            report.to_string(),
            "Foo foo1: could not find schema for Foo\n"
        );
    }

    #[test]
    fn skipped() {
        let text = r#"{
  "resources": [
    {
      "filename": "stdin",
      "kind": "Foo",
      "name": "foo1",
      "version": "example.com/v1",
      "status": "statusSkipped",
      "msg": ""
    }
  ],
  "summary": {
    "valid": 0,
    "invalid": 0,
    "errors": 0,
    "skipped": 1
  }
}
"#;
        let results = parse(text).unwrap();
        assert_eq!(results[0].status, Status::Skipped);
        assert!(results[0].message.is_none());
    }

    #[test]
    fn an_unreadable_report_or_status_is_refused_with_the_text() {
        let err = parse("failing to read data from stdin\n").unwrap_err();
        assert!(err.contains("cannot read its JSON report"), "{err}");
        assert!(err.contains("failing to read data"), "{err}");
        let err =
            parse(r#"{"resources":[{"kind":"A","name":"b","status":"statusWeird"}]}"#).unwrap_err();
        assert!(
            err.contains("unknown status `statusWeird` for A b"),
            "{err}"
        );
    }

    #[test]
    fn namespaces_come_from_the_stream() {
        let yaml = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: prod\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: prod\n";
        let mut results = parse(
            r#"{"resources":[
                {"kind":"Deployment","name":"web","version":"apps/v1","status":"statusValid","msg":""},
                {"kind":"Namespace","name":"prod","version":"v1","status":"statusValid","msg":""}]}"#,
        )
        .unwrap();
        add_namespaces(&mut results, &manifest::identities(yaml).unwrap());
        assert_eq!(results[0].namespace.as_deref(), Some("prod"));
        assert_eq!(results[1].namespace, None);
    }
}
