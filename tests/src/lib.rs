//! Helpers shared by the end-to-end tests in `tests/tests/`: where the repository and the
//! external tools are.

use std::path::{Path, PathBuf};

use akidb_gen::settings::{AkidbEmbed, Component, Environment};
use akidb_gen::validate::{BackendChoice, ValidatorConfig};

/// The settings of an environment's embedding server: its one `akidb_embed` component.
#[must_use]
pub fn server_settings(env: &Environment) -> &AkidbEmbed {
    env.akidb_embeds()
        .next()
        .map(|(_, s)| s)
        .unwrap_or_else(|| panic!("environment `{}` runs no akidb_embed", env.namespace))
}

/// [`server_settings`], to change.
pub fn server_settings_mut(env: &mut Environment) -> &mut AkidbEmbed {
    match env.components.values_mut().next() {
        Some(Component::AkidbEmbed(s)) => s,
        None => panic!("environment `{}` runs no component", env.namespace),
    }
}

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

pub mod http;
pub mod monitoring;
pub mod tiny_bert;

/// The `akidb-embed` binary: `AKIDB_EMBED_BIN`, else the one cargo built beside this test
/// (`cargo test --workspace` builds it for the server's own tests).
#[must_use]
pub fn server_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("AKIDB_EMBED_BIN") {
        return PathBuf::from(p);
    }
    // target/<profile>/deps/<test> -> target/<profile>/akidb-embed
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("current test binary: {e}"));
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join(app::container::BINARY_NAME));
    match bin {
        Some(b) if b.is_file() => b,
        _ => panic!(
            "the akidb-embed binary is not built next to the tests: run `cargo build -p app --bin akidb-embed` \
             (or the whole `cargo test --workspace`), or set AKIDB_EMBED_BIN"
        ),
    }
}

/// The folder holding the real all-MiniLM-L6-v2 (`AKIDB_TEST_MODEL_DIR`, default `.models`).
///
/// # Panics
/// When the model is missing, with the command that fetches it.
#[must_use]
pub fn minilm_dir() -> PathBuf {
    let dir = std::env::var_os("AKIDB_TEST_MODEL_DIR")
        .map_or_else(|| root().join(".models"), PathBuf::from);
    let model = dir.join(app::ModelId::AllMiniLmL6V2.as_str());
    assert!(
        model.join("model.safetensors").is_file(),
        "all-MiniLM-L6-v2 is missing at {}: run `bash scripts/fetch-models.sh` (or `make models`)",
        model.display()
    );
    model
}
