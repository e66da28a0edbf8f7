//! API keys: `Authorization: Bearer <key>` on every route but [`routes::OPEN`].
//!
//! Keys come from `auth.keys_file` (a mounted Secret, one key per line) and from
//! `AKIDB_API_KEYS`. Only their sha256 is kept, and a presented key is hashed and compared
//! with every accepted one in constant time (`subtle`), so neither the comparison's timing
//! nor its length reveals a key. The file is read again every `auth.reload_interval_secs`:
//! Kubernetes swaps a mounted Secret by re-pointing a symlink, and the next read sees the
//! new keys without a restart. Nothing here logs, prints or serialises a key; logs say how
//! many keys there are and where they came from.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use subtle::{Choice, ConstantTimeEq};

use super::error::ApiError;
use super::openai::OpenAiError;
use super::state::AppState;
use crate::config::AuthConfig;
use crate::{env_vars, routes};

/// Why the keys could not be loaded at start. The process exits 2 on these.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The key file exists but cannot be read.
    #[error("cannot read the API-key file {}: {source}", path.display())]
    Read {
        /// `auth.keys_file`.
        path: PathBuf,
        /// Underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Keys are required and no source holds one.
    #[error(
        "auth.required is on but no API key was found: {} {} and {} is {}; \
         put one key per line in the file or set {}",
        path.display(),
        if *.file_exists { "holds none" } else { "does not exist" },
        env_vars::API_KEYS,
        if *.var_set { "empty" } else { "not set" },
        env_vars::API_KEYS
    )]
    NoKeys {
        /// `auth.keys_file`.
        path: PathBuf,
        /// Whether the file exists (and was empty).
        file_exists: bool,
        /// Whether `AKIDB_API_KEYS` was set (and empty).
        var_set: bool,
    },
}

/// Why a request was refused; each gives its own `WWW-Authenticate` (RFC 6750).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    /// No `Authorization` header.
    #[error("this route needs an API key: send `Authorization: Bearer <key>`")]
    Missing,
    /// An `Authorization` header of another scheme, or without a key.
    #[error("the Authorization header must be `Bearer <key>`")]
    NotBearer,
    /// A key that is not accepted.
    #[error("the API key is not valid")]
    WrongKey,
}

impl Denied {
    /// The `WWW-Authenticate` challenge for this refusal.
    #[must_use]
    pub fn challenge(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Denied::Missing => "Bearer realm=\"akidb-embed\"",
            Denied::NotBearer => "Bearer realm=\"akidb-embed\", error=\"invalid_request\"",
            Denied::WrongKey => "Bearer realm=\"akidb-embed\", error=\"invalid_token\"",
        })
    }
}

type KeyDigest = [u8; 32];

fn digest(key: &str) -> KeyDigest {
    Sha256::digest(key.as_bytes()).into()
}

/// Keys of a file's or a variable's text: one per line (or comma-separated for the
/// variable), trimmed; blank lines and `#` comments skipped.
fn parse(text: &str, commas: bool) -> Vec<KeyDigest> {
    text.lines()
        .flat_map(|l| {
            let parts: Vec<&str> = if commas {
                l.split(',').collect()
            } else {
                vec![l]
            };
            parts
        })
        .map(str::trim)
        .filter(|k| !k.is_empty() && !k.starts_with('#'))
        .map(digest)
        .collect()
}

/// The accepted keys; cheap to clone. Disabled when `auth.required` is off.
#[derive(Clone)]
pub struct ApiKeys(Option<Arc<Store>>);

struct Store {
    file: PathBuf,
    from_env: Vec<KeyDigest>,
    from_file: RwLock<Vec<KeyDigest>>,
}

impl std::fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            None => f.write_str("ApiKeys(off)"),
            Some(s) => write!(f, "ApiKeys({} keys)", s.count()),
        }
    }
}

impl ApiKeys {
    /// No key required.
    #[must_use]
    pub fn off() -> ApiKeys {
        ApiKeys(None)
    }

    /// Loads the keys `config` asks for, reading `AKIDB_API_KEYS` through `lookup`.
    ///
    /// # Errors
    /// An unreadable key file, or keys required and none found.
    pub fn load(
        config: &AuthConfig,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<ApiKeys, AuthError> {
        if !config.required {
            return Ok(ApiKeys::off());
        }
        let var = lookup(env_vars::API_KEYS);
        let from_env = var.as_deref().map(|v| parse(v, true)).unwrap_or_default();
        let path = config.keys_file.clone();
        let (file_exists, from_file) = match std::fs::read_to_string(&path) {
            Ok(text) => (true, parse(&text, false)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (false, Vec::new()),
            Err(source) => return Err(AuthError::Read { path, source }),
        };
        if from_env.is_empty() && from_file.is_empty() {
            return Err(AuthError::NoKeys {
                path,
                file_exists,
                var_set: var.is_some(),
            });
        }
        tracing::info!(
            file = %path.display(),
            from_file = from_file.len(),
            from_env = from_env.len(),
            "API keys required"
        );
        Ok(ApiKeys(Some(Arc::new(Store {
            file: path,
            from_env,
            from_file: RwLock::new(from_file),
        }))))
    }

    /// Whether keys are required.
    #[must_use]
    pub fn enabled(&self) -> bool {
        self.0.is_some()
    }

    /// Checks an `Authorization` header value.
    ///
    /// # Errors
    /// The [`Denied`] reason when keys are required and this one is not accepted.
    pub fn check(&self, authorization: Option<&HeaderValue>) -> Result<(), Denied> {
        let Some(store) = &self.0 else {
            return Ok(());
        };
        let value = authorization.ok_or(Denied::Missing)?;
        let text = value.to_str().map_err(|_| Denied::NotBearer)?;
        let (scheme, key) = text.trim().split_once(' ').ok_or(Denied::NotBearer)?;
        if !scheme.eq_ignore_ascii_case("bearer") || key.trim().is_empty() {
            return Err(Denied::NotBearer);
        }
        let presented = digest(key.trim());
        let file = store
            .from_file
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Every accepted key is compared, match or not: no early exit to time.
        let hit = store
            .from_env
            .iter()
            .chain(file.iter())
            .fold(Choice::from(0), |acc, k| acc | k.ct_eq(&presented));
        if bool::from(hit) {
            Ok(())
        } else {
            Err(Denied::WrongKey)
        }
    }

    /// Reads the key file again; returns the new count of file keys when they changed.
    /// A file that cannot be read keeps the current keys (a transient error must not lock
    /// every client out); revoke a key by removing its line, not by deleting the Secret.
    pub fn reload(&self) -> Option<usize> {
        let store = self.0.as_ref()?;
        let fresh = match std::fs::read_to_string(&store.file) {
            Ok(text) => parse(&text, false),
            Err(e) => {
                tracing::warn!(file = %store.file.display(), error = %e, "cannot read the API-key file; keeping the current keys");
                return None;
            }
        };
        let mut current = store
            .from_file
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if *current == fresh {
            return None;
        }
        *current = fresh;
        let n = current.len();
        drop(current);
        if store.count() == 0 {
            tracing::warn!(file = %store.file.display(), "the API-key file holds no key any more: every request needing one is refused");
        } else {
            tracing::info!(file = %store.file.display(), from_file = n, from_env = store.from_env.len(), "API keys reloaded");
        }
        Some(n)
    }

    /// Re-reads the key file every `interval` on a thread of its own, for the life of the
    /// process. Nothing to do when keys are off.
    ///
    /// # Errors
    /// The thread could not be started.
    pub fn watch(&self, interval: Duration) -> std::io::Result<()> {
        if self.0.is_none() {
            return Ok(());
        }
        let keys = self.clone();
        std::thread::Builder::new()
            .name("api-keys".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(interval);
                    keys.reload();
                }
            })
            .map(drop)
    }

    /// The key file, when keys are on.
    #[must_use]
    pub fn file(&self) -> Option<&Path> {
        self.0.as_ref().map(|s| s.file.as_path())
    }
}

impl Store {
    fn count(&self) -> usize {
        self.from_env.len()
            + self
                .from_file
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .len()
    }
}

/// Where the OpenAI routes live ([`routes::OPENAI_EMBEDDINGS`], [`routes::OPENAI_MODELS`]).
const OPENAI_PREFIX: &str = "/v1/";

/// Middleware: lets [`routes::OPEN`] through, and every other route (unknown ones too)
/// only with an accepted key.
pub async fn require_key(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if routes::OPEN.contains(&req.uri().path()) {
        return next.run(req).await;
    }
    match state
        .api_keys
        .check(req.headers().get(header::AUTHORIZATION))
    {
        Ok(()) => next.run(req).await,
        // OpenAI's SDKs read `error.message` from their own shape; every other client
        // gets the native one. Both carry the same status and challenge.
        Err(denied) if req.uri().path().starts_with(OPENAI_PREFIX) => {
            OpenAiError::from(ApiError::Unauthorized(denied)).into_response()
        }
        Err(denied) => ApiError::Unauthorized(denied).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(dir: &Path, required: bool) -> AuthConfig {
        AuthConfig {
            required,
            keys_file: dir.join("api-keys"),
            reload_interval_secs: 1,
        }
    }

    #[test]
    fn the_openai_prefix_covers_every_openai_route_and_no_other() {
        for r in [
            routes::OPENAI_EMBEDDINGS,
            routes::OPENAI_MODELS,
            routes::OPENAI_MODEL,
        ] {
            assert!(r.starts_with(OPENAI_PREFIX), "{r}");
        }
        for r in [
            routes::EMBED,
            routes::TEI_EMBED,
            routes::TEI_ROOT,
            routes::INFO,
        ] {
            assert!(!r.starts_with(OPENAI_PREFIX), "{r}");
        }
    }

    fn bearer(k: &str) -> HeaderValue {
        HeaderValue::from_str(&format!("Bearer {k}")).unwrap()
    }

    #[test]
    fn keys_from_the_file_and_the_variable_are_accepted_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("api-keys"),
            "# rotated 2026-11\nfile-key-1\n\n  file-key-2  \r\n",
        )
        .unwrap();
        let keys = ApiKeys::load(&config(dir.path(), true), |k| {
            (k == "AKIDB_API_KEYS").then(|| "env-key-1, env-key-2".to_owned())
        })
        .unwrap();
        for k in ["file-key-1", "file-key-2", "env-key-1", "env-key-2"] {
            assert_eq!(keys.check(Some(&bearer(k))), Ok(()), "{k}");
        }
        assert_eq!(
            keys.check(Some(&HeaderValue::from_static("bearer file-key-1"))),
            Ok(())
        );
        assert_eq!(keys.check(None), Err(Denied::Missing));
        assert_eq!(keys.check(Some(&bearer("file-key"))), Err(Denied::WrongKey));
        assert_eq!(
            keys.check(Some(&bearer("# rotated 2026-11"))),
            Err(Denied::WrongKey)
        );
        assert_eq!(
            keys.check(Some(&HeaderValue::from_static("Basic ZmlsZS1rZXktMQ=="))),
            Err(Denied::NotBearer)
        );
        assert_eq!(
            keys.check(Some(&HeaderValue::from_static("Bearer "))),
            Err(Denied::NotBearer)
        );
        assert!(!format!("{keys:?}").contains("key-1"), "{keys:?}");
    }

    #[test]
    fn off_accepts_everything_and_required_without_keys_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let keys = ApiKeys::load(&config(dir.path(), false), |_| None).unwrap();
        assert!(!keys.enabled());
        assert_eq!(keys.check(None), Ok(()));

        let err = ApiKeys::load(&config(dir.path(), true), |_| None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("does not exist") && err.contains("AKIDB_API_KEYS is not set"),
            "{err}"
        );
        std::fs::write(dir.path().join("api-keys"), "# none yet\n").unwrap();
        let err = ApiKeys::load(&config(dir.path(), true), |k| {
            (k == "AKIDB_API_KEYS").then(String::new)
        })
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("holds none") && err.contains("AKIDB_API_KEYS is empty"),
            "{err}"
        );
    }

    #[test]
    fn reload_swaps_the_file_keys_and_keeps_them_when_the_file_is_unreadable() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("api-keys");
        std::fs::write(&file, "old\n").unwrap();
        let keys = ApiKeys::load(&config(dir.path(), true), |_| None).unwrap();
        assert_eq!(keys.reload(), None, "unchanged");
        std::fs::write(&file, "new\n").unwrap();
        assert_eq!(keys.reload(), Some(1));
        assert_eq!(keys.check(Some(&bearer("new"))), Ok(()));
        assert_eq!(keys.check(Some(&bearer("old"))), Err(Denied::WrongKey));
        std::fs::remove_file(&file).unwrap();
        assert_eq!(keys.reload(), None);
        assert_eq!(keys.check(Some(&bearer("new"))), Ok(()), "kept");
    }
}
