//! Helpers shared by the end-to-end tests in `tests/tests/`: where the repository and the
//! external tools are.

use std::path::{Path, PathBuf};

use akidb_gen::crds::CrdCatalog;
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
        _ => panic!("environment `{}` runs no akidb_embed first", env.namespace),
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

/// The upstream CRDs in `../shared/crds/` (beside the repository; read there, never copied).
#[must_use]
pub fn crd_catalog() -> CrdCatalog {
    let dir = root().join("../shared/crds");
    CrdCatalog::load(&dir).unwrap_or_else(|e| {
        panic!(
            "{e}
(the upstream CRDs are expected in the shared folder beside the repository)"
        )
    })
}

/// Validates a stream: built-in kinds strictly by kubernetes-validate for `version`, custom
/// resources strictly against their CRDs ([`crd_catalog`]). Panics with every problem.
pub fn validate_strictly(yaml: &str, version: &str, what: &str) {
    let mut config = validator();
    config.ignore_missing_schemas = true;
    let report = akidb_gen::validate::validate(yaml, version, &config)
        .unwrap_or_else(|e| panic!("{e}\n(run `make tools` or `pip install kubernetes-validate`)"));
    assert!(
        report.is_ok(),
        "{what} fails Kubernetes {version} strict validation:\n{report}"
    );
    let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(yaml).unwrap();
    let custom = akidb_gen::crds::count_custom(&docs);
    let skipped = report
        .resources
        .iter()
        .filter(|r| r.status == akidb_gen::validate::Status::Skipped)
        .count();
    assert_eq!(
        skipped, custom,
        "{what}: kubernetes-validate skipped {skipped} resources but the stream has {custom} custom resources:\n{report:?}"
    );
    let violations = crd_catalog().check(&docs, &[]);
    assert!(
        violations.is_empty(),
        "{what}: custom resources fail their CRDs:\n{}",
        violations
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    );
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
pub mod hub;
pub mod image;
pub mod monitoring;
pub mod pod;
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
    let model = dir.join(app::KnownModel::AllMiniLmL6V2.as_str());
    assert!(
        model.join("model.safetensors").is_file(),
        "all-MiniLM-L6-v2 is missing at {}: run `bash scripts/fetch-models.sh` (or `make models`)",
        model.display()
    );
    model
}
