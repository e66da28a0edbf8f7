//! Reading an environment file, with errors that name the file, line, column and setting.

use std::fmt;
use std::path::{Path, PathBuf};

use std::collections::BTreeMap;

use super::check::Problem;
use super::messages;
use super::{ComponentsFile, Environment};

/// Why an environment could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read environment file {}: {source}", path.display())]
    Read {
        /// File that was asked for.
        path: PathBuf,
        /// The I/O failure.
        #[source]
        source: std::io::Error,
    },
    /// The YAML did not parse, or did not match the settings' types.
    #[error("{0}")]
    Syntax(Box<SyntaxError>),
    /// Values the types allow but that would deploy something broken.
    #[error("{}", invalid_message(source_name, problems))]
    Invalid {
        /// File (or other source) the settings came from.
        source_name: String,
        /// Every problem found, each naming its setting.
        problems: Vec<Problem>,
    },
}

/// A YAML or type error at a known position.
#[derive(Debug)]
pub struct SyntaxError {
    /// File (or other source) being read.
    pub source_name: String,
    /// 1-based line, when known.
    pub line: Option<u64>,
    /// 1-based column, when known.
    pub column: Option<u64>,
    /// Dotted path of the setting, e.g. `autoscaling.max_replicas`, when known.
    pub setting: Option<String>,
    /// Whether the text is not YAML at all (rather than YAML that does not fit the settings).
    pub yaml_syntax: bool,
    /// What is wrong, in the reader's words.
    pub message: String,
    /// The offending lines with a marker, as the YAML parser renders them.
    pub snippet: String,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.source_name)?;
        if let (Some(line), Some(col)) = (self.line, self.column) {
            write!(f, ":{line}:{col}")?;
        }
        write!(f, ": ")?;
        if self.yaml_syntax {
            write!(f, "YAML syntax error: ")?;
        }
        if let Some(setting) = &self.setting {
            write!(f, "setting `{setting}`: ")?;
        }
        write!(f, "{}", self.message)?;
        if !self.snippet.is_empty() {
            write!(f, "\n{}", self.snippet)?;
        }
        Ok(())
    }
}

impl std::error::Error for SyntaxError {}

fn invalid_message(source_name: &str, problems: &[Problem]) -> String {
    let mut out = format!("{source_name}: {} invalid setting(s):", problems.len());
    for p in problems {
        out.push_str(&format!("\n  - {p}"));
    }
    out
}

/// Reads an environment file's text.
///
/// # Errors
/// The file cannot be read.
pub fn read_file(path: &Path) -> Result<String, LoadError> {
    std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        path: path.to_owned(),
        source,
    })
}

/// Top-level keys of the single-service shape that environments had before they
/// described applications; each now belongs under an `akidb_embed` component.
const COMPONENT_KEYS: &[&str] = &[
    "name",
    "image",
    "replicas",
    "autoscaling",
    "resources",
    "service",
    "ingress",
    "disruption_budget",
    "model_cache",
    "network_policy",
    "spread",
    "probes",
    "pre_stop_sleep_seconds",
    "secrets",
    "config",
];

/// Parses environment settings from YAML text into their types; `source_name` names the
/// text in errors. Checks across settings come after, in the load stage.
///
/// # Errors
/// YAML or type errors with their position and setting; a file in the old single-service
/// shape, with how to write it now.
pub fn parse_str(text: &str, source_name: &str) -> Result<Environment, LoadError> {
    // One typed pass for a good file; the passes that explain a bad one run only after it
    // fails. A file the types accept cannot be in the old shape: `Environment` denies
    // unknown fields and none of `COMPONENT_KEYS` is one of its own.
    parse_typed(text, source_name).or_else(|typed| {
        check_syntax(text, source_name)?;
        old_shape(text, source_name)?;
        Err(typed)
    })
}

/// Parses a components file (what an environment's `include` names).
///
/// # Errors
/// YAML or type errors with their position and setting.
pub fn parse_components(text: &str, source_name: &str) -> Result<ComponentsFile, LoadError> {
    parse_typed(text, source_name).or_else(|typed| {
        check_syntax(text, source_name)?;
        Err(typed)
    })
}

/// An environment written in the single-service shape: say how to write it now, at the
/// line of its first such key.
fn old_shape(text: &str, source_name: &str) -> Result<(), LoadError> {
    let Ok(top) = serde_saphyr::from_str::<BTreeMap<String, serde::de::IgnoredAny>>(text) else {
        return Ok(());
    };
    let keys: Vec<&str> = COMPONENT_KEYS
        .iter()
        .copied()
        .filter(|k| top.contains_key(*k))
        .collect();
    let Some(first) = keys.first() else {
        return Ok(());
    };
    let line = text
        .lines()
        .position(|l| l.starts_with(&format!("{first}:")))
        .map(|i| i as u64 + 1);
    let listed = keys
        .iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let name = if top.contains_key("name") {
        "<name>"
    } else {
        "akidb-embed"
    };
    Err(LoadError::Syntax(Box::new(SyntaxError {
        source_name: source_name.to_owned(),
        line,
        column: line.map(|_| 1),
        setting: None,
        yaml_syntax: false,
        message: format!(
            "{listed} are settings of the embedding server, which is now one component of the application: \
             indent them under\n\n  components:\n    {name}:\n      akidb_embed:\n        {first}: ...\n\n\
             (`namespace`, `resource_quota`, `external` and `waivers` stay at the top; add `part_of: akidb` \
             to keep the `app.kubernetes.io/part-of` label; see environments/README.md)"
        ),
        snippet: String::new(),
    })))
}

fn check_syntax(text: &str, source_name: &str) -> Result<(), LoadError> {
    // YAML syntax first, on its own, so a broken line is called what it is instead of
    // surfacing as whatever type the half-parsed value failed to fit.
    if let Err(e) = serde_saphyr::from_str::<serde::de::IgnoredAny>(text) {
        return Err(LoadError::Syntax(Box::new(syntax_error(
            &e,
            text,
            source_name,
            None,
            true,
        ))));
    }
    Ok(())
}

fn parse_typed<T: serde::de::DeserializeOwned>(
    text: &str,
    source_name: &str,
) -> Result<T, LoadError> {
    let mut setting: Option<String> = None;
    let parsed = serde_saphyr::with_deserializer_from_str(text, |de| {
        serde_path_to_error::deserialize::<_, T>(de).map_err(|e| {
            // Segments serde_path_to_error cannot name show as `?`: keep the known prefix.
            let path = e.path().to_string();
            let known = path.split(".?").next().unwrap_or_default();
            if !known.is_empty() && known != "." && known != "?" {
                setting = Some(known.to_owned());
            }
            e.into_inner()
        })
    });
    parsed.map_err(|e| {
        LoadError::Syntax(Box::new(syntax_error(
            &e,
            text,
            source_name,
            setting,
            false,
        )))
    })
}

fn syntax_error(
    e: &serde_saphyr::Error,
    text: &str,
    source_name: &str,
    setting: Option<String>,
    yaml_syntax: bool,
) -> SyntaxError {
    let location = e.location();
    let rendered =
        e.render_with_options(serde_saphyr::render_options! { source_name: Some(source_name) });
    // The first rendered line repeats the message with its own position prefix; the rest is
    // the snippet, which is what a reader needs besides our one-line summary.
    let snippet = rendered
        .split_once('\n')
        .map(|(_, rest)| rest.trim_end().to_owned())
        .unwrap_or_default();
    let line = location.map(|l| l.line()).filter(|l| *l > 0);
    let column = location.map(|l| l.column()).filter(|c| *c > 0);
    let raw = message_only(e);
    let found = line
        .zip(column)
        .and_then(|(l, c)| messages::found_at(text, l, c));
    let message = messages::plain(&raw, found.as_deref());
    SyntaxError {
        source_name: source_name.to_owned(),
        line,
        column,
        setting,
        yaml_syntax,
        snippet: snippet.replace(&raw, &message),
        message,
    }
}

/// The parser's message without its `error: line N column M:` prefix.
fn message_only(e: &serde_saphyr::Error) -> String {
    let full = e.to_string();
    let first = full.lines().next().unwrap_or_default();
    let first = first.strip_prefix("error: ").unwrap_or(first);
    match first.split_once(": ") {
        Some((pos, rest)) if pos.starts_with("line ") => rest.to_owned(),
        _ => first.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::COMPONENT_KEYS;

    /// `parse_str` skips the old-shape check for any file the types accept; that is only
    /// sound while no old single-service key is also a top-level environment setting.
    #[test]
    fn no_old_single_service_key_is_a_top_level_setting() {
        let schema: serde_json::Value =
            serde_json::from_str(&crate::schema::environment_schema()).expect("schema is JSON");
        let top = schema["properties"]
            .as_object()
            .expect("the schema lists top-level properties");
        assert!(
            top.contains_key("components"),
            "schema shape changed: {top:?}"
        );
        for key in COMPONENT_KEYS {
            assert!(
                !top.contains_key(*key),
                "`{key}` is now a top-level setting; parse_str must check the old shape first"
            );
        }
    }
}
