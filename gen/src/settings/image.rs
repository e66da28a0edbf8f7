//! The container image, pinned by tag or digest: never `latest`, never floating. Each part
//! is checked while the file is read, so a bad pin is reported at its line.

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::names::string_newtype;

/// Default image repository of the server.
pub const DEFAULT_REPOSITORY: &str = "ghcr.io/akidb/akidb-embed";

/// Which image to run. Give `tag` or `digest`, not both; with neither, the tag is the
/// server crate's version, so a release of this repository pins the image it was built with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Image {
    /// Registry and repository, without tag. Default `ghcr.io/akidb/akidb-embed`.
    #[schemars(with = "String")]
    pub repository: Repository,
    /// Tag, e.g. `0.1.0`. `latest` is refused: it makes rollouts unrepeatable.
    #[schemars(with = "Option<String>")]
    pub tag: Option<Tag>,
    /// Content digest, e.g. `sha256:…` (64 hex digits); wins over any tag.
    #[schemars(with = "Option<String>")]
    pub digest: Option<Digest>,
    /// When the kubelet pulls the image. Default `IfNotPresent`.
    pub pull_policy: PullPolicy,
}

impl Default for Image {
    fn default() -> Self {
        Image {
            repository: Repository(DEFAULT_REPOSITORY.to_owned()),
            tag: None,
            digest: None,
            pull_policy: PullPolicy::IfNotPresent,
        }
    }
}

/// Kubernetes `imagePullPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[allow(missing_docs)]
pub enum PullPolicy {
    IfNotPresent,
    Always,
    Never,
}

impl PullPolicy {
    /// The value Kubernetes expects.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            PullPolicy::IfNotPresent => "IfNotPresent",
            PullPolicy::Always => "Always",
            PullPolicy::Never => "Never",
        }
    }
}

/// Where the version of an image comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pin {
    /// `repository:tag`.
    Tag(Tag),
    /// `repository@sha256:…`.
    Digest(Digest),
}

impl Image {
    /// Whether both a tag and a digest are given (the settings' checks refuse it).
    #[must_use]
    pub fn has_tag_and_digest(&self) -> bool {
        self.tag.is_some() && self.digest.is_some()
    }

    /// The pin: the digest when given, else the tag, else `default_tag`.
    #[must_use]
    pub fn pin(&self, default_tag: &Tag) -> Pin {
        match (&self.digest, &self.tag) {
            (Some(d), _) => Pin::Digest(d.clone()),
            (None, Some(t)) => Pin::Tag(t.clone()),
            (None, None) => Pin::Tag(default_tag.clone()),
        }
    }

    /// The full image reference, e.g. `ghcr.io/akidb/akidb-embed:0.1.0`.
    #[must_use]
    pub fn reference(&self, default_tag: &Tag) -> String {
        match self.pin(default_tag) {
            Pin::Tag(t) => format!("{}:{t}", self.repository),
            Pin::Digest(d) => format!("{}@{d}", self.repository),
        }
    }
}

/// Registry and repository of an image, without tag or digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repository(String);

/// An image tag other than `latest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag(String);

/// A `sha256:` content digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digest(String);

/// Why a part of an image reference is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    /// Characters a repository cannot hold.
    #[error(
        "`{0}` is not an image repository: use lowercase letters, digits, `.`, `_`, `-` and `/` (e.g. `ghcr.io/org/app`)"
    )]
    Repository(String),
    /// A tag written into the repository.
    #[error("`{0}` carries a tag: put it in image.tag")]
    RepositoryWithTag(String),
    /// The floating `latest` tag.
    #[error("`latest` is refused: pin a version or a digest so every rollout runs the same image")]
    Latest,
    /// A malformed tag.
    #[error(
        "`{0}` is not a valid tag: letters, digits, `_`, `.`, `-`, at most 128, not starting with `.` or `-`"
    )]
    Tag(String),
    /// A malformed digest.
    #[error("`{0}` is not `sha256:` followed by 64 lowercase hex digits")]
    Digest(String),
}

impl Repository {
    /// Checks `s` and wraps it.
    ///
    /// # Errors
    /// Characters a repository cannot hold, or a tag inside it.
    pub fn new(s: impl Into<String>) -> Result<Repository, ImageError> {
        let repo = s.into();
        let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-/:".contains(c);
        if repo.is_empty()
            || !repo.chars().all(ok_char)
            || repo.starts_with('/')
            || repo.ends_with('/')
        {
            return Err(ImageError::Repository(repo));
        }
        if repo
            .rsplit('/')
            .next()
            .is_some_and(|last| last.contains(':'))
        {
            return Err(ImageError::RepositoryWithTag(repo));
        }
        Ok(Repository(repo))
    }
}

impl Tag {
    /// Checks `s` and wraps it.
    ///
    /// # Errors
    /// `latest`, or a malformed tag.
    pub fn new(s: impl Into<String>) -> Result<Tag, ImageError> {
        let tag = s.into();
        if tag == "latest" {
            return Err(ImageError::Latest);
        }
        let ok_char = |c: char| c.is_ascii_alphanumeric() || "._-".contains(c);
        let first_ok = tag.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_');
        if tag.is_empty() || tag.len() > 128 || !first_ok || !tag.chars().all(ok_char) {
            return Err(ImageError::Tag(tag));
        }
        Ok(Tag(tag))
    }
}

impl Digest {
    /// Checks `s` and wraps it.
    ///
    /// # Errors
    /// Anything but `sha256:` and 64 lowercase hex digits.
    pub fn new(s: impl Into<String>) -> Result<Digest, ImageError> {
        let digest = s.into();
        let hex = digest.strip_prefix("sha256:").unwrap_or("");
        let ok = hex.len() == 64
            && hex
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c));
        if ok {
            Ok(Digest(digest))
        } else {
            Err(ImageError::Digest(digest))
        }
    }
}

macro_rules! as_str {
    ($($ty:ident),*) => {$(
        impl $ty {
            /// The text as written.
            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
    )*};
}

as_str!(Repository, Tag, Digest);

string_newtype!(
    Repository,
    "An image registry and repository without tag, e.g. `ghcr.io/org/app`.",
    { "type": "string" }
);
string_newtype!(
    Tag,
    "An image tag other than `latest`.",
    { "type": "string", "maxLength": 128, "pattern": "^[A-Za-z0-9_][A-Za-z0-9_.-]*$" }
);
string_newtype!(
    Digest,
    "An image content digest: `sha256:` and 64 lowercase hex digits.",
    { "type": "string", "pattern": "^sha256:[0-9a-f]{64}$" }
);

#[cfg(test)]
mod tests {
    use super::*;

    fn image(tag: Option<&str>, digest: Option<&str>) -> Image {
        Image {
            tag: tag.map(|t| Tag::new(t).unwrap()),
            digest: digest.map(|d| Digest::new(d).unwrap()),
            ..Image::default()
        }
    }

    #[test]
    fn references() {
        let default = Tag::new("0.1.0").unwrap();
        assert_eq!(
            image(None, None).reference(&default),
            "ghcr.io/akidb/akidb-embed:0.1.0"
        );
        assert_eq!(
            image(Some("1.2.3"), None).reference(&default),
            "ghcr.io/akidb/akidb-embed:1.2.3"
        );
        let d = format!("sha256:{}", "a".repeat(64));
        assert_eq!(
            image(None, Some(&d)).reference(&default),
            format!("ghcr.io/akidb/akidb-embed@{d}")
        );
        assert!(image(Some("1"), Some(&d)).has_tag_and_digest());
    }

    #[test]
    fn floating_or_malformed_pins_are_refused() {
        assert_eq!(Tag::new("latest"), Err(ImageError::Latest));
        assert!(matches!(Tag::new("-x"), Err(ImageError::Tag(_))));
        assert!(matches!(
            Digest::new("sha256:abc"),
            Err(ImageError::Digest(_))
        ));
        assert!(matches!(
            Repository::new("Ghcr.io/X"),
            Err(ImageError::Repository(_))
        ));
        assert!(matches!(
            Repository::new("ghcr.io/x/app:1.0"),
            Err(ImageError::RepositoryWithTag(_))
        ));
        assert!(Repository::new("localhost:5000/app").is_ok());
    }
}

/// The image of a component whose software is not ours: the repository is required, and
/// so is a tag or a digest (no version of ours to default to).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PinnedImage {
    /// Registry and repository, without tag, e.g. `docker.io/library/nginx`. Required.
    #[schemars(with = "String")]
    pub repository: Repository,
    /// Tag, e.g. `1.27.3`. `latest` is refused. Give a tag or a digest.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub tag: Option<Tag>,
    /// Content digest, `sha256:…`; wins over any tag.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub digest: Option<Digest>,
    /// When the kubelet pulls the image. Default `IfNotPresent`.
    #[serde(default = "default_pull_policy")]
    pub pull_policy: PullPolicy,
}

const fn default_pull_policy() -> PullPolicy {
    PullPolicy::IfNotPresent
}

impl PinnedImage {
    /// As an [`Image`], for the shared pin logic and checks.
    #[must_use]
    pub fn to_image(&self) -> Image {
        Image {
            repository: self.repository.clone(),
            tag: self.tag.clone(),
            digest: self.digest.clone(),
            pull_policy: self.pull_policy,
        }
    }
}
