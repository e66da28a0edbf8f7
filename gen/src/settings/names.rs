//! Names that Kubernetes constrains (DNS-1123 labels and subdomains, hosts, CIDRs),
//! checked when the environment file is read rather than when the API server refuses them.

use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An RFC 1123 label: at most 63 lowercase letters, digits and `-`, starting and ending with
/// a letter or digit. Namespaces and most object names must be one.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DnsLabel(String);

/// An RFC 1123 subdomain: dot-separated labels, at most 253 characters (Secret and
/// IngressClass names, hosts).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DnsSubdomain(String);

/// An Ingress host: a DNS-1123 subdomain, optionally starting with `*.`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Host(String);

/// An environment variable name: letters, digits and `_`, not starting with a digit.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EnvVarName(String);

/// A key inside a Secret or ConfigMap: letters, digits, `-`, `_` and `.`, at most 253.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SecretKey(String);

/// An IP block in CIDR notation, e.g. `10.0.0.0/8`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cidr(String);

fn check_label(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("is empty".into());
    }
    if s.len() > 63 {
        return Err(format!(
            "is {} characters long; at most 63 are allowed",
            s.len()
        ));
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Err(format!(
            "contains `{c}`; only lowercase letters, digits and `-` are allowed"
        ));
    }
    if s.starts_with('-') || s.ends_with('-') {
        return Err("must start and end with a letter or digit".into());
    }
    Ok(())
}

fn check_subdomain(s: &str) -> Result<(), String> {
    if s.len() > 253 {
        return Err(format!(
            "is {} characters long; at most 253 are allowed",
            s.len()
        ));
    }
    s.split('.').try_for_each(|label| {
        check_label(label).map_err(|e| format!("has a part `{label}` that {e}"))
    })
}

impl DnsLabel {
    /// Checks `s` and wraps it.
    ///
    /// # Errors
    /// Why `s` is not a DNS-1123 label.
    pub fn new(s: impl Into<String>) -> Result<DnsLabel, String> {
        let s = s.into();
        check_label(&s).map_err(|e| format!("`{s}` is not a valid DNS-1123 label: it {e}"))?;
        Ok(DnsLabel(s))
    }

    /// The name.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl DnsSubdomain {
    /// Checks `s` and wraps it.
    ///
    /// # Errors
    /// Why `s` is not a DNS-1123 subdomain.
    pub fn new(s: impl Into<String>) -> Result<DnsSubdomain, String> {
        let s = s.into();
        check_subdomain(&s)
            .map_err(|e| format!("`{s}` is not a valid DNS-1123 subdomain: it {e}"))?;
        Ok(DnsSubdomain(s))
    }

    /// The name.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Host {
    /// Checks `s` and wraps it.
    ///
    /// # Errors
    /// Why `s` is not a host an Ingress accepts.
    pub fn new(s: impl Into<String>) -> Result<Host, String> {
        let s = s.into();
        let rest = s.strip_prefix("*.").unwrap_or(&s);
        if rest.parse::<IpAddr>().is_ok() {
            return Err(format!(
                "`{s}` is an IP address; an Ingress host must be a DNS name"
            ));
        }
        check_subdomain(rest).map_err(|e| format!("`{s}` is not a valid host: it {e}"))?;
        Ok(Host(s))
    }

    /// The host.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Cidr {
    /// Checks `s` and wraps it.
    ///
    /// # Errors
    /// Why `s` is not an IP block.
    pub fn new(s: impl Into<String>) -> Result<Cidr, String> {
        let s = s.into();
        let bad = || format!("`{s}` is not a CIDR block such as `10.0.0.0/8`");
        let (ip, bits) = s.split_once('/').ok_or_else(bad)?;
        let ip: IpAddr = ip.parse().map_err(|_| bad())?;
        let bits: u8 = bits.parse().map_err(|_| bad())?;
        let max = if ip.is_ipv4() { 32 } else { 128 };
        if bits > max {
            return Err(format!("`{s}` has a prefix longer than {max} bits"));
        }
        Ok(Cidr(s))
    }

    /// The block.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl EnvVarName {
    /// Checks `s` and wraps it.
    ///
    /// # Errors
    /// Why `s` is not a portable environment variable name.
    pub fn new(s: impl Into<String>) -> Result<EnvVarName, String> {
        let s = s.into();
        let ok = !s.is_empty()
            && !s.starts_with(|c: char| c.is_ascii_digit())
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok {
            return Err(format!(
                "`{s}` is not an environment variable name: use letters, digits and `_`, not starting with a digit"
            ));
        }
        Ok(EnvVarName(s))
    }

    /// The name.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl SecretKey {
    /// Checks `s` and wraps it.
    ///
    /// # Errors
    /// Why `s` is not a valid key.
    pub fn new(s: impl Into<String>) -> Result<SecretKey, String> {
        let s = s.into();
        let ok = !s.is_empty()
            && s.len() <= 253
            && s != "."
            && s != ".."
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if !ok {
            return Err(format!(
                "`{s}` is not a valid Secret key: use letters, digits, `-`, `_` and `.`"
            ));
        }
        Ok(SecretKey(s))
    }

    /// The key.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Display, serde and schema for a checked string newtype whose `new` validates.
macro_rules! string_newtype {
    ($ty:ident, $description:literal, $schema:tt) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                $ty::new(String::deserialize(d)?).map_err(serde::de::Error::custom)
            }
        }

        impl JsonSchema for $ty {
            fn schema_name() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($ty))
            }

            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                let mut schema = json_schema!($schema);
                schema.insert("description".into(), $description.into());
                schema
            }
        }
    };
}

pub(crate) use string_newtype;

string_newtype!(
    DnsLabel,
    "A DNS-1123 label: lowercase letters, digits and `-`, at most 63 characters.",
    { "type": "string", "maxLength": 63, "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$" }
);
string_newtype!(
    DnsSubdomain,
    "A DNS-1123 subdomain: dot-separated DNS-1123 labels, at most 253 characters.",
    { "type": "string", "maxLength": 253, "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$" }
);
string_newtype!(
    Host,
    "A DNS name for an Ingress rule, optionally a wildcard (`*.example.com`).",
    { "type": "string", "maxLength": 253, "pattern": "^(\\*\\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$" }
);
string_newtype!(
    EnvVarName,
    "An environment variable name: letters, digits and `_`, not starting with a digit.",
    { "type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$" }
);
string_newtype!(
    SecretKey,
    "A key of a Secret: letters, digits, `-`, `_` and `.`.",
    { "type": "string", "maxLength": 253, "pattern": "^[-._a-zA-Z0-9]+$" }
);
string_newtype!(
    Cidr,
    "An IP block in CIDR notation, e.g. `10.0.0.0/8` or `0.0.0.0/0`.",
    { "type": "string", "pattern": "^[0-9a-fA-F:.]+/[0-9]{1,3}$" }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_follow_rfc_1123() {
        for good in ["a", "akidb-prod", "x1", &"a".repeat(63)] {
            assert!(DnsLabel::new(good).is_ok(), "{good}");
        }
        for bad in ["", "-a", "a-", "A", "a_b", "a.b", &"a".repeat(64)] {
            assert!(DnsLabel::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn subdomains_and_hosts() {
        assert!(DnsSubdomain::new("letsencrypt-prod").is_ok());
        assert!(DnsSubdomain::new("a.b-c.d").is_ok());
        assert!(DnsSubdomain::new("a..b").is_err());
        assert!(Host::new("embed.example.com").is_ok());
        assert!(Host::new("*.example.com").is_ok());
        assert!(Host::new("").is_err());
        assert!(Host::new("10.0.0.1").is_err());
        assert!(Host::new("Example.com").is_err());
    }

    #[test]
    fn cidrs() {
        assert!(Cidr::new("0.0.0.0/0").is_ok());
        assert!(Cidr::new("fd00::/8").is_ok());
        assert!(Cidr::new("10.0.0.0/33").is_err());
        assert!(Cidr::new("10.0.0.0").is_err());
    }
}
