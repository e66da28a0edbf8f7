//! Sentence pooling over token states, as sentence-transformers' `Pooling` module does it.

use std::path::Path;

use candle_core::{D, DType, IndexOp, Tensor};
use serde::Deserialize;

/// How token states become one sentence vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Pooling {
    /// Mean of the non-padding token states (the default when no pooling config exists).
    Mean,
    /// The state of the first (`[CLS]`) token.
    Cls,
    /// Element-wise maximum over the non-padding token states.
    Max,
    /// Sum of the token states divided by the square root of the token count.
    MeanSqrtLen,
}

/// `1_Pooling/config.json` as written by sentence-transformers.
#[derive(Debug, Deserialize)]
struct PoolingConfig {
    #[serde(default)]
    pooling_mode_cls_token: bool,
    #[serde(default)]
    pooling_mode_mean_tokens: bool,
    #[serde(default)]
    pooling_mode_max_tokens: bool,
    #[serde(default)]
    pooling_mode_mean_sqrt_len_tokens: bool,
    #[serde(default)]
    pooling_mode_weightedmean_tokens: bool,
    #[serde(default)]
    pooling_mode_lasttoken: bool,
    #[serde(default = "yes")]
    include_prompt: bool,
}

fn yes() -> bool {
    true
}

/// Why a pooling configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum PoolingError {
    /// The file exists but could not be read.
    #[error("failed to read {path}: {source}")]
    Read {
        /// File read.
        path: String,
        /// Underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not the JSON sentence-transformers writes.
    #[error("failed to parse {path}: {source}")]
    Parse {
        /// File parsed.
        path: String,
        /// Underlying error.
        #[source]
        source: serde_json::Error,
    },
    /// A mode or option sentence-transformers has and this server does not.
    #[error("{path}: {what} is not supported (mean, cls, max and mean_sqrt_len are)")]
    Unsupported {
        /// File parsed.
        path: String,
        /// The mode or option.
        what: &'static str,
    },
    /// Zero or several modes are switched on; one output vector needs exactly one.
    #[error("{path} must enable exactly one pooling mode")]
    Ambiguous {
        /// File parsed.
        path: String,
    },
}

impl Pooling {
    /// Reads `<dir>/config.json`, the pooling module's folder (`1_Pooling` unless
    /// `modules.json` says otherwise); without it BERT models use mean pooling.
    ///
    /// # Errors
    /// The file exists but is unreadable, malformed, names zero or several modes, or one
    /// this server does not run.
    pub fn from_folder(dir: &Path) -> Result<Pooling, PoolingError> {
        let path = dir.join("config.json");
        let shown = path.display().to_string();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Pooling::Mean),
            Err(source) => {
                return Err(PoolingError::Read {
                    path: shown,
                    source,
                });
            }
        };
        let c: PoolingConfig =
            serde_json::from_str(&text).map_err(|source| PoolingError::Parse {
                path: shown.clone(),
                source,
            })?;
        let unsupported = [
            (
                c.pooling_mode_weightedmean_tokens,
                "pooling_mode_weightedmean_tokens",
            ),
            (c.pooling_mode_lasttoken, "pooling_mode_lasttoken"),
            (!c.include_prompt, "include_prompt: false"),
        ];
        if let Some((_, what)) = unsupported.into_iter().find(|(on, _)| *on) {
            return Err(PoolingError::Unsupported { path: shown, what });
        }
        let modes = [
            (c.pooling_mode_mean_tokens, Pooling::Mean),
            (c.pooling_mode_cls_token, Pooling::Cls),
            (c.pooling_mode_max_tokens, Pooling::Max),
            (c.pooling_mode_mean_sqrt_len_tokens, Pooling::MeanSqrtLen),
        ];
        let mut on = modes.iter().filter(|(on, _)| *on).map(|(_, p)| *p);
        match (on.next(), on.next()) {
            (Some(p), None) => Ok(p),
            _ => Err(PoolingError::Ambiguous { path: shown }),
        }
    }

    /// Pools `hidden` `(batch, seq, hidden)` under `mask` `(batch, seq)` (1 for real
    /// tokens, 0 for padding) into `(batch, hidden)`.
    ///
    /// # Errors
    /// A tensor operation failed (shapes that do not match).
    pub fn apply(self, hidden: &Tensor, mask: &Tensor) -> candle_core::Result<Tensor> {
        let mask = mask.to_dtype(DType::F32)?.unsqueeze(D::Minus1)?;
        match self {
            Pooling::Cls => hidden.i((.., 0)),
            Pooling::Mean | Pooling::MeanSqrtLen => {
                let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
                let count = mask.sum(1)?.clamp(1e-9f32, f32::MAX)?;
                let count = if self == Pooling::Mean {
                    count
                } else {
                    count.sqrt()?
                };
                summed.broadcast_div(&count)
            }
            Pooling::Max => {
                // Padding gets a very negative value so it never wins the maximum.
                let penalty = ((mask.ones_like()? - &mask)? * -1e9f64)?;
                hidden.broadcast_add(&penalty)?.max(1)
            }
        }
    }
}

impl Pooling {
    /// Pools the token states of one sequence, `rows` of `hidden` values each (no
    /// padding), into one vector. An empty sequence gives zeros.
    #[must_use]
    pub fn pool(self, rows: &[f32], hidden: usize) -> Vec<f32> {
        let n = rows.len() / hidden.max(1);
        if n == 0 {
            return vec![0.0; hidden];
        }
        let mut out = rows[..hidden].to_vec();
        match self {
            Pooling::Cls => {}
            Pooling::Mean | Pooling::MeanSqrtLen => {
                for row in rows.chunks_exact(hidden).skip(1) {
                    out.iter_mut().zip(row).for_each(|(o, x)| *o += x);
                }
                #[allow(clippy::cast_precision_loss)]
                let n = n as f32;
                let div = if self == Pooling::Mean { n } else { n.sqrt() };
                out.iter_mut().for_each(|o| *o /= div);
            }
            Pooling::Max => {
                for row in rows.chunks_exact(hidden).skip(1) {
                    out.iter_mut().zip(row).for_each(|(o, x)| *o = o.max(*x));
                }
            }
        }
        out
    }
}

/// Scales `v` to unit L2 length (a zero vector stays zero).
pub fn l2_normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

#[cfg(test)]
mod tests {
    use candle_core::Device;

    use super::*;

    fn hidden() -> (Tensor, Tensor) {
        // One sequence of 3 tokens, the last one padding; hidden size 2.
        let h = Tensor::new(&[[[1f32, 2.], [3., 6.], [100., -100.]]], &Device::Cpu).unwrap();
        let m = Tensor::new(&[[1u32, 1, 0]], &Device::Cpu).unwrap();
        (h, m)
    }

    #[test]
    fn pooling_modes_ignore_padding() {
        let (h, m) = hidden();
        let get = |p: Pooling| p.apply(&h, &m).unwrap().to_vec2::<f32>().unwrap();
        assert_eq!(get(Pooling::Mean), vec![vec![2., 4.]]);
        assert_eq!(get(Pooling::Cls), vec![vec![1., 2.]]);
        assert_eq!(get(Pooling::Max), vec![vec![3., 6.]]);
        let s = get(Pooling::MeanSqrtLen);
        assert!((s[0][0] - 4. / 2f32.sqrt()).abs() < 1e-6, "{s:?}");
    }

    #[test]
    fn pooling_rows_matches_pooling_tensors() {
        let (h, m) = hidden();
        let rows = [1f32, 2., 3., 6.];
        for p in [
            Pooling::Mean,
            Pooling::Cls,
            Pooling::Max,
            Pooling::MeanSqrtLen,
        ] {
            let want = p.apply(&h, &m).unwrap().to_vec2::<f32>().unwrap();
            assert_eq!(p.pool(&rows, 2), want[0], "{p:?}");
        }
        assert_eq!(Pooling::Mean.pool(&[], 2), vec![0., 0.]);
    }

    #[test]
    fn pooling_config_is_read_and_defaults_to_mean() {
        let dir = tempfile::tempdir().unwrap();
        let pooling = dir.path().join("1_Pooling");
        assert_eq!(Pooling::from_folder(&pooling).unwrap(), Pooling::Mean);
        std::fs::create_dir(&pooling).unwrap();
        let file = pooling.join("config.json");
        std::fs::write(&file, r#"{"pooling_mode_cls_token": true}"#).unwrap();
        assert_eq!(Pooling::from_folder(&pooling).unwrap(), Pooling::Cls);
        std::fs::write(
            &file,
            r#"{"pooling_mode_cls_token": true, "pooling_mode_mean_tokens": true}"#,
        )
        .unwrap();
        let err = Pooling::from_folder(&pooling).unwrap_err().to_string();
        assert!(err.contains("exactly one"), "{err}");
        for (text, what) in [
            (
                r#"{"pooling_mode_lasttoken": true}"#,
                "pooling_mode_lasttoken",
            ),
            (
                r#"{"pooling_mode_mean_tokens": true, "include_prompt": false}"#,
                "include_prompt: false",
            ),
        ] {
            std::fs::write(&file, text).unwrap();
            let err = Pooling::from_folder(&pooling).unwrap_err().to_string();
            assert!(err.contains(what) && err.contains("not supported"), "{err}");
        }
    }

    #[test]
    fn normalize_gives_unit_length() {
        let mut v = vec![3f32, 4.];
        l2_normalize(&mut v);
        assert_eq!(v, vec![0.6, 0.8]);
        let mut z = vec![0f32; 3];
        l2_normalize(&mut z);
        assert_eq!(z, vec![0.; 3]);
    }
}
