//! What sentence-transformers writes beside a model: the module list (`modules.json`),
//! the token limit (`sentence_bert_config.json`) and the prompts
//! (`config_sentence_transformers.json`). Each file is optional; a folder holding none
//! is a plain Hugging Face model, pooled and normalised as the defaults say.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// What the files say, before the pooling file is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentenceFiles {
    /// Folder of the pooling module's `config.json`, relative to the model folder.
    pub pooling_dir: PathBuf,
    /// Whether the pipeline ends in a `Normalize` module; `None` without `modules.json`.
    pub normalize: Option<bool>,
    /// `max_seq_length` of `sentence_bert_config.json`.
    pub max_seq_length: Option<usize>,
    /// Prompt name to the text put before an input.
    pub prompts: BTreeMap<String, String>,
    /// The prompt used when a request names none.
    pub default_prompt_name: Option<String>,
}

/// A file that exists but says something the server cannot follow.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct FileError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong, in the user's words.
    pub message: String,
}

/// One entry of `modules.json`.
#[derive(Deserialize)]
struct Module {
    #[serde(default)]
    path: String,
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Deserialize)]
struct SbertConfig {
    max_seq_length: Option<usize>,
}

#[derive(Deserialize)]
struct StConfig {
    #[serde(default)]
    prompts: BTreeMap<String, String>,
    #[serde(default)]
    default_prompt_name: Option<String>,
}

const TRANSFORMER: &str = "sentence_transformers.models.Transformer";
const POOLING: &str = "sentence_transformers.models.Pooling";
const NORMALIZE: &str = "sentence_transformers.models.Normalize";

/// Reads `path` as JSON when it exists.
fn optional_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>, FileError> {
    let err = |message: String| FileError {
        path: path.to_owned(),
        message,
    };
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| err(format!("not the JSON sentence-transformers writes: {e}"))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(err(format!("cannot be read: {e}"))),
    }
}

impl SentenceFiles {
    /// Reads the files of the model folder `dir`.
    ///
    /// # Errors
    /// A file that does not parse, a module the server does not run (a `Dense` layer,
    /// a transformer outside the folder's root), or a default prompt that is not defined.
    pub fn read(dir: &Path) -> Result<SentenceFiles, FileError> {
        let modules_path = dir.join("modules.json");
        let modules: Option<Vec<Module>> = optional_json(&modules_path)?;
        let mut pooling_dir = PathBuf::from("1_Pooling");
        let normalize = match &modules {
            None => None,
            Some(list) => {
                let refuse = |message: String| FileError {
                    path: modules_path.clone(),
                    message,
                };
                let mut normalize = false;
                for m in list {
                    match m.kind.as_str() {
                        TRANSFORMER if m.path.is_empty() => {}
                        TRANSFORMER => {
                            return Err(refuse(format!(
                                "the transformer sits in {:?}; the server reads it from the \
                                 model folder itself",
                                m.path
                            )));
                        }
                        POOLING => pooling_dir = safe_relative(&m.path).map_err(refuse)?,
                        NORMALIZE => normalize = true,
                        other => {
                            return Err(refuse(format!(
                                "module {other:?} is not one the server runs (it runs \
                                 Transformer, Pooling and Normalize); serving the model \
                                 without it would give other vectors than \
                                 sentence-transformers"
                            )));
                        }
                    }
                }
                Some(normalize)
            }
        };
        let max_seq_length = optional_json::<SbertConfig>(&dir.join("sentence_bert_config.json"))?
            .and_then(|c| c.max_seq_length);
        let st_path = dir.join("config_sentence_transformers.json");
        let st = optional_json::<StConfig>(&st_path)?;
        let (prompts, default_prompt_name) =
            st.map_or_else(Default::default, |c| (c.prompts, c.default_prompt_name));
        if let Some(name) = default_prompt_name
            .as_ref()
            .filter(|n| !prompts.contains_key(*n))
        {
            return Err(FileError {
                path: st_path,
                message: format!("default_prompt_name {name:?} is not one of its prompts"),
            });
        }
        Ok(SentenceFiles {
            pooling_dir,
            normalize,
            max_seq_length,
            prompts,
            default_prompt_name,
        })
    }
}

/// A module path that stays inside the model folder.
fn safe_relative(path: &str) -> Result<PathBuf, String> {
    let p = Path::new(path);
    if path.is_empty()
        || p.components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)))
    {
        return Err(format!(
            "the pooling module's path {path:?} is not a folder inside the model folder"
        ));
    }
    Ok(p.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(files: &[(&str, &str)]) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(d.path().join(name), text).unwrap();
        }
        d
    }

    const PIPELINE: &str = r#"[
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}
    ]"#;

    #[test]
    fn a_plain_folder_takes_the_defaults() {
        let d = folder(&[]);
        let f = SentenceFiles::read(d.path()).unwrap();
        assert_eq!(f.pooling_dir, PathBuf::from("1_Pooling"));
        assert_eq!(f.normalize, None);
        assert!(f.prompts.is_empty() && f.max_seq_length.is_none());
    }

    #[test]
    fn modules_prompts_and_limit_are_read() {
        let d = folder(&[
            ("modules.json", PIPELINE),
            (
                "sentence_bert_config.json",
                r#"{"max_seq_length": 384, "do_lower_case": false}"#,
            ),
            (
                "config_sentence_transformers.json",
                r#"{"prompts": {"query": "query: ", "passage": "passage: "},
                    "default_prompt_name": "passage", "similarity_fn_name": "cosine"}"#,
            ),
        ]);
        let f = SentenceFiles::read(d.path()).unwrap();
        assert_eq!(f.normalize, Some(true));
        assert_eq!(f.max_seq_length, Some(384));
        assert_eq!(f.prompts["query"], "query: ");
        assert_eq!(f.default_prompt_name.as_deref(), Some("passage"));

        let no_norm = PIPELINE.replace(
            ",\n        {\"idx\": 2, \"name\": \"2\", \"path\": \"2_Normalize\", \"type\": \"sentence_transformers.models.Normalize\"}",
            "",
        );
        assert!(!no_norm.contains("Normalize"), "{no_norm}");
        let d = folder(&[("modules.json", &no_norm)]);
        assert_eq!(
            SentenceFiles::read(d.path()).unwrap().normalize,
            Some(false)
        );
    }

    #[test]
    fn what_cannot_be_followed_is_refused_by_file() {
        let dense = PIPELINE.replace("models.Normalize", "models.Dense");
        let d = folder(&[("modules.json", &dense)]);
        let err = SentenceFiles::read(d.path()).unwrap_err().to_string();
        assert!(
            err.contains("modules.json") && err.contains("models.Dense"),
            "{err}"
        );

        let escape = PIPELINE.replace("\"1_Pooling\"", "\"../x\"");
        let d = folder(&[("modules.json", &escape)]);
        let err = SentenceFiles::read(d.path()).unwrap_err().to_string();
        assert!(err.contains("not a folder inside"), "{err}");

        let d = folder(&[(
            "config_sentence_transformers.json",
            r#"{"prompts": {"query": "q: "}, "default_prompt_name": "doc"}"#,
        )]);
        let err = SentenceFiles::read(d.path()).unwrap_err().to_string();
        assert!(err.contains("\"doc\" is not one of its prompts"), "{err}");

        let d = folder(&[("sentence_bert_config.json", "{")]);
        let err = SentenceFiles::read(d.path()).unwrap_err().to_string();
        assert!(err.contains("sentence_bert_config.json"), "{err}");
    }
}
