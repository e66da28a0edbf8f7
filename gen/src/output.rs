//! Everything under `out/` (and the schema), rendered in memory first and then written
//! file by file through a temporary file and a rename, so a failure leaves the old
//! files intact and a reader never sees half a file.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::catalog::{Catalog, CatalogError, REFERENCE_FILE, RULES_FILE, SCHEMA_FILE};
use crate::pipeline::{self, LintError};
use crate::render::{self, RenderError};
use crate::{lint, reference, schema};

/// Folder under `out/` that holds one kustomize base per environment. `kubectl apply -f out/`
/// does not recurse, so it never applies these files twice.
pub const KUSTOMIZE_DIR: &str = "kustomize";

/// Why generating files failed.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// An environment could not be loaded.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// Cross-object rules found errors in an environment.
    #[error(transparent)]
    Lint(#[from] LintError),
    /// An object could not be written as YAML.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// A file could not be written or removed.
    #[error("cannot write {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// I/O failure.
        #[source]
        source: std::io::Error,
    },
}

/// Every generated file: path relative to the repository root, and contents.
#[derive(Debug, Clone, Default)]
pub struct Files {
    /// Relative path to contents, sorted.
    pub files: BTreeMap<PathBuf, String>,
    /// Rule warnings and waived findings per environment.
    pub lint: Vec<(String, crate::lint::Outcome)>,
}

/// Renders every environment of `catalog` into files under `out_dir`, plus the schema and
/// the settings reference in the environments folder.
///
/// # Errors
/// The first environment that fails to load or render; nothing is written.
pub fn generate(catalog: &Catalog, out_dir: &Path) -> Result<Files, OutputError> {
    let mut rendered = generate_renders(catalog, out_dir)?;
    rendered.files.insert(
        catalog.dir().join(SCHEMA_FILE),
        schema::environment_schema(),
    );
    rendered.files.insert(
        catalog.dir().join(REFERENCE_FILE),
        reference::settings_reference(),
    );
    rendered
        .files
        .insert(catalog.dir().join(RULES_FILE), lint::rules_reference());
    Ok(rendered)
}

/// Renders every environment of `catalog` into files under `out_dir`, and nothing else
/// (an example's environments point at the repository's schema).
///
/// # Errors
/// The first environment that fails to load or render; nothing is written.
pub fn generate_renders(catalog: &Catalog, out_dir: &Path) -> Result<Files, OutputError> {
    let mut files = BTreeMap::new();
    let mut lint_outcomes = Vec::new();
    for name in catalog.names()? {
        let (source, env) = pipeline::load(catalog, &name)?;
        let checked = pipeline::objects(&env, &source.name)?;
        let objects = checked.objects;
        lint_outcomes.push((name.clone(), checked.lint));
        files.insert(
            out_dir.join(format!("{name}.yaml")),
            pipeline::render(&name, &objects)?,
        );

        let base = out_dir.join(KUSTOMIZE_DIR).join(&name);
        let mut resources = Vec::new();
        for o in &objects {
            let file = format!("{}-{}.yaml", o.kind().to_lowercase(), o.name());
            let mut text = render::header(&name);
            text.push_str(&render::document(o)?);
            files.insert(base.join(&file), text);
            resources.push(file);
        }
        files.insert(
            base.join("kustomization.yaml"),
            kustomization(&name, &resources),
        );
    }
    Ok(Files {
        files,
        lint: lint_outcomes,
    })
}

fn kustomization(env_name: &str, resources: &[String]) -> String {
    let mut text = render::header(env_name);
    text.push_str("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n");
    for r in resources {
        text.push_str(&format!("- {r}\n"));
    }
    text
}

/// A difference between the generated files and what is on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stale {
    /// A file that should exist does not.
    Missing(PathBuf),
    /// A file whose contents differ.
    Changed(PathBuf),
    /// A generated-looking file that no environment produces any more.
    Extra(PathBuf),
}

impl std::fmt::Display for Stale {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stale::Missing(p) => write!(f, "missing: {}", p.display()),
            Stale::Changed(p) => write!(f, "out of date: {}", p.display()),
            Stale::Extra(p) => write!(f, "no longer generated: {}", p.display()),
        }
    }
}

impl Files {
    /// Compares with the disk. `out_dir` is scanned for files nothing generates.
    #[must_use]
    pub fn stale(&self, out_dir: &Path) -> Vec<Stale> {
        let mut out = Vec::new();
        for (path, text) in &self.files {
            match std::fs::read_to_string(path) {
                Ok(on_disk) if on_disk == *text => {}
                Ok(_) => out.push(Stale::Changed(path.clone())),
                Err(_) => out.push(Stale::Missing(path.clone())),
            }
        }
        out.extend(self.extra_files(out_dir).into_iter().map(Stale::Extra));
        out
    }

    /// YAML files under `out_dir` (top level and the kustomize bases) that are not generated.
    fn extra_files(&self, out_dir: &Path) -> Vec<PathBuf> {
        let mut found = yaml_files(out_dir);
        if let Ok(entries) = std::fs::read_dir(out_dir.join(KUSTOMIZE_DIR)) {
            for dir in entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()) {
                found.extend(yaml_files(&dir));
            }
        }
        found.retain(|p| !self.files.contains_key(p));
        found.sort();
        found
    }

    /// Writes every file atomically and removes generated files no environment produces.
    ///
    /// # Errors
    /// The first file that cannot be written; files written before it are complete.
    pub fn write(&self, out_dir: &Path) -> Result<(), OutputError> {
        for (path, text) in &self.files {
            write_atomic(path, text)?;
        }
        for extra in self.extra_files(out_dir) {
            std::fs::remove_file(&extra).map_err(|source| OutputError::Io {
                path: extra.clone(),
                source,
            })?;
        }
        if let Ok(entries) = std::fs::read_dir(out_dir.join(KUSTOMIZE_DIR)) {
            for dir in entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()) {
                // Only succeeds on a base folder left empty by the pruning above.
                let _ = std::fs::remove_dir(dir);
            }
        }
        Ok(())
    }
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
                .collect()
        })
        .unwrap_or_default()
}

/// Writes `text` to `path` through a temporary file in the same folder and a rename.
///
/// # Errors
/// Folder creation, write or rename failures, naming `path`.
pub fn write_atomic(path: &Path, text: &str) -> Result<(), OutputError> {
    let io = |source| OutputError::Io {
        path: path.to_owned(),
        source,
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".gen-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(io)?;
    tmp.write_all(text.as_bytes()).map_err(io)?;
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}
