//! Helpers shared by the end-to-end tests in `tests/tests/`: where the repository and the
//! external tools are.

use std::path::{Path, PathBuf};

use akidb_gen::validate::{BackendChoice, ValidatorConfig};

/// The repository root.
#[must_use]
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .unwrap_or_else(|e| panic!("repository root: {e}"))
}

/// kubernetes-validate, wherever `make tools` (`.venv`) or `KUBERNETES_VALIDATE` put it.
#[must_use]
pub fn validator() -> ValidatorConfig {
    let mut config = ValidatorConfig::from_env();
    config.backend = BackendChoice::KubernetesValidate;
    if std::env::var_os("KUBERNETES_VALIDATE").is_none() {
        config.kubernetes_validate = root().join(".venv/bin/kubernetes-validate");
    }
    config
}

/// kubectl with kustomize, wherever `make tools` (`.tools`) or `KUBECTL` put it.
#[must_use]
pub fn kubectl() -> PathBuf {
    std::env::var_os("KUBECTL").map_or_else(|| root().join(".tools/kubectl"), PathBuf::from)
}
