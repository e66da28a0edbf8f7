//! Strict schema validation of a rendered YAML stream by a real validator, run through
//! `std::process`: kubeconform where it is installed, kubernetes-validate (PyPI, the same
//! upstream schemas) where it is not. Both answers become one typed [`Report`].
//!
//! ```no_run
//! use akidb_gen::validate::{ValidatorConfig, validate};
//!
//! let yaml = std::fs::read_to_string("out/prod.yaml")?;
//! let report = validate(&yaml, "1.33", &ValidatorConfig::from_env())?;
//! eprint!("{report}");
//! assert!(report.is_ok(), "{}", report.summary());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod config;
mod error;
mod kubeconform;
mod kubernetes_validate;
mod manifest;
mod process;
mod report;
mod version;

pub use config::{
    BackendChoice, KUBECONFORM_ENV, KUBECONFORM_SCHEMA_LOCATION_ENV, KUBERNETES_VALIDATE_ENV,
    ValidatorConfig,
};
pub use error::{Tried, ValidateError};
pub use report::{Backend, Counts, FieldError, Report, ResourceResult, Status};
pub use version::normalise as normalise_version;

/// Validates the YAML stream `yaml` in strict mode (unknown fields are errors) against
/// Kubernetes `kubernetes_version` (`1.33`, `1.33.0` or `v1.33.0`), with the validator
/// `config` selects. Resources that break their schema are results in the [`Report`], not
/// errors: check [`Report::is_ok`].
///
/// # Errors
/// An invalid version; no validator binary found ([`ValidateError::NotFound`], naming
/// every binary tried and how to install each); a version the validator does not support;
/// a validator that crashed or printed something unreadable (naming the binary, its exit
/// status and the start of its stderr).
pub fn validate(
    yaml: &str,
    kubernetes_version: &str,
    config: &ValidatorConfig,
) -> Result<Report, ValidateError> {
    let version = normalise_version(kubernetes_version)?;
    let kubeconform = || {
        kubeconform::validate(
            yaml,
            &version,
            &kubeconform::Options {
                program: &config.kubeconform,
                schema_locations: &config.kubeconform_schema_locations,
                ignore_missing_schemas: config.ignore_missing_schemas,
            },
        )
    };
    let kubernetes_validate = || {
        kubernetes_validate::validate(
            yaml,
            &version,
            &kubernetes_validate::Options {
                program: &config.kubernetes_validate,
                ignore_missing_schemas: config.ignore_missing_schemas,
            },
        )
    };
    match config.backend {
        BackendChoice::Kubeconform => kubeconform(),
        BackendChoice::KubernetesValidate => kubernetes_validate(),
        BackendChoice::Auto => match kubeconform() {
            Err(ValidateError::NotFound { mut tried }) => match kubernetes_validate() {
                Err(ValidateError::NotFound { tried: more }) => {
                    tried.extend(more);
                    Err(ValidateError::NotFound { tried })
                }
                other => other,
            },
            other => other,
        },
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn nowhere() -> ValidatorConfig {
        ValidatorConfig {
            kubeconform: PathBuf::from("/nonexistent/kubeconform"),
            kubernetes_validate: PathBuf::from("/nonexistent/kubernetes-validate"),
            ..ValidatorConfig::default()
        }
    }

    #[test]
    fn auto_without_any_binary_names_both_and_how_to_install_them() {
        let err = validate("a: 1\n", "1.33", &nowhere()).unwrap_err();
        let ValidateError::NotFound { tried } = &err else {
            panic!("expected NotFound, got {err:?}");
        };
        assert_eq!(
            tried.iter().map(|t| t.backend).collect::<Vec<_>>(),
            [Backend::Kubeconform, Backend::KubernetesValidate]
        );
        let msg = err.to_string();
        for needle in [
            "no schema validator found",
            "`/nonexistent/kubeconform`",
            "go install github.com/yannh/kubeconform/cmd/kubeconform@latest",
            "https://github.com/yannh/kubeconform/releases",
            "`/nonexistent/kubernetes-validate`",
            "pip install kubernetes-validate",
        ] {
            assert!(msg.contains(needle), "{needle:?} missing from: {msg}");
        }
    }

    #[test]
    fn a_chosen_backend_is_the_only_one_tried() {
        let config = ValidatorConfig {
            backend: BackendChoice::KubernetesValidate,
            ..nowhere()
        };
        let err = validate("a: 1\n", "1.33", &config).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("pip install kubernetes-validate"), "{msg}");
        assert!(!msg.contains("kubeconform"), "{msg}");
    }

    #[test]
    fn a_bad_version_is_refused_before_anything_runs() {
        let err = validate("a: 1\n", "latest", &nowhere()).unwrap_err();
        assert!(matches!(err, ValidateError::Version { .. }), "{err:?}");
    }

    #[cfg(unix)]
    #[test]
    fn a_crashing_validator_is_named_with_its_status_and_stderr() {
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("kubeconform");
        std::fs::write(&fake, "#!/bin/sh\necho 'panic: boom' >&2\nexit 2\n").unwrap();
        make_executable(&fake);
        let config = ValidatorConfig {
            backend: BackendChoice::Kubeconform,
            kubeconform: fake.clone(),
            ..nowhere()
        };
        let err = validate_fake("a: 1\n", "1.33", &config).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, ValidateError::Failed { .. }), "{err:?}");
        assert!(msg.contains(&fake.display().to_string()), "{msg}");
        assert!(msg.contains("exit status: 2"), "{msg}");
        assert!(msg.contains("panic: boom"), "{msg}");
    }

    #[cfg(unix)]
    #[test]
    fn a_fake_kubeconform_report_comes_back_typed_with_namespaces() {
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("kubeconform");
        // Checks the arguments and that the stream arrives on stdin, then answers.
        std::fs::write(
            &fake,
            r#"#!/bin/sh
[ "$*" = "-strict -summary -output json -verbose -kubernetes-version 1.37.0 -schema-location /s" ] || { echo "bad args: $*" >&2; exit 9; }
grep -q 'name: web' || { echo 'no stdin' >&2; exit 9; }
cat <<'JSON'
{
  "resources": [
    {"filename": "stdin", "kind": "Deployment", "name": "web", "version": "apps/v1", "status": "statusInvalid",
     "msg": "x", "validationErrors": [{"path": "/spec/replicas", "msg": "got string, want integer"}]}
  ],
  "summary": {"valid": 0, "invalid": 1, "errors": 0, "skipped": 0}
}
JSON
exit 1
"#,
        )
        .unwrap();
        make_executable(&fake);
        let config = ValidatorConfig {
            kubeconform: fake,
            kubeconform_schema_locations: vec!["/s".to_owned()],
            ..nowhere()
        };
        let yaml = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: prod\nspec:\n  replicas: two\n";
        let report = validate_fake(yaml, "v1.37", &config).unwrap();
        assert_eq!(report.backend, Backend::Kubeconform);
        assert_eq!(report.kubernetes_version, "1.37.0");
        assert_eq!(report.resources[0].namespace.as_deref(), Some("prod"));
        assert_eq!(
            report.to_string(),
            "Deployment web: spec.replicas: got string, want integer\n"
        );
    }

    /// [`validate`] on a script this test just wrote: another test thread forking at that
    /// moment can hold the file open for writing, and exec then fails with ETXTBSY.
    #[cfg(unix)]
    fn validate_fake(
        yaml: &str,
        version: &str,
        config: &ValidatorConfig,
    ) -> Result<Report, ValidateError> {
        for _ in 0..50 {
            match validate(yaml, version, config) {
                Err(ValidateError::Run { source, .. })
                    if source.kind() == std::io::ErrorKind::ExecutableFileBusy =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                other => return other,
            }
        }
        panic!("the fake validator stayed busy");
    }

    #[cfg(unix)]
    fn make_executable(path: &std::path::Path) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}
