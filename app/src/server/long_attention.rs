//! Attention of a long sequence through matrix products.
//!
//! [`super::kernels::attention`] walks each query over every key with dot products of
//! one head's width (32 for MiniLM): cheap for the short sentences most requests carry,
//! but at 256 tokens it took 41% of a pass (perf, batches of 8 such texts), next to 49%
//! for all the dense layers' products. Here the scores of every head are one batched
//! product `Q Kᵀ`, the softmax runs over whole rows, and the context is one more product
//! `P V`, both through candle's gemm, which blocks them for the caches and the vector
//! units.

use candle_core::{Device, Tensor};

use super::kernels;

/// Sequences at least this long take the product path. Below it, building the
/// per-head matrices costs more than the products save (a sentence is 10-20 tokens).
pub const MIN_TOKENS: usize = 48;

/// Context rows of one sequence: `qkv` rows `first..first + len` (query, key, value of
/// width `h` each, without `bias`), `heads` heads, scores scaled by `scale`; written
/// into `out`, `len` rows of `h`.
///
/// # Errors
/// A tensor operation failed.
#[allow(clippy::too_many_arguments)]
pub fn attend(
    qkv: &[f32],
    bias: &[f32],
    heads: usize,
    h: usize,
    scale: f32,
    out: &mut [f32],
    first: usize,
    len: usize,
) -> candle_core::Result<()> {
    let d = h / heads;
    // Head-major copies: (heads, len, d), with the bias added (and the query scaled).
    let mut q = vec![0f32; heads * len * d];
    let mut k = vec![0f32; heads * len * d];
    let mut v = vec![0f32; heads * len * d];
    for t in 0..len {
        let row = &qkv[(first + t) * 3 * h..(first + t + 1) * 3 * h];
        for head in 0..heads {
            let at = (head * len + t) * d;
            for (part, dst) in [&mut q, &mut k, &mut v].into_iter().enumerate() {
                let from = part * h + head * d;
                for ((o, x), b) in dst[at..at + d]
                    .iter_mut()
                    .zip(&row[from..from + d])
                    .zip(&bias[from..from + d])
                {
                    *o = x + b;
                }
            }
            q[at..at + d].iter_mut().for_each(|x| *x *= scale);
        }
    }
    let cpu = Device::Cpu;
    let q = Tensor::from_vec(q, (heads, len, d), &cpu)?;
    let k = Tensor::from_vec(k, (heads, len, d), &cpu)?;
    let v = Tensor::from_vec(v, (heads, len, d), &cpu)?;
    let mut p = q.matmul(&k.t()?)?.flatten_all()?.to_vec1::<f32>()?;
    kernels::softmax_rows(&mut p, len);
    let p = Tensor::from_vec(p, (heads, len, len), &cpu)?;
    let ctx = p.matmul(&v)?.flatten_all()?.to_vec1::<f32>()?;
    for head in 0..heads {
        for t in 0..len {
            let src = (head * len + t) * d;
            out[t * h + head * d..t * h + (head + 1) * d].copy_from_slice(&ctx[src..src + d]);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use candle_core::{Device, Tensor};

    use super::{MIN_TOKENS, attend};
    use crate::server::kernels::softmax_rows;
    use crate::server::test_numbers::numbers;

    fn worst(a: &[f32], b: &[f64]) -> f64 {
        a.iter()
            .zip(b)
            .map(|(a, b)| (f64::from(*a) - b).abs())
            .map(|d| if d.is_nan() { f64::INFINITY } else { d })
            .fold(0.0, f64::max)
    }

    /// Softmax of one row in f64.
    fn softmax(row: &[f64]) -> Vec<f64> {
        let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = row.iter().map(|x| (x - max).exp()).collect();
        let sum: f64 = e.iter().sum();
        e.iter().map(|x| x / sum).collect()
    }

    // These run on whatever vector instructions the CPU has, including the AVX-512
    // products of candle's gemm (`make test-avx512` runs them on an emulated one): the
    // long path is the only user of those, and only texts of 48 tokens or more reach it.

    #[test]
    fn batched_products_match_plain_ones_at_a_long_texts_shapes() {
        // MiniLM at 256 tokens: 12 heads, P (256 x 256) times V (256 x 32), and Q Kᵀ.
        let (heads, len, d) = (12, 256, 32);
        for (rows, inner, cols) in [(len, len, d), (len, d, len)] {
            let a = numbers(heads * rows * inner, 1);
            let b = numbers(heads * inner * cols, 2);
            let cpu = Device::Cpu;
            let got = Tensor::from_vec(a.clone(), (heads, rows, inner), &cpu)
                .and_then(|x| x.matmul(&Tensor::from_vec(b.clone(), (heads, inner, cols), &cpu)?))
                .and_then(|y| y.flatten_all()?.to_vec1::<f32>())
                .unwrap();
            let mut want = vec![0f64; heads * rows * cols];
            for hd in 0..heads {
                for r in 0..rows {
                    for k in 0..inner {
                        let x = f64::from(a[(hd * rows + r) * inner + k]);
                        for c in 0..cols {
                            want[(hd * rows + r) * cols + c] +=
                                x * f64::from(b[(hd * inner + k) * cols + c]);
                        }
                    }
                }
            }
            let off = worst(&got, &want);
            assert!(off < 1e-4, "{rows}x{inner} @ {inner}x{cols}: off by {off}");
        }
    }

    #[test]
    fn softmax_rows_match_a_plain_softmax_for_long_rows() {
        for len in [MIN_TOKENS, 256, 257] {
            let mut p: Vec<f32> = numbers(3 * len, 3).iter().map(|x| 20.0 * x).collect();
            let want: Vec<f64> = p
                .chunks(len)
                .flat_map(|r| softmax(&r.iter().map(|x| f64::from(*x)).collect::<Vec<_>>()))
                .collect();
            softmax_rows(&mut p, len);
            let off = worst(&p, &want);
            assert!(off < 1e-6, "rows of {len}: off by {off}");
        }
    }

    #[test]
    fn long_attention_matches_a_plain_one() {
        let (heads, h) = (12, 384);
        let d = h / heads;
        for len in [MIN_TOKENS, 256] {
            let first = 5;
            let qkv = numbers((first + len) * 3 * h, 4);
            let bias = numbers(3 * h, 5);
            #[allow(clippy::cast_precision_loss)]
            let scale = 1.0 / (d as f32).sqrt();
            let mut got = vec![f32::NAN; len * h];
            attend(&qkv, &bias, heads, h, scale, &mut got, first, len).unwrap();
            let at = |t: usize, part: usize, i: usize| {
                f64::from(qkv[(first + t) * 3 * h + part * h + i]) + f64::from(bias[part * h + i])
            };
            let mut want = vec![0f64; len * h];
            for head in 0..heads {
                for i in 0..len {
                    let scores: Vec<f64> = (0..len)
                        .map(|j| {
                            (0..d)
                                .map(|c| at(i, 0, head * d + c) * at(j, 1, head * d + c))
                                .sum::<f64>()
                                * f64::from(scale)
                        })
                        .collect();
                    for (j, w) in softmax(&scores).into_iter().enumerate() {
                        for c in 0..d {
                            want[i * h + head * d + c] += w * at(j, 2, head * d + c);
                        }
                    }
                }
            }
            let off = worst(&got, &want);
            assert!(off < 1e-5, "{len} tokens: off by {off}");
        }
    }
}
