//! The container image, pinned by tag or digest: never `latest`, never floating.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Default image repository of the server.
pub const DEFAULT_REPOSITORY: &str = "ghcr.io/akidb/akidb-embed";

/// Which image to run. Give `tag` or `digest`, not both; with neither, the tag is the
/// server crate's version, so a release of this repository pins the image it was built with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Image {
    /// Registry and repository, without tag. Default `ghcr.io/akidb/akidb-embed`.
    pub repository: String,
    /// Tag, e.g. `0.1.0`. `latest` is refused: it makes rollouts unrepeatable.
    pub tag: Option<String>,
    /// Content digest, e.g. `sha256:…` (64 hex digits); wins over any tag.
    pub digest: Option<String>,
    /// When the kubelet pulls the image. Default `IfNotPresent`.
    pub pull_policy: PullPolicy,
}

impl Default for Image {
    fn default() -> Self {
        Image {
            repository: DEFAULT_REPOSITORY.into(),
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
    Tag(String),
    /// `repository@sha256:…`.
    Digest(String),
}

impl Image {
    /// Checks the reference and returns the pin, using `default_tag` when none is given.
    ///
    /// # Errors
    /// A message naming the offending setting (`image.tag`, `image.digest`, `image.repository`).
    pub fn pin(&self, default_tag: &str) -> Result<Pin, String> {
        check_repository(&self.repository)?;
        match (&self.tag, &self.digest) {
            (Some(_), Some(_)) => Err("image: give `tag` or `digest`, not both".into()),
            (None, Some(d)) => check_digest(d).map(|()| Pin::Digest(d.clone())),
            (Some(t), None) => check_tag(t).map(|()| Pin::Tag(t.clone())),
            (None, None) => check_tag(default_tag).map(|()| Pin::Tag(default_tag.to_owned())),
        }
    }

    /// The full image reference, e.g. `ghcr.io/akidb/akidb-embed:0.1.0`.
    ///
    /// # Errors
    /// As [`Image::pin`].
    pub fn reference(&self, default_tag: &str) -> Result<String, String> {
        Ok(match self.pin(default_tag)? {
            Pin::Tag(t) => format!("{}:{t}", self.repository),
            Pin::Digest(d) => format!("{}@{d}", self.repository),
        })
    }
}

fn check_repository(repo: &str) -> Result<(), String> {
    let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-/:".contains(c);
    if repo.is_empty() || !repo.chars().all(ok_char) || repo.starts_with('/') || repo.ends_with('/')
    {
        return Err(format!(
            "image.repository `{repo}` is not an image repository: use lowercase letters, digits, `.`, `_`, `-` and `/` (e.g. `ghcr.io/org/app`)"
        ));
    }
    if let Some(last) = repo.rsplit('/').next()
        && last.contains(':')
    {
        return Err(format!(
            "image.repository `{repo}` carries a tag: put it in image.tag"
        ));
    }
    Ok(())
}

fn check_tag(tag: &str) -> Result<(), String> {
    if tag == "latest" {
        return Err(
            "image.tag `latest` is refused: pin a version or a digest so every rollout runs the same image".into(),
        );
    }
    let ok_char = |c: char| c.is_ascii_alphanumeric() || "._-".contains(c);
    let first_ok = tag.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_');
    if tag.is_empty() || tag.len() > 128 || !first_ok || !tag.chars().all(ok_char) {
        return Err(format!(
            "image.tag `{tag}` is not a valid tag: letters, digits, `_`, `.`, `-`, at most 128, not starting with `.` or `-`"
        ));
    }
    Ok(())
}

fn check_digest(digest: &str) -> Result<(), String> {
    let hex = digest.strip_prefix("sha256:").unwrap_or("");
    if hex.len() != 64
        || !hex
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    {
        return Err(format!(
            "image.digest `{digest}` is not `sha256:` followed by 64 lowercase hex digits"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(tag: Option<&str>, digest: Option<&str>) -> Image {
        Image {
            tag: tag.map(Into::into),
            digest: digest.map(Into::into),
            ..Image::default()
        }
    }

    #[test]
    fn references() {
        assert_eq!(
            image(None, None).reference("0.1.0").unwrap(),
            "ghcr.io/akidb/akidb-embed:0.1.0"
        );
        assert_eq!(
            image(Some("1.2.3"), None).reference("0.1.0").unwrap(),
            "ghcr.io/akidb/akidb-embed:1.2.3"
        );
        let d = format!("sha256:{}", "a".repeat(64));
        assert_eq!(
            image(None, Some(&d)).reference("0.1.0").unwrap(),
            format!("ghcr.io/akidb/akidb-embed@{d}")
        );
    }

    #[test]
    fn floating_or_malformed_pins_are_refused() {
        assert!(
            image(Some("latest"), None)
                .pin("x")
                .unwrap_err()
                .contains("latest")
        );
        assert!(
            image(Some("1"), Some("sha256:00"))
                .pin("x")
                .unwrap_err()
                .contains("not both")
        );
        assert!(
            image(None, Some("sha256:abc"))
                .pin("x")
                .unwrap_err()
                .contains("image.digest")
        );
        assert!(
            image(Some("-x"), None)
                .pin("x")
                .unwrap_err()
                .contains("image.tag")
        );
        let repo = Image {
            repository: "Ghcr.io/X".into(),
            ..Image::default()
        };
        assert!(repo.pin("1").unwrap_err().contains("image.repository"));
        let tagged = Image {
            repository: "ghcr.io/x/app:1.0".into(),
            ..Image::default()
        };
        assert!(tagged.pin("1").unwrap_err().contains("carries a tag"));
    }
}
