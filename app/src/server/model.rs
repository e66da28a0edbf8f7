//! Loading a model folder (Hugging Face layout) into a tokenizer and an encoder (BERT or
//! XLM-RoBERTa), with the pooling, normalisation, token limit and prompts its own files
//! declare.
//!
//! The two halves exchange plain data only: [`TextTokenizer`] turns text into token ids
//! on the request side, [`Encoder`] turns token ids into `Vec<f32>` on a compute thread.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use tokenizers::{Tokenizer, TruncationDirection, TruncationParams};

use super::bert::Bert;
use super::encoder_config::{Architecture, EncoderConfig};
use super::pooling::{Pooling, PoolingError};
use super::sentence_files::SentenceFiles;
use super::weights::{Weights, WeightsError};
use crate::models::MODEL_FILES;
use crate::{ModelFacts, ModelId};

/// Why a model could not be loaded. Each variant names the file involved.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The model folder or one of its required files is missing.
    #[error(
        "model `{model}`: {path} does not exist; the folder must hold config.json, \
         tokenizer.json and model.safetensors in the Hugging Face layout (see docs/models.md)"
    )]
    Missing {
        /// Model id.
        model: ModelId,
        /// What is missing.
        path: PathBuf,
    },
    /// A file exists but could not be read.
    #[error("model `{model}`: failed to read {path}: {source}")]
    Read {
        /// Model id.
        model: ModelId,
        /// File read.
        path: PathBuf,
        /// Underlying error.
        #[source]
        source: std::io::Error,
    },
    /// `config.json` or `sentence_bert_config.json` is not the expected JSON.
    #[error("model `{model}`: invalid {path}: {source}")]
    Json {
        /// Model id.
        model: ModelId,
        /// File parsed.
        path: PathBuf,
        /// Underlying error.
        #[source]
        source: serde_json::Error,
    },
    /// `tokenizer.json` did not load.
    #[error("model `{model}`: invalid tokenizer {path}: {message}")]
    Tokenizer {
        /// Model id.
        model: ModelId,
        /// File parsed.
        path: PathBuf,
        /// The tokenizer library's message.
        message: String,
    },
    /// `model.safetensors` is corrupt or does not match `config.json`.
    #[error("model `{model}`: invalid weights {path}: {source}")]
    Weights {
        /// Model id.
        model: ModelId,
        /// File parsed.
        path: PathBuf,
        /// Underlying error.
        #[source]
        source: candle_core::Error,
    },
    /// A file the server reads but whose content it cannot follow (another encoder
    /// family, a module it does not run, a prompt that is not defined).
    #[error("model `{model}`: {message}")]
    Unsupported {
        /// Model id.
        model: ModelId,
        /// What and where, in the user's words.
        message: String,
    },
    /// `1_Pooling/config.json` is invalid.
    #[error("model `{model}`: {source}")]
    Pooling {
        /// Model id.
        model: ModelId,
        /// Underlying error.
        #[source]
        source: PoolingError,
    },
}

/// What the server tells clients about a loaded model.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ModelInfo {
    /// Model id.
    pub id: ModelId,
    /// Encoder family, from `config.json`.
    pub architecture: Architecture,
    /// Length of the output vectors (the encoder's hidden size).
    pub dimensions: usize,
    /// Longest input in tokens, special tokens included.
    pub max_tokens: usize,
    /// Transformer layers.
    pub layers: usize,
    /// Pooling mode.
    pub pooling: Pooling,
    /// Whether the model's own pipeline scales vectors to unit length: the default of
    /// requests that do not say.
    pub normalize: bool,
    /// Prompt name to the text put before an input.
    pub prompts: BTreeMap<String, String>,
    /// The prompt used when a request names none.
    pub default_prompt: Option<String>,
    /// Shorter lengths the vectors may be cut to (Matryoshka), from the declared facts.
    pub matryoshka_dimensions: Vec<usize>,
    /// Seconds the load took.
    pub load_seconds: f64,
}

impl ModelInfo {
    /// The text a named prompt puts before an input; `None` for a name the model lacks.
    #[must_use]
    pub fn prompt(&self, name: &str) -> Option<&str> {
        self.prompts.get(name).map(String::as_str)
    }
}

/// Text to token ids, with the model's token limit.
pub struct TextTokenizer {
    plain: Tokenizer,
    /// Keeps the start of an over-long input.
    truncating: Tokenizer,
    /// Keeps the end of an over-long input (TEI's `truncation_direction: "left"`).
    truncating_left: Tokenizer,
    /// Longest input in tokens.
    pub max_tokens: usize,
}

/// Which end of an over-long input is cut off.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Cut {
    /// Drop the tokens past the limit (keep the start).
    #[default]
    End,
    /// Drop the first tokens (keep the end); special tokens stay in place.
    Start,
}

/// One token of a text, as `/tokenize` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// Id in the model's vocabulary.
    pub id: u32,
    /// The piece of the input it covers, or the token itself for a special token.
    pub text: String,
    /// Whether the tokenizer added it (`[CLS]`, `[SEP]`).
    pub special: bool,
    /// Character offsets `[start, stop)` into the input; `None` for special tokens.
    pub span: Option<(usize, usize)>,
}

/// Why a text could not be tokenized.
#[derive(Debug, thiserror::Error)]
pub enum TokenizeError {
    /// Longer than the limit and the request asked not to truncate.
    #[error("input {index} has {tokens} tokens; the limit of `{model}` is {limit}")]
    TooLong {
        /// Position of the text in the request.
        index: usize,
        /// Its token count.
        tokens: usize,
        /// The limit.
        limit: usize,
        /// The model.
        model: ModelId,
    },
    /// The tokenizer failed on this text.
    #[error("input {index} could not be tokenized: {message}")]
    Failed {
        /// Position of the text in the request.
        index: usize,
        /// The tokenizer's message.
        message: String,
    },
}

impl TextTokenizer {
    /// Token ids of `text`, cut to the limit when `truncate`, else refused when longer.
    ///
    /// # Errors
    /// Too long without truncation, or a tokenizer failure.
    pub fn encode(
        &self,
        model: &ModelId,
        index: usize,
        text: &str,
        truncate: bool,
        cut: Cut,
    ) -> Result<Vec<u32>, TokenizeError> {
        let failed = |e: tokenizers::Error| TokenizeError::Failed {
            index,
            message: e.to_string(),
        };
        let ids = self
            .plain
            .encode(text, true)
            .map_err(failed)?
            .get_ids()
            .to_vec();
        if ids.len() <= self.max_tokens {
            return Ok(ids);
        }
        if !truncate {
            return Err(TokenizeError::TooLong {
                index,
                tokens: ids.len(),
                limit: self.max_tokens,
                model: model.clone(),
            });
        }
        let truncating = match cut {
            Cut::End => &self.truncating,
            Cut::Start => &self.truncating_left,
        };
        Ok(truncating
            .encode(text, true)
            .map_err(failed)?
            .get_ids()
            .to_vec())
    }
}

impl TextTokenizer {
    /// Every token of `text`, with character offsets, never truncated.
    ///
    /// # Errors
    /// A tokenizer failure.
    pub fn tokens(
        &self,
        index: usize,
        text: &str,
        add_special_tokens: bool,
    ) -> Result<Vec<Token>, TokenizeError> {
        let encoding = self
            .plain
            .encode_char_offsets(text, add_special_tokens)
            .map_err(|e| TokenizeError::Failed {
                index,
                message: e.to_string(),
            })?;
        let chars: Vec<char> = text.chars().collect();
        Ok(encoding
            .get_ids()
            .iter()
            .zip(encoding.get_tokens())
            .zip(encoding.get_offsets())
            .zip(encoding.get_special_tokens_mask())
            .map(|(((&id, token), &(start, stop)), &special)| {
                let special = special == 1;
                Token {
                    id,
                    text: if special {
                        token.clone()
                    } else {
                        chars[start.min(chars.len())..stop.min(chars.len())]
                            .iter()
                            .collect()
                    },
                    special,
                    span: (!special).then_some((start, stop)),
                }
            })
            .collect())
    }
}

/// Token ids to sentence vectors. Owned by one compute thread.
pub struct Encoder {
    bert: Bert,
    pooling: Pooling,
}

impl Encoder {
    /// Pooled, not yet normalised vectors of `seqs`, in one forward pass without padding.
    ///
    /// # Errors
    /// A tensor operation failed.
    pub fn embed(&self, seqs: &[&[u32]]) -> candle_core::Result<Vec<Vec<f32>>> {
        let h = self.bert.hidden();
        let states = self.bert.forward(seqs)?;
        let mut at = 0;
        Ok(seqs
            .iter()
            .map(|s| {
                let rows = &states[at * h..(at + s.len()) * h];
                at += s.len();
                self.pooling.pool(rows, h)
            })
            .collect())
    }
}

fn read(model: &ModelId, path: &Path) -> Result<Vec<u8>, LoadError> {
    std::fs::read(path).map_err(|source| io_error(model, path, source))
}

/// A file of the model that could not be read: missing, or unreadable.
fn io_error(model: &ModelId, path: &Path, source: std::io::Error) -> LoadError {
    let model = model.clone();
    if source.kind() == std::io::ErrorKind::NotFound {
        LoadError::Missing {
            model,
            path: path.to_owned(),
        }
    } else {
        LoadError::Read {
            model,
            path: path.to_owned(),
            source,
        }
    }
}

fn json<T: serde::de::DeserializeOwned>(model: &ModelId, path: &Path) -> Result<T, LoadError> {
    serde_json::from_slice(&read(model, path)?).map_err(|source| LoadError::Json {
        model: model.clone(),
        path: path.to_owned(),
        source,
    })
}

/// Loads `<model_dir>/<id>/`: tokenizer, weights, pooling, normalisation, prompts and
/// token limit, then runs one forward pass so a model that does not fit its config fails
/// here, not on a request.
///
/// `facts` are the declared (or built-in) facts of the model, if any: its token limit
/// caps the files' one, and its Matryoshka lengths are served. `token_cap` is the most
/// tokens one forward pass may hold (`embedding.max_batch_tokens`).
///
/// # Errors
/// A missing folder or file, or one that does not parse or fit.
pub fn load(
    model_dir: &Path,
    id: &ModelId,
    facts: Option<&ModelFacts>,
    token_cap: usize,
) -> Result<(TextTokenizer, Encoder, ModelInfo), LoadError> {
    let started = Instant::now();
    let dir = model_dir.join(id.as_str());
    if !dir.is_dir() {
        return Err(LoadError::Missing {
            model: id.clone(),
            path: dir,
        });
    }
    for f in MODEL_FILES.iter().filter(|f| f.required).map(|f| f.path) {
        // exists(), not is_file(): a named pipe or a device is read like a file.
        if !dir.join(f).exists() {
            return Err(LoadError::Missing {
                model: id.clone(),
                path: dir.join(f),
            });
        }
    }
    let unsupported = |message: String| LoadError::Unsupported {
        model: id.clone(),
        message,
    };
    let config_path = dir.join("config.json");
    let config: EncoderConfig = json(id, &config_path)?;
    let arch = config
        .architecture()
        .map_err(|m| unsupported(format!("{}: {m}", config_path.display())))?;
    let files = SentenceFiles::read(&dir).map_err(|e| unsupported(e.to_string()))?;
    let known = id.known();

    // sentence_bert_config.json says how long the model is used at; the tokenizer.json of
    // all-MiniLM-L6-v2 says 128, which is not what sentence-transformers uses (256).
    let max_tokens = files
        .max_seq_length
        .or(known.map(crate::KnownModel::max_tokens))
        .unwrap_or(usize::MAX)
        .min(facts.map_or(usize::MAX, |f| f.max_tokens))
        .min(config.max_tokens(arch))
        .min(token_cap);
    if max_tokens < 2 {
        return Err(unsupported(format!(
            "{}: the position table leaves {max_tokens} tokens per input",
            config_path.display()
        )));
    }

    let tok_path = dir.join("tokenizer.json");
    let tok_err = |message: String| LoadError::Tokenizer {
        model: id.clone(),
        path: tok_path.clone(),
        message,
    };
    let mut plain = Tokenizer::from_file(&tok_path).map_err(|e| tok_err(e.to_string()))?;
    plain.with_padding(None);
    plain
        .with_truncation(None)
        .map_err(|e| tok_err(e.to_string()))?;
    let truncated = |direction| {
        let mut t = plain.clone();
        t.with_truncation(Some(TruncationParams {
            max_length: max_tokens,
            direction,
            ..TruncationParams::default()
        }))
        .map_err(|e| tok_err(e.to_string()))?;
        Ok(t)
    };
    let truncating = truncated(TruncationDirection::Right)?;
    let truncating_left = truncated(TruncationDirection::Left)?;

    let pooling = Pooling::from_folder(&dir.join(&files.pooling_dir)).map_err(|source| {
        LoadError::Pooling {
            model: id.clone(),
            source,
        }
    })?;

    let weights_path = dir.join("model.safetensors");
    let weights_err = |source| LoadError::Weights {
        model: id.clone(),
        path: weights_path.clone(),
        source,
    };
    let from_weights = |e: WeightsError| match e {
        WeightsError::Io(source) => io_error(id, &weights_path, source),
        WeightsError::Invalid(message) => weights_err(candle_core::Error::Msg(message)),
    };
    let mut weights = Weights::read(&weights_path).map_err(from_weights)?;
    let bert = Bert::load(&mut weights, &config, arch).map_err(from_weights)?;
    drop(weights);
    let encoder = Encoder { bert, pooling };
    let tokenizer = TextTokenizer {
        plain,
        truncating,
        truncating_left,
        max_tokens,
    };
    let probe = tokenizer
        .encode(id, 0, "warm up", true, Cut::End)
        .map_err(|e| tok_err(e.to_string()))?;
    let out = encoder.embed(&[&probe]).map_err(weights_err)?;
    if out.first().map(Vec::len) != Some(config.hidden_size) {
        return Err(weights_err(candle_core::Error::Msg(format!(
            "a forward pass gave {:?} values instead of hidden_size {}",
            out.first().map(Vec::len),
            config.hidden_size
        ))));
    }
    if let Some(k) = known.filter(|k| k.layers() != config.num_hidden_layers) {
        tracing::warn!(
            model = %id,
            layers = config.num_hidden_layers,
            expected = k.layers(),
            "config.json has an unexpected number of layers"
        );
    }
    let mut prompts = files.prompts;
    if prompts.is_empty()
        && let Some((query, passage)) = known.and_then(crate::KnownModel::prefixes)
    {
        prompts.insert("query".into(), query.into());
        prompts.insert("passage".into(), passage.into());
    }
    let matryoshka_dimensions: Vec<usize> = facts
        .map(|f| f.matryoshka_dimensions.clone())
        .unwrap_or_default();
    if let Some(d) = matryoshka_dimensions
        .iter()
        .find(|&&d| d >= config.hidden_size)
    {
        return Err(unsupported(format!(
            "embedding.models.{id}.matryoshka_dimensions lists {d}, not shorter than the \
             model's {} dimensions",
            config.hidden_size
        )));
    }
    let info = ModelInfo {
        id: id.clone(),
        architecture: arch,
        dimensions: config.hidden_size,
        max_tokens,
        layers: config.num_hidden_layers,
        pooling,
        // A folder without modules.json is a plain Hugging Face model; its users (TEI,
        // OpenAI's API) expect unit vectors.
        normalize: files.normalize.unwrap_or(true),
        prompts,
        default_prompt: files.default_prompt_name,
        matryoshka_dimensions,
        load_seconds: started.elapsed().as_secs_f64(),
    };
    Ok((tokenizer, encoder, info))
}
