//! Which validator to run and where its binary is. Each setting has an environment
//! variable, so CI and users point at their own binaries without a flag.

use std::path::PathBuf;

/// Environment variable: the kubeconform binary (default `kubeconform` on `PATH`).
pub const KUBECONFORM_ENV: &str = "KUBECONFORM";
/// Environment variable: kubeconform schema locations, comma-separated (default:
/// kubeconform's own, which downloads from GitHub). An offline folder is a template such
/// as `/schemas/{{ .NormalizedKubernetesVersion }}-standalone{{ .StrictSuffix }}/{{ .ResourceKind }}{{ .KindSuffix }}.json`;
/// `default` keeps kubeconform's own location beside others.
pub const KUBECONFORM_SCHEMA_LOCATION_ENV: &str = "KUBECONFORM_SCHEMA_LOCATION";
/// Environment variable: the kubernetes-validate binary (default `kubernetes-validate`
/// on `PATH`; `make tools` installs one at `.venv/bin/kubernetes-validate`).
pub const KUBERNETES_VALIDATE_ENV: &str = "KUBERNETES_VALIDATE";

/// Which validator [`validate`](super::validate) runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BackendChoice {
    /// kubeconform when its binary exists, else kubernetes-validate.
    #[default]
    Auto,
    /// kubeconform only.
    Kubeconform,
    /// kubernetes-validate only.
    KubernetesValidate,
}

/// Where the validators are and how to run them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatorConfig {
    /// Which validator to run. Default: [`BackendChoice::Auto`].
    pub backend: BackendChoice,
    /// kubeconform binary; a bare name is looked up on `PATH`. Default: `kubeconform`.
    pub kubeconform: PathBuf,
    /// kubeconform `-schema-location` values, in order (URL templates or local folders).
    /// Default: none, so kubeconform uses its own (online) location.
    pub kubeconform_schema_locations: Vec<String>,
    /// kubernetes-validate binary; a bare name is looked up on `PATH`. Default:
    /// `kubernetes-validate`.
    pub kubernetes_validate: PathBuf,
    /// Report kinds without a schema (custom resources) as skipped instead of as errors.
    /// Default: false, since an unchecked resource proves nothing.
    pub ignore_missing_schemas: bool,
}

impl Default for ValidatorConfig {
    /// The defaults above, without reading the environment (see
    /// [`ValidatorConfig::from_env`]).
    fn default() -> ValidatorConfig {
        ValidatorConfig {
            backend: BackendChoice::Auto,
            kubeconform: PathBuf::from("kubeconform"),
            kubeconform_schema_locations: Vec::new(),
            kubernetes_validate: PathBuf::from("kubernetes-validate"),
            ignore_missing_schemas: false,
        }
    }
}

impl ValidatorConfig {
    /// The defaults, overridden by [`KUBECONFORM_ENV`], [`KUBECONFORM_SCHEMA_LOCATION_ENV`]
    /// and [`KUBERNETES_VALIDATE_ENV`] where set and not empty.
    #[must_use]
    pub fn from_env() -> ValidatorConfig {
        ValidatorConfig::from_vars(|name| std::env::var(name).ok())
    }

    /// As [`ValidatorConfig::from_env`], reading variables through `var` (for tests).
    #[must_use]
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> ValidatorConfig {
        let set = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let mut config = ValidatorConfig::default();
        if let Some(path) = set(KUBECONFORM_ENV) {
            config.kubeconform = PathBuf::from(path);
        }
        if let Some(locations) = set(KUBECONFORM_SCHEMA_LOCATION_ENV) {
            config.kubeconform_schema_locations = locations
                .split(',')
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect();
        }
        if let Some(path) = set(KUBERNETES_VALIDATE_ENV) {
            config.kubernetes_validate = PathBuf::from(path);
        }
        config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_overrides_the_defaults() {
        let config = ValidatorConfig::from_vars(|name| match name {
            KUBECONFORM_ENV => Some("/opt/kubeconform".to_owned()),
            KUBECONFORM_SCHEMA_LOCATION_ENV => {
                Some(" default, /schemas/{{ .ResourceKind }}.json ,".to_owned())
            }
            KUBERNETES_VALIDATE_ENV => Some(".venv/bin/kubernetes-validate".to_owned()),
            _ => None,
        });
        assert_eq!(config.kubeconform, PathBuf::from("/opt/kubeconform"));
        assert_eq!(
            config.kubeconform_schema_locations,
            ["default", "/schemas/{{ .ResourceKind }}.json"]
        );
        assert_eq!(
            config.kubernetes_validate,
            PathBuf::from(".venv/bin/kubernetes-validate")
        );
        assert_eq!(config.backend, BackendChoice::Auto);
    }

    #[test]
    fn unset_or_empty_variables_keep_the_defaults() {
        let config = ValidatorConfig::from_vars(|_| Some(String::new()));
        assert_eq!(config, ValidatorConfig::default());
        assert_eq!(
            ValidatorConfig::from_vars(|_| None),
            ValidatorConfig::default()
        );
    }
}
