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
