//! Where the server's model files come from (`models`), and the API keys it requires
//! (`api_keys`): settings of the `akidb_embed` component that reach beyond its own pod.

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::names::string_newtype;
use super::{Bytes, Cidr, Cpu, CpuMemory, DnsSubdomain, SecretKey};

/// How the model folder is filled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Models {
    /// `hub`: an init container (the server's own image, `akidb-embed models pull`) fetches
    /// every preloaded model at its pinned commit into the claim and verifies each file
    /// before the server starts; models already pulled are not fetched again. `prefilled`:
    /// the claim already holds them (filled by you), nothing is fetched. Default `hub`.
    pub source: ModelSource,
    /// The Hugging Face-compatible hub the pull fetches from (`HF_ENDPOINT`), e.g. a mirror
    /// inside the cluster. Default `https://huggingface.co`.
    pub hub_endpoint: HubEndpoint,
    /// A Secret key holding a hub token (`HF_TOKEN`), for gated or private models. Only the
    /// pull container sees it. Absent: anonymous.
    pub hub_token: Option<SecretKeyRef>,
    /// Addresses the pull may connect to on the hub's port (NetworkPolicy egress). The
    /// public hub sits behind a CDN whose addresses change, hence everything by default;
    /// narrow it for a mirror with a fixed address. Default `0.0.0.0/0`.
    pub hub_egress_cidrs: Vec<Cidr>,
    /// CPU and memory of the pull container. Default `cpu: 100m`, `memory: 128Mi`
    /// requested, `cpu: 1`, `memory: 512Mi` limit.
    pub pull_resources: PullResources,
}

impl Default for Models {
    fn default() -> Self {
        Models {
            source: ModelSource::Hub,
            hub_endpoint: HubEndpoint::default(),
            hub_token: None,
            hub_egress_cidrs: vec![
                Cidr::new("0.0.0.0/0").unwrap_or_else(|e| unreachable!("constant block: {e}")),
            ],
            pull_resources: PullResources::default(),
        }
    }
}

impl Models {
    /// Whether the pods fetch their models themselves.
    #[must_use]
    pub fn pulled(&self) -> bool {
        self.source == ModelSource::Hub
    }
}

/// Where the models come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ModelSource {
    /// Pulled from the hub by an init container.
    Hub,
    /// Already in the claim.
    Prefilled,
}

/// Resources of the pull container: it streams files to disk and hashes them, so it needs
/// far less than the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct PullResources {
    /// What the scheduler reserves. Default `cpu: 100m`, `memory: 128Mi`.
    pub requests: CpuMemory,
    /// The most the pull may use. Default `cpu: 1`, `memory: 512Mi`.
    pub limits: CpuMemory,
}

impl Default for PullResources {
    fn default() -> Self {
        PullResources {
            requests: CpuMemory {
                cpu: Cpu::from_millis(100),
                memory: Bytes::mebibytes(128),
            },
            limits: CpuMemory {
                cpu: Cpu::from_millis(1000),
                memory: Bytes::mebibytes(512),
            },
        }
    }
}

/// One key of a Secret created outside the generator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretKeyRef {
    /// Name of the Secret in the namespace. Required.
    pub secret: DnsSubdomain,
    /// Key inside it. Required.
    pub key: SecretKey,
}

/// API keys the server requires, from a Secret created outside the generator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiKeys {
    /// Name of the Secret. Required.
    pub secret: DnsSubdomain,
    /// Key holding the accepted keys, one per line. Default `api-keys`.
    #[serde(default = "default_api_keys_key")]
    pub key: SecretKey,
}

fn default_api_keys_key() -> SecretKey {
    SecretKey::new(app::container::API_KEYS_FILE)
        .unwrap_or_else(|e| unreachable!("the contract's file name is a key: {e}"))
}

/// A hub's base URL: `https://` (or `http://` for a mirror inside the cluster), a host, an
/// optional port and path; no credentials, query or fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubEndpoint(String);

impl Default for HubEndpoint {
    fn default() -> Self {
        HubEndpoint::new(app::hub::DEFAULT_ENDPOINT)
            .unwrap_or_else(|e| unreachable!("the contract's hub is a URL: {e}"))
    }
}

impl HubEndpoint {
    /// Checks `s` and wraps it.
    ///
    /// # Errors
    /// Why `s` is not a hub address.
    pub fn new(s: impl Into<String>) -> Result<HubEndpoint, String> {
        let s = s.into();
        let rest = s
            .strip_prefix("https://")
            .or_else(|| s.strip_prefix("http://"))
            .ok_or_else(|| format!("`{s}` must start with https:// (or http:// for a mirror)"))?;
        let authority = rest.split('/').next().unwrap_or_default();
        if authority.contains('@') {
            return Err(format!(
                "`{s}` carries credentials; put a token in hub_token instead"
            ));
        }
        if rest.contains(['?', '#']) {
            return Err(format!(
                "`{s}` has a query or fragment; give the base URL only"
            ));
        }
        let (host, port) = split_authority(authority);
        if host.is_empty() || host.contains(char::is_whitespace) {
            return Err(format!("`{s}` names no host"));
        }
        if let Some(p) = port {
            match p.parse::<u16>() {
                Ok(n) if n > 0 => {}
                _ => return Err(format!("`{s}` has port `{p}`; a port is 1 to 65535")),
            }
        }
        Ok(HubEndpoint(s))
    }

    /// The URL.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The TCP port the pull connects to: the URL's own, else 443 or 80 by scheme.
    #[must_use]
    pub fn port(&self) -> u16 {
        port_of_url(&self.0)
    }
}

/// The TCP port of an `http(s)://` URL: its own, else the scheme's.
#[must_use]
pub fn port_of_url(url: &str) -> u16 {
    let (default, rest) = match url.strip_prefix("https://") {
        Some(rest) => (443, rest),
        None => (80, url.strip_prefix("http://").unwrap_or(url)),
    };
    let authority = rest.split('/').next().unwrap_or_default();
    split_authority(authority)
        .1
        .and_then(|p| p.parse().ok())
        .unwrap_or(default)
}

/// Host and port of `host[:port]` or `[v6]:port`.
fn split_authority(authority: &str) -> (&str, Option<&str>) {
    if let Some(v6) = authority.strip_prefix('[') {
        return match v6.split_once(']') {
            Some((host, rest)) => (host, rest.strip_prefix(':')),
            None => ("", None),
        };
    }
    match authority.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    }
}

string_newtype!(
    HubEndpoint,
    "A hub's base URL, e.g. `https://huggingface.co` or `http://hub-mirror.tools:8080`.",
    { "type": "string", "pattern": "^https?://[^/@?#]+(/[^?#]*)?$" }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hub_addresses_are_checked_and_their_port_found() {
        for (url, port) in [
            ("https://huggingface.co", 443),
            ("https://hf-mirror.example.com/hub/", 443),
            ("http://hub-mirror.tools:8080", 8080),
            ("http://10.0.0.7", 80),
            ("http://[fd00::7]:8080/", 8080),
        ] {
            let e = HubEndpoint::new(url).unwrap();
            assert_eq!(e.port(), port, "{url}");
        }
        for (bad, says) in [
            ("huggingface.co", "must start with https://"),
            ("ftp://x", "must start with https://"),
            ("https://user:pw@huggingface.co", "credentials"),
            ("https://huggingface.co/?x=1", "query"),
            ("https://", "no host"),
            ("https://h:0", "port"),
            ("https://h:99999", "port"),
        ] {
            let e = HubEndpoint::new(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }
}
