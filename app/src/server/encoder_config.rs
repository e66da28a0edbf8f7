//! `config.json` of a model folder: which encoder it is and its shape.
//!
//! BERT and the RoBERTa family (XLM-RoBERTa, RoBERTa) share one arithmetic; they differ
//! only where positions start (RoBERTa numbers them after the padding id) and in the
//! prefix of their tensor names. Anything else is refused by name rather than served
//! with the wrong arithmetic.

use candle_transformers::models::bert::HiddenAct;
use serde::Deserialize;

/// The encoder families the server runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Architecture {
    /// BERT (`model_type: "bert"`): MiniLM, e5, bge, gte, ...
    Bert,
    /// XLM-RoBERTa or RoBERTa (`model_type: "xlm-roberta"` or `"roberta"`): multilingual
    /// e5, paraphrase-multilingual, ...
    XlmRoberta,
}

/// `model_type` values accepted, for messages.
pub const SUPPORTED: &str = "bert, xlm-roberta, roberta";

/// The fields of `config.json` the encoder needs.
#[derive(Debug, Clone, Deserialize)]
pub struct EncoderConfig {
    /// `model_type` as written, when present.
    #[serde(default)]
    pub model_type: Option<String>,
    /// `architectures` as written (older files name the family only here).
    #[serde(default)]
    pub architectures: Vec<String>,
    /// Tokens in the vocabulary.
    pub vocab_size: usize,
    /// Width of every token state: the vector length.
    pub hidden_size: usize,
    /// Transformer layers.
    pub num_hidden_layers: usize,
    /// Attention heads per layer.
    pub num_attention_heads: usize,
    /// Width of the feed-forward layer.
    pub intermediate_size: usize,
    /// Feed-forward activation.
    #[serde(default = "gelu")]
    pub hidden_act: HiddenAct,
    /// Rows of the position table.
    pub max_position_embeddings: usize,
    /// Rows of the token type table.
    #[serde(default = "one")]
    pub type_vocab_size: usize,
    /// Layer norm epsilon.
    #[serde(default = "eps")]
    pub layer_norm_eps: f64,
    /// Id of the padding token (RoBERTa numbers positions after it).
    #[serde(default)]
    pub pad_token_id: usize,
    /// Only `absolute` is supported.
    #[serde(default)]
    pub position_embedding_type: Option<String>,
}

fn gelu() -> HiddenAct {
    HiddenAct::Gelu
}

fn one() -> usize {
    1
}

fn eps() -> f64 {
    1e-12
}

impl EncoderConfig {
    /// The family this config describes.
    ///
    /// # Errors
    /// Another family, or position embeddings other than absolute, in the user's words.
    pub fn architecture(&self) -> Result<Architecture, String> {
        if let Some(p) = self
            .position_embedding_type
            .as_deref()
            .filter(|p| *p != "absolute")
        {
            return Err(format!(
                "position_embedding_type {p:?} is not supported; only \"absolute\" is"
            ));
        }
        let by_type = |t: &str| match t {
            "bert" => Some(Architecture::Bert),
            "xlm-roberta" | "roberta" => Some(Architecture::XlmRoberta),
            _ => None,
        };
        let by_class = |c: &str| {
            if c.starts_with("Bert") {
                Some(Architecture::Bert)
            } else if c.starts_with("XLMRoberta") || c.starts_with("Roberta") {
                Some(Architecture::XlmRoberta)
            } else {
                None
            }
        };
        match &self.model_type {
            Some(t) => by_type(t).ok_or_else(|| {
                format!("model_type {t:?} is not an encoder this server runs ({SUPPORTED})")
            }),
            None => self
                .architectures
                .iter()
                .find_map(|c| by_class(c))
                .ok_or_else(|| {
                    format!(
                        "neither model_type nor architectures ({:?}) names an encoder this \
                         server runs ({SUPPORTED})",
                        self.architectures
                    )
                }),
        }
    }

    /// Index of the first position row: 0 for BERT; for the RoBERTa family, the row after
    /// the padding id (positions are numbered from `pad_token_id + 1`).
    #[must_use]
    pub fn position_offset(&self, arch: Architecture) -> usize {
        match arch {
            Architecture::Bert => 0,
            Architecture::XlmRoberta => self.pad_token_id + 1,
        }
    }

    /// Longest sequence the position table holds.
    #[must_use]
    pub fn max_tokens(&self, arch: Architecture) -> usize {
        self.max_position_embeddings
            .saturating_sub(self.position_offset(arch))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(extra: &str) -> EncoderConfig {
        serde_json::from_str(&format!(
            "{{\"vocab_size\": 10, \"hidden_size\": 8, \"num_hidden_layers\": 1, \
             \"num_attention_heads\": 2, \"intermediate_size\": 16, \
             \"max_position_embeddings\": 514, \"pad_token_id\": 1{extra}}}"
        ))
        .unwrap()
    }

    #[test]
    fn the_family_comes_from_model_type_or_architectures() {
        assert_eq!(
            config(", \"model_type\": \"bert\"").architecture(),
            Ok(Architecture::Bert)
        );
        let xlmr = config(", \"model_type\": \"xlm-roberta\"");
        assert_eq!(xlmr.architecture(), Ok(Architecture::XlmRoberta));
        assert_eq!(xlmr.position_offset(Architecture::XlmRoberta), 2);
        assert_eq!(xlmr.max_tokens(Architecture::XlmRoberta), 512);
        assert_eq!(
            config(", \"architectures\": [\"XLMRobertaModel\"]").architecture(),
            Ok(Architecture::XlmRoberta)
        );
        assert_eq!(config("").max_tokens(Architecture::Bert), 514);
    }

    #[test]
    fn other_encoders_are_refused_by_name() {
        let err = config(", \"model_type\": \"nomic_bert\"")
            .architecture()
            .unwrap_err();
        assert!(
            err.contains("nomic_bert") && err.contains(SUPPORTED),
            "{err}"
        );
        let err = config(", \"model_type\": \"bert\", \"position_embedding_type\": \"rotary\"")
            .architecture()
            .unwrap_err();
        assert!(err.contains("rotary"), "{err}");
        let err = config("").architecture().unwrap_err();
        assert!(err.contains("neither model_type"), "{err}");
    }
}
