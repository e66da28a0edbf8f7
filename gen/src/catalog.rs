//! The environments folder: listing environments and resolving a name or a path to a file.

use std::path::{Path, PathBuf};

use crate::settings::LoadError;

/// File name of the generated JSON schema inside the environments folder.
pub const SCHEMA_FILE: &str = "schema.json";
/// File name of the generated settings reference inside the environments folder.
pub const REFERENCE_FILE: &str = "README.md";
/// File name of the generated rules reference inside the environments folder.
pub const RULES_FILE: &str = "RULES.md";

/// Why an environment could not be found or loaded.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The environments folder could not be listed.
    #[error("cannot list environments in {}: {source} (run from the repository root or pass --environments DIR)", dir.display())]
    List {
        /// Folder.
        dir: PathBuf,
        /// I/O failure.
        #[source]
        source: std::io::Error,
    },
    /// No environment has that name.
    #[error("unknown environment `{name}`{suggestion}; valid environments in {}: {}", dir.display(), choices.join(", "))]
    Unknown {
        /// What was asked for.
        name: String,
        /// Folder searched.
        dir: PathBuf,
        /// Names that exist.
        choices: Vec<String>,
        /// ` (did you mean `x`?)` or empty.
        suggestion: String,
    },
    /// The file exists but is not a valid environment.
    #[error(transparent)]
    Load(#[from] LoadError),
}

/// An environment file and the name it goes by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// Name: the file stem (`prod` for `environments/prod.yaml`).
    pub name: String,
    /// File path.
    pub path: PathBuf,
}

/// The environments folder.
#[derive(Debug, Clone)]
pub struct Catalog {
    dir: PathBuf,
}

impl Catalog {
    /// A catalog over `dir`.
    #[must_use]
    pub fn new(dir: impl Into<PathBuf>) -> Catalog {
        Catalog { dir: dir.into() }
    }

    /// The folder.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Names of every environment, sorted.
    ///
    /// # Errors
    /// The folder cannot be read.
    pub fn names(&self) -> Result<Vec<String>, CatalogError> {
        let list_err = |source| CatalogError::List {
            dir: self.dir.clone(),
            source,
        };
        let mut names = Vec::new();
        for entry in std::fs::read_dir(&self.dir).map_err(list_err)? {
            let path = entry.map_err(list_err)?.path();
            if path.extension().is_some_and(|e| e == "yaml")
                && let Some(stem) = path.file_stem().and_then(|s| s.to_str())
            {
                names.push(stem.to_owned());
            }
        }
        names.sort();
        Ok(names)
    }

    /// Resolves `arg`: an environment name, or a path to an environment file.
    ///
    /// # Errors
    /// An unknown name, with the valid choices.
    pub fn resolve(&self, arg: &str) -> Result<Source, CatalogError> {
        let as_path = Path::new(arg);
        let looks_like_path = arg.contains(std::path::MAIN_SEPARATOR)
            || arg.ends_with(".yaml")
            || arg.ends_with(".yml");
        if looks_like_path {
            let name = as_path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or(arg)
                .to_owned();
            return Ok(Source {
                name,
                path: as_path.to_owned(),
            });
        }
        let names = self.names()?;
        if names.iter().any(|n| n == arg) {
            return Ok(Source {
                name: arg.to_owned(),
                path: self.dir.join(format!("{arg}.yaml")),
            });
        }
        let suggestion = names
            .iter()
            .map(|n| (strsim::levenshtein(n, arg), n))
            .filter(|(d, _)| *d <= 2)
            .min()
            .map(|(_, n)| format!(" (did you mean `{n}`?)"))
            .unwrap_or_default();
        Err(CatalogError::Unknown {
            name: arg.to_owned(),
            dir: self.dir.clone(),
            choices: names,
            suggestion,
        })
    }
}
