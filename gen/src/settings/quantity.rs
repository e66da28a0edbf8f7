//! Typed CPU and memory quantities, parsed from Kubernetes notation and compared by value.
//!
//! Strings such as `500m` or `2Gi` are checked when the environment file is read, so a
//! malformed quantity never reaches the API server, and `512m` of memory (half a byte
//! per thousand, a classic typo for `512Mi`) is refused with a hint.

use std::borrow::Cow;
use std::fmt;

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A CPU amount in millicores: `250m`, `1`, `1.5`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cpu {
    millis: u64,
}

impl Cpu {
    /// A CPU amount of `millis` thousandths of a core.
    #[must_use]
    pub const fn from_millis(millis: u64) -> Cpu {
        Cpu { millis }
    }

    /// Thousandths of a core.
    #[must_use]
    pub const fn millis(self) -> u64 {
        self.millis
    }

    /// Whole cores, rounded up, at least 1: the thread count this much CPU can keep busy.
    #[must_use]
    pub const fn whole_cores_rounded_up(self) -> u64 {
        let cores = self.millis.div_ceil(1000);
        if cores == 0 { 1 } else { cores }
    }

    /// The Kubernetes quantity, in canonical form (`2`, `500m`).
    #[must_use]
    pub fn to_quantity(self) -> Quantity {
        Quantity(self.to_string())
    }

    /// Parses `500m`, `2`, `0.5` or `1.25`.
    ///
    /// # Errors
    /// A message naming what is wrong and showing the accepted forms.
    pub fn parse(text: &str) -> Result<Cpu, String> {
        let hint = "use whole or fractional cores (`2`, `0.5`) or millicores (`500m`)";
        let millis = if let Some(m) = text.strip_suffix('m') {
            parse_digits(m).ok_or_else(|| format!("`{text}` is not a CPU quantity: {hint}"))?
        } else {
            parse_decimal(text, 3)
                .ok_or_else(|| format!("`{text}` is not a CPU quantity: {hint}"))?
        };
        if millis == 0 {
            return Err(format!(
                "CPU quantity `{text}` is zero; it must be at least `1m`"
            ));
        }
        Ok(Cpu { millis })
    }
}

impl fmt::Display for Cpu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.millis % 1000 == 0 {
            write!(f, "{}", self.millis / 1000)
        } else {
            write!(f, "{}m", self.millis)
        }
    }
}

/// A memory or storage size in bytes, written with a Kubernetes suffix: `512Mi`, `2Gi`, `1G`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Bytes {
    amount: u64,
    unit: Unit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Unit {
    B,
    Ki,
    Mi,
    Gi,
    Ti,
    Pi,
    K,
    M,
    G,
    T,
    P,
}

const UNITS: [(Unit, &str, u64); 11] = [
    (Unit::Ki, "Ki", 1 << 10),
    (Unit::Mi, "Mi", 1 << 20),
    (Unit::Gi, "Gi", 1 << 30),
    (Unit::Ti, "Ti", 1 << 40),
    (Unit::Pi, "Pi", 1 << 50),
    (Unit::K, "k", 1_000),
    (Unit::M, "M", 1_000_000),
    (Unit::G, "G", 1_000_000_000),
    (Unit::T, "T", 1_000_000_000_000),
    (Unit::P, "P", 1_000_000_000_000_000),
    (Unit::B, "", 1),
];

impl Unit {
    fn suffix_and_factor(self) -> (&'static str, u64) {
        UNITS
            .iter()
            .find(|(u, _, _)| *u == self)
            .map(|(_, s, f)| (*s, *f))
            .unwrap_or(("", 1))
    }
}

impl Bytes {
    /// `n` mebibytes.
    #[must_use]
    pub const fn mebibytes(n: u64) -> Bytes {
        Bytes {
            amount: n,
            unit: Unit::Mi,
        }
    }

    /// `n` gibibytes.
    #[must_use]
    pub const fn gibibytes(n: u64) -> Bytes {
        Bytes {
            amount: n,
            unit: Unit::Gi,
        }
    }

    /// The size in bytes.
    #[must_use]
    pub fn bytes(self) -> u64 {
        self.amount.saturating_mul(self.unit.suffix_and_factor().1)
    }

    /// The Kubernetes quantity, written as it was given (`2Gi` stays `2Gi`).
    #[must_use]
    pub fn to_quantity(self) -> Quantity {
        Quantity(self.to_string())
    }

    /// Parses `1073741824`, `512Mi`, `2Gi`, `1G`, `500M`.
    ///
    /// # Errors
    /// A message naming what is wrong; `512m` gets a hint that `m` means thousandths.
    pub fn parse(text: &str) -> Result<Bytes, String> {
        if let Some(n) = text.strip_suffix('m') {
            return Err(format!(
                "`{text}` means {n} thousandths of a byte: write `{n}Mi` (mebibytes) or `{n}M` (megabytes)"
            ));
        }
        let (unit, digits) = UNITS
            .iter()
            .find_map(|(u, s, _)| {
                text.strip_suffix(s)
                    .filter(|d| !s.is_empty() || !d.is_empty())
                    .map(|d| (*u, d))
            })
            .ok_or_else(|| format!("`{text}` is not a size"))?;
        let amount = parse_digits(digits).ok_or_else(|| {
            format!("`{text}` is not a size: write a whole number with an optional suffix (Ki, Mi, Gi, Ti, k, M, G, T), e.g. `512Mi`")
        })?;
        if amount == 0 {
            return Err(format!("size `{text}` is zero"));
        }
        let bytes = Bytes { amount, unit };
        if amount.checked_mul(unit.suffix_and_factor().1).is_none() {
            return Err(format!("size `{text}` is too large"));
        }
        Ok(bytes)
    }
}

impl PartialOrd for Bytes {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.bytes().cmp(&other.bytes()))
    }
}

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.amount, self.unit.suffix_and_factor().0)
    }
}

/// `123` -> 123; rejects signs, blanks and anything but ASCII digits.
fn parse_digits(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `1.25` with `scale` 3 -> 1250; at most `scale` fraction digits.
fn parse_decimal(s: &str, scale: u32) -> Option<u64> {
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if frac.len() > scale as usize
        || (whole.is_empty() && frac.is_empty())
        || (s.contains('.') && frac.is_empty())
    {
        return None;
    }
    let whole = if whole.is_empty() {
        0
    } else {
        parse_digits(whole)?
    };
    let frac_value = if frac.is_empty() {
        0
    } else {
        parse_digits(frac)?
    };
    let pad = 10u64.pow(scale - u32::try_from(frac.len()).ok()?);
    whole
        .checked_mul(10u64.pow(scale))?
        .checked_add(frac_value * pad)
}

/// YAML writes `cpu: 2` as a number and `cpu: 500m` as text; both are read as the text
/// of the quantity. Anything else is refused in words a reader of the file knows.
struct QuantityText;

impl serde::de::Visitor<'_> for QuantityText {
    type Value = String;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a quantity: a number, or text such as `500m` or `4Gi`")
    }

    fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<String, E> {
        Ok(n.to_string())
    }

    fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<String, E> {
        Ok(n.to_string())
    }

    fn visit_f64<E: serde::de::Error>(self, x: f64) -> Result<String, E> {
        Ok(x.to_string())
    }

    fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<String, E> {
        Ok(s.to_owned())
    }
}

macro_rules! quantity_serde {
    ($ty:ty, $name:literal, $pattern:literal, $description:literal) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = d.deserialize_any(QuantityText)?;
                <$ty>::parse(text.trim()).map_err(serde::de::Error::custom)
            }
        }

        impl JsonSchema for $ty {
            fn schema_name() -> Cow<'static, str> {
                Cow::Borrowed($name)
            }

            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!({
                    "description": $description,
                    "anyOf": [
                        { "type": "string", "pattern": $pattern },
                        { "type": "number", "exclusiveMinimum": 0 }
                    ]
                })
            }
        }
    };
}

quantity_serde!(
    Cpu,
    "Cpu",
    "^([0-9]+m|[0-9]+(\\.[0-9]{1,3})?|\\.[0-9]{1,3})$",
    "CPU: cores (`2`, `0.5`) or millicores (`500m`)."
);
quantity_serde!(
    Bytes,
    "Bytes",
    "^[0-9]+(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$",
    "A size: bytes with an optional suffix, e.g. `512Mi`, `2Gi`, `10G`."
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_accepts_kubernetes_forms_and_prints_canonically() {
        for (text, millis, shown) in [
            ("500m", 500, "500m"),
            ("2", 2000, "2"),
            ("1.5", 1500, "1500m"),
            ("0.25", 250, "250m"),
            ("2000m", 2000, "2"),
        ] {
            let cpu = Cpu::parse(text).unwrap();
            assert_eq!(
                (cpu.millis(), cpu.to_string().as_str()),
                (millis, shown),
                "{text}"
            );
        }
    }

    #[test]
    fn cpu_rejects_malformed_values() {
        for bad in ["", "m", "2x", "-1", "1.2345", "0", "0m", "1.", "1e3", " 2"] {
            assert!(Cpu::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn threads_round_up_and_never_reach_zero() {
        assert_eq!(Cpu::from_millis(1).whole_cores_rounded_up(), 1);
        assert_eq!(Cpu::from_millis(1000).whole_cores_rounded_up(), 1);
        assert_eq!(Cpu::from_millis(1001).whole_cores_rounded_up(), 2);
        assert_eq!(Cpu::from_millis(2500).whole_cores_rounded_up(), 3);
    }

    #[test]
    fn bytes_parse_binary_and_decimal_suffixes() {
        assert_eq!(Bytes::parse("512Mi").unwrap().bytes(), 512 << 20);
        assert_eq!(Bytes::parse("2Gi").unwrap().bytes(), 2 << 30);
        assert_eq!(Bytes::parse("1G").unwrap().bytes(), 1_000_000_000);
        assert_eq!(Bytes::parse("1024").unwrap().bytes(), 1024);
        assert_eq!(Bytes::parse("10Gi").unwrap().to_string(), "10Gi");
        assert!(Bytes::parse("1Gi").unwrap() > Bytes::parse("1G").unwrap());
    }

    #[test]
    fn bytes_reject_malformed_values_with_hints() {
        let err = Bytes::parse("512m").unwrap_err();
        assert!(err.contains("512Mi"), "{err}");
        for bad in [
            "",
            "Gi",
            "1.5Gi",
            "2GB",
            "-1Gi",
            "0",
            "1gi",
            "99999999999Pi",
        ] {
            assert!(Bytes::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
