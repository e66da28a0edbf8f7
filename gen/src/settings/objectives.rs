//! Service level objectives of embedding requests: the thresholds the latency and error
//! alerts fire at. Typed settings, so an environment file can carry them as they are.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What an environment promises its clients about embedding requests (`/api/v1/embed`,
/// `/v1/embeddings`; probes and `/metrics` are not counted).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Objectives {
    /// Latency at a quantile over 5 minutes. Default: 99 % within 1 s.
    pub latency: LatencyObjective,
    /// Highest share of requests answered 5xx over 5 minutes, between 0 and 1
    /// (0.01 = 1 %). Default `0.01`.
    pub error_ratio: f64,
}

impl Default for Objectives {
    fn default() -> Self {
        Objectives {
            latency: LatencyObjective::default(),
            error_ratio: 0.01,
        }
    }
}

/// "`quantile` of requests finish within `seconds`".
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct LatencyObjective {
    /// Share of requests the bound holds for, between 0 and 1 (0.99 = p99). Default `0.99`.
    pub quantile: f64,
    /// The bound, in seconds. Default `1.0`.
    pub seconds: f64,
}

impl Default for LatencyObjective {
    fn default() -> Self {
        LatencyObjective {
            quantile: 0.99,
            seconds: 1.0,
        }
    }
}

impl LatencyObjective {
    /// The quantile as a percentile: `99`, `99.9`, `50`.
    #[must_use]
    pub fn percentile(&self) -> String {
        percentile(self.quantile)
    }
}

/// A quantile as a percentile, without float noise: 0.999 -> `99.9`, 0.5 -> `50`.
#[must_use]
pub fn percentile(quantile: f64) -> String {
    let p = format!("{:.3}", quantile * 100.0);
    p.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// An objective no alert could honour.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ObjectiveError {
    /// A share outside (0, 1).
    #[error("the {what} is {value}; it must lie between 0 and 1, exclusive (e.g. {example})")]
    NotAShare {
        /// Which setting, in words.
        what: &'static str,
        /// What was given.
        value: f64,
        /// A sensible value.
        example: &'static str,
    },
    /// A latency bound that is zero, negative or not a number.
    #[error("the latency objective is {0} s; it must be a positive number of seconds (e.g. 0.5)")]
    NotPositive(f64),
    /// A latency bound the server's histogram cannot resolve.
    #[error(
        "the latency objective is {seconds} s, above the largest latency bucket the server \
         exports ({largest} s): a quantile that high reads as {largest} s, so the alert could \
         never fire; choose at most {largest} s"
    )]
    AboveBuckets {
        /// What was given.
        seconds: f64,
        /// The largest finite bucket of the request latency histogram.
        largest: f64,
    },
}

fn share(what: &'static str, value: f64, example: &'static str) -> Result<(), ObjectiveError> {
    if value > 0.0 && value < 1.0 {
        Ok(())
    } else {
        Err(ObjectiveError::NotAShare {
            what,
            value,
            example,
        })
    }
}

impl Objectives {
    /// Refuses objectives no alert could honour.
    ///
    /// # Errors
    /// A quantile or error ratio outside (0, 1), or a latency that is not positive or lies
    /// above the server's largest latency bucket.
    pub fn check(&self) -> Result<(), ObjectiveError> {
        share("latency quantile", self.latency.quantile, "0.99")?;
        share("error ratio objective", self.error_ratio, "0.01")?;
        let seconds = self.latency.seconds;
        if !(seconds > 0.0 && seconds.is_finite()) {
            return Err(ObjectiveError::NotPositive(seconds));
        }
        let largest = app::metrics::HTTP_REQUEST_DURATION.largest_bucket();
        if seconds > largest {
            return Err(ObjectiveError::AboveBuckets { seconds, largest });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        Objectives::default().check().unwrap();
        assert_eq!(Objectives::default().latency.percentile(), "99");
    }

    #[test]
    fn percentiles_drop_trailing_zeros() {
        let p = |quantile| {
            LatencyObjective {
                quantile,
                seconds: 1.0,
            }
            .percentile()
        };
        assert_eq!(p(0.999), "99.9");
        assert_eq!(p(0.5), "50");
    }

    #[test]
    fn impossible_objectives_are_refused_in_words() {
        let mut o = Objectives::default();
        o.latency.quantile = 1.0;
        assert_eq!(
            o.check().unwrap_err().to_string(),
            "the latency quantile is 1; it must lie between 0 and 1, exclusive (e.g. 0.99)"
        );
        let o = Objectives {
            error_ratio: 0.0,
            ..Objectives::default()
        };
        assert!(o.check().unwrap_err().to_string().contains("error ratio"));
        let mut o = Objectives::default();
        o.latency.seconds = f64::NAN;
        assert!(matches!(o.check(), Err(ObjectiveError::NotPositive(_))));
        o.latency.seconds = 60.0;
        assert_eq!(
            o.check().unwrap_err(),
            ObjectiveError::AboveBuckets {
                seconds: 60.0,
                largest: 30.0
            }
        );
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = serde_json::from_str::<Objectives>(r#"{"latency": {"p": 0.9}}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field `p`"), "{err}");
    }
}
