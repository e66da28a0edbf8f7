//! From the command line, the file and the environment to one checked [`Config`].

use std::path::{Path, PathBuf};

use crate::{Config, ConfigError, env_vars};

/// Why the configuration could not be assembled. The process exits 2 on these.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The file named by `--config` / `AKIDB_CONFIG` could not be read.
    #[error("failed to read configuration file {path}: {source}")]
    Read {
        /// File named.
        path: PathBuf,
        /// Underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file or an environment variable held a refused value.
    #[error("{path}: {source}")]
    Config {
        /// File read, or `environment` when no file was named.
        path: String,
        /// What was refused.
        #[source]
        source: ConfigError,
    },
    /// `RUST_LOG` is not a valid `tracing` filter.
    #[error("environment variable RUST_LOG={value:?} is not a valid log filter: {reason}")]
    LogFilter {
        /// Value it held.
        value: String,
        /// Parser message.
        reason: String,
    },
}

/// Reads `file` (defaults when `None`), applies the `AKIDB_*` variables from `lookup` and
/// checks the result.
///
/// # Errors
/// An unreadable file, a parse error, an unknown key, a bad variable or a refused value.
pub fn load(
    file: Option<&Path>,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Config, SettingsError> {
    let shown = file.map_or_else(|| "environment".to_owned(), |p| p.display().to_string());
    let wrap = |source| SettingsError::Config {
        path: shown.clone(),
        source,
    };
    let mut config = match file {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|source| SettingsError::Read {
                path: path.to_owned(),
                source,
            })?;
            Config::from_toml_str(&text).map_err(wrap)?
        }
        None => Config::default(),
    };
    config.apply_env(&lookup).map_err(wrap)?;
    config.validate().map_err(wrap)?;
    if let Some(value) = lookup(env_vars::RUST_LOG) {
        tracing_subscriber::EnvFilter::try_new(&value).map_err(|e| SettingsError::LogFilter {
            value: value.clone(),
            reason: e.to_string(),
        })?;
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_overrides_the_file_and_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.toml");
        std::fs::write(&file, "[server]\nport = 7000\n").unwrap();
        let c = load(Some(&file), |k| {
            (k == "AKIDB_REST_PORT").then(|| "7001".to_owned())
        })
        .unwrap();
        assert_eq!(c.server.port, 7001);

        std::fs::write(&file, "[server]\nprot = 7000\n").unwrap();
        let err = load(Some(&file), |_| None).unwrap_err().to_string();
        assert!(err.contains("config.toml") && err.contains("prot"), "{err}");

        let err = load(Some(&dir.path().join("nope.toml")), |_| None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("nope.toml"), "{err}");

        let err = load(None, |k| (k == "RUST_LOG").then(|| "info,[".to_owned()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("RUST_LOG"), "{err}");
    }
}
