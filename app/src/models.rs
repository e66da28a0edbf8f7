//! Which models the server serves, and the facts the deployment needs about them.
//!
//! A model is a folder under `embedding.model_dir`, named by its id; the server reads its
//! architecture, pooling, normalisation, token limit and prompts from the files in it.
//! Two models are known by id ([`KnownModel`]): for them the contract keeps the facts the
//! generator checks before anything runs (weights size, token limit, prefixes) and the hub
//! commit they are pulled at. Any other folder name is served as well; its facts for the
//! generator are declared in `[embedding.models.<id>]`.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};

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
pub const MODEL_FILES: [ModelFile; 7] = [
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
        path: "modules.json",
        required: false,
    },
    ModelFile {
        path: "1_Pooling/config.json",
        required: false,
    },
    ModelFile {
        path: "sentence_bert_config.json",
        required: false,
    },
    ModelFile {
        path: "config_sentence_transformers.json",
        required: false,
    },
];

/// The name of a model: its folder under `embedding.model_dir`, the `model` of a request.
///
/// Letters, digits, `-`, `_` and `.`, at most 128 characters, not starting with `.`:
/// a plain folder name that cannot climb out of the model directory or hide in it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModelId(Arc<str>);

impl Serialize for ModelId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Longest model id accepted.
pub const MAX_ID_LEN: usize = 128;

impl ModelId {
    /// The id as written in configuration, requests and the model directory.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The model's built-in facts, when its id is one the contract knows.
    #[must_use]
    pub fn known(&self) -> Option<KnownModel> {
        KnownModel::ALL
            .into_iter()
            .find(|k| k.as_str() == self.as_str())
    }
}

impl fmt::Display for ModelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<KnownModel> for ModelId {
    fn from(k: KnownModel) -> Self {
        ModelId(Arc::from(k.as_str()))
    }
}

/// A model id that is not a plain folder name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "model id {given:?} is not a folder name: use 1 to {MAX_ID_LEN} letters, digits, `-`, \
     `_` or `.`, not starting with `.` (e.g. `all-MiniLM-L6-v2`, `bge-small-en-v1.5`)"
)]
pub struct InvalidModelId {
    /// What was given.
    pub given: String,
}

impl FromStr for ModelId {
    type Err = InvalidModelId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let ok = !s.is_empty()
            && s.len() <= MAX_ID_LEN
            && !s.starts_with('.')
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !ok {
            return Err(InvalidModelId {
                given: s.to_owned(),
            });
        }
        Ok(ModelId(Arc::from(s)))
    }
}

impl<'de> Deserialize<'de> for ModelId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Cow::<str>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for ModelId {
    fn schema_name() -> Cow<'static, str> {
        "ModelId".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "A model's folder name under embedding.model_dir.",
            "pattern": ID_PATTERN,
            "maxLength": MAX_ID_LEN,
            "examples": KnownModel::ALL.map(KnownModel::as_str),
        })
    }
}

/// [`ModelId`]'s rule as a regular expression, for schemas.
pub const ID_PATTERN: &str = "^[A-Za-z0-9_-][A-Za-z0-9._-]*$";

/// A model whose facts the contract knows by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KnownModel {
    /// sentence-transformers/all-MiniLM-L6-v2: 6 layers, 384 dimensions, mean pooling.
    AllMiniLmL6V2,
    /// intfloat/e5-small-v2: 12 layers, 384 dimensions, `query: ` / `passage: ` prefixes.
    E5SmallV2,
}

impl KnownModel {
    /// Every known model, in a stable order.
    pub const ALL: [KnownModel; 2] = [KnownModel::AllMiniLmL6V2, KnownModel::E5SmallV2];

    /// The id, as written in configuration, requests and the model directory.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            KnownModel::AllMiniLmL6V2 => "all-MiniLM-L6-v2",
            KnownModel::E5SmallV2 => "e5-small-v2",
        }
    }

    /// The id as a [`ModelId`].
    #[must_use]
    pub fn id(self) -> ModelId {
        ModelId::from(self)
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
            KnownModel::AllMiniLmL6V2 => 256,
            KnownModel::E5SmallV2 => 512,
        }
    }

    /// Transformer layers of the published model.
    #[must_use]
    pub const fn layers(self) -> usize {
        match self {
            KnownModel::AllMiniLmL6V2 => 6,
            KnownModel::E5SmallV2 => 12,
        }
    }

    /// Prefixes the model expects before queries and passages, as `(query, passage)`;
    /// `None` for a model used without them. They stand in for the prompts of
    /// `config_sentence_transformers.json` when the folder has none.
    #[must_use]
    pub const fn prefixes(self) -> Option<(&'static str, &'static str)> {
        match self {
            KnownModel::AllMiniLmL6V2 => None,
            KnownModel::E5SmallV2 => Some(("query: ", "passage: ")),
        }
    }

    /// Approximate resident size of the loaded F32 weights, in bytes.
    #[must_use]
    pub const fn weights_bytes(self) -> u64 {
        match self {
            KnownModel::AllMiniLmL6V2 => 91 * 1024 * 1024,
            KnownModel::E5SmallV2 => 134 * 1024 * 1024,
        }
    }

    /// The facts the deployment checks, as for a declared model.
    #[must_use]
    pub fn facts(self) -> ModelFacts {
        ModelFacts {
            max_tokens: self.max_tokens(),
            weights_mib: self.weights_bytes() >> 20,
            matryoshka_dimensions: Vec::new(),
        }
    }
}

/// What the deployment must know of a model before it runs: `[embedding.models.<id>]`.
/// Built in for the known ids; declared for any other model that is preloaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelFacts {
    /// Longest input the model is used at, in tokens including special tokens; inputs are
    /// cut (or refused) past it even when the model's files allow more. At most the
    /// model's position table.
    pub max_tokens: usize,
    /// Size of the weights in MiB once loaded as 32-bit floats (about the size of an F32
    /// `model.safetensors`; twice an F16 one): the memory check counts it.
    pub weights_mib: u64,
    /// Shorter vector lengths the model was trained to be cut to (Matryoshka
    /// representation learning), e.g. `[256, 128, 64]`; OpenAI's `dimensions` accepts
    /// these. Default none: cutting a vector that was not trained for it loses meaning.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub matryoshka_dimensions: Vec<usize>,
}

impl ModelFacts {
    /// Resident bytes of the weights.
    #[must_use]
    pub fn weights_bytes(&self) -> u64 {
        self.weights_mib << 20
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_from_str_and_serde() {
        for id in KnownModel::ALL.map(KnownModel::id).into_iter().chain([
            "bge-small-en-v1.5".parse().unwrap(),
            "multilingual_e5.small".parse().unwrap(),
        ]) {
            assert_eq!(id.as_str().parse::<ModelId>(), Ok(id.clone()));
            let toml = toml::to_string(&std::collections::BTreeMap::from([("m", &id)])).unwrap();
            assert_eq!(toml.trim(), format!("m = \"{}\"", id.as_str()));
            let back: std::collections::BTreeMap<String, ModelId> = toml::from_str(&toml).unwrap();
            assert_eq!(back["m"], id);
        }
    }

    #[test]
    fn known_ids_keep_their_facts_and_others_have_none() {
        let e5: ModelId = "e5-small-v2".parse().unwrap();
        assert_eq!(e5.known(), Some(KnownModel::E5SmallV2));
        assert_eq!(e5.known().map(|k| k.facts().max_tokens), Some(512));
        let other: ModelId = "bge-small-en-v1.5".parse().unwrap();
        assert_eq!(other.known(), None);
    }

    #[test]
    fn ids_that_are_not_plain_folder_names_are_refused() {
        let long = "a".repeat(MAX_ID_LEN + 1);
        for bad in [
            "",
            ".",
            "..",
            ".hidden",
            "a/b",
            "../etc",
            "a b",
            "é",
            long.as_str(),
        ] {
            let err = bad.parse::<ModelId>().unwrap_err().to_string();
            assert!(err.contains("not a folder name"), "{bad:?}: {err}");
            assert!(
                toml::from_str::<std::collections::BTreeMap<String, ModelId>>(&format!(
                    "m = {bad:?}"
                ))
                .is_err()
            );
        }
        assert!("a".repeat(MAX_ID_LEN).parse::<ModelId>().is_ok());
    }
}
