//! The models the server knows how to serve, with the facts the deployment needs about them.

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One file of a model folder (`<model_dir>/<id>/`), as the server reads it and
/// `models pull` fetches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelFile {
    /// Path inside the folder (and inside the hub repository).
    pub path: &'static str,
    /// Whether the server refuses to load a model without it.
    pub required: bool,
}

/// The files of a model folder that the server reads. Everything else a hub repository
/// holds (other weight formats, ONNX exports, READMEs) is neither read nor pulled.
pub const MODEL_FILES: [ModelFile; 5] = [
    ModelFile {
        path: "config.json",
        required: true,
    },
    ModelFile {
        path: "tokenizer.json",
        required: true,
    },
    ModelFile {
        path: "model.safetensors",
        required: true,
    },
    ModelFile {
        path: "1_Pooling/config.json",
        required: false,
    },
    ModelFile {
        path: "sentence_bert_config.json",
        required: false,
    },
];

/// A supported embedding model. The id is also its folder name under `embedding.model_dir`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
pub enum ModelId {
    /// sentence-transformers/all-MiniLM-L6-v2: 6 layers, 384 dimensions, mean pooling.
    #[serde(rename = "all-MiniLM-L6-v2")]
    AllMiniLmL6V2,
    /// intfloat/e5-small-v2: 12 layers, 384 dimensions, `query: ` / `passage: ` prefixes.
    #[serde(rename = "e5-small-v2")]
    E5SmallV2,
}

impl ModelId {
    /// Every supported model, in a stable order.
    pub const ALL: [ModelId; 2] = [ModelId::AllMiniLmL6V2, ModelId::E5SmallV2];

    /// The id as written in configuration, requests and the model directory.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            ModelId::AllMiniLmL6V2 => "all-MiniLM-L6-v2",
            ModelId::E5SmallV2 => "e5-small-v2",
        }
    }

    /// Length of the embedding vectors.
    #[must_use]
    pub const fn dimensions(self) -> usize {
        384
    }

    /// Longest input, in tokens including special tokens, the model is used at.
    /// all-MiniLM-L6-v2 was trained at 256 although its tokenizer.json says 128.
    #[must_use]
    pub const fn max_tokens(self) -> usize {
        match self {
            ModelId::AllMiniLmL6V2 => 256,
            ModelId::E5SmallV2 => 512,
        }
    }

    /// Transformer layers of the published model.
    #[must_use]
    pub const fn layers(self) -> usize {
        match self {
            ModelId::AllMiniLmL6V2 => 6,
            ModelId::E5SmallV2 => 12,
        }
    }

    /// Prefixes the model expects before queries and passages, as `(query, passage)`;
    /// `None` for a model used without them.
    #[must_use]
    pub const fn prefixes(self) -> Option<(&'static str, &'static str)> {
        match self {
            ModelId::AllMiniLmL6V2 => None,
            ModelId::E5SmallV2 => Some(("query: ", "passage: ")),
        }
    }

    /// Shorter vector lengths the model was trained to be cut to (Matryoshka
    /// representation learning), longest first; empty when it was not, as for both
    /// models here: cutting their vectors would lose meaning, so `dimensions` is refused.
    #[must_use]
    pub const fn matryoshka_dimensions(self) -> &'static [usize] {
        match self {
            ModelId::AllMiniLmL6V2 | ModelId::E5SmallV2 => &[],
        }
    }

    /// Approximate resident size of the loaded F32 weights, in bytes.
    #[must_use]
    pub const fn weights_bytes(self) -> u64 {
        match self {
            ModelId::AllMiniLmL6V2 => 91 * 1024 * 1024,
            ModelId::E5SmallV2 => 134 * 1024 * 1024,
        }
    }
}

impl fmt::Display for ModelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A model id that is not one of [`ModelId::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown model `{given}`; supported models: {}", supported_list())]
pub struct UnknownModel {
    /// What was asked for.
    pub given: String,
}

fn supported_list() -> String {
    ModelId::ALL.map(ModelId::as_str).join(", ")
}

impl FromStr for ModelId {
    type Err = UnknownModel;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ModelId::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| UnknownModel {
                given: s.to_owned(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_from_str_and_serde() {
        for id in ModelId::ALL {
            assert_eq!(id.as_str().parse::<ModelId>(), Ok(id));
            let toml = toml::to_string(&std::collections::BTreeMap::from([("m", id)])).unwrap();
            assert_eq!(toml.trim(), format!("m = \"{}\"", id.as_str()));
        }
    }

    #[test]
    fn unknown_id_lists_the_choices() {
        let err = "all-minilm".parse::<ModelId>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown model `all-minilm`; supported models: all-MiniLM-L6-v2, e5-small-v2"
        );
    }
}
