//! A BERT encoder for inference only, tuned for short sentences on a few CPU cores.
//!
//! Same arithmetic as `candle_transformers::models::bert::BertModel`, laid out for speed:
//! - no padding: the tokens of every sequence of a batch are stacked into one
//!   `(tokens, hidden)` matrix, so the dense layers never multiply padding, and
//!   attention runs per sequence over its own tokens only (no mask tensor);
//! - query, key and value are one matrix product with a `(hidden, 3 * hidden)` weight;
//! - the weights are stored transposed and contiguous, `(in, out)`, as the product wants
//!   them;
//! - biases are folded into the pass that follows each product (attention, GELU,
//!   residual + layer norm), which run on the rayon pool in plain Rust, where candle's
//!   element-wise operations are single-threaded and make one pass each.
//!
//! Matrix products stay with candle (its `gemm`).

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{Config, HiddenAct};
use rayon::prelude::*;

/// Rows per rayon task in the row-wise passes: enough work per task to pay for the split.
const ROWS_PER_TASK: usize = 16;

struct Norm {
    gamma: Vec<f32>,
    beta: Vec<f32>,
}

struct Layer {
    qkv_w: Tensor,
    qkv_b: Vec<f32>,
    out_w: Tensor,
    out_b: Vec<f32>,
    attn_norm: Norm,
    up_w: Tensor,
    up_b: Vec<f32>,
    down_w: Tensor,
    down_b: Vec<f32>,
    ffn_norm: Norm,
}

/// The encoder: embeddings and transformer layers.
pub struct Bert {
    word: Vec<f32>,
    position: Vec<f32>,
    token_type: Vec<f32>,
    emb_norm: Norm,
    layers: Vec<Layer>,
    hidden: usize,
    heads: usize,
    vocab: usize,
    max_positions: usize,
    eps: f32,
    act: HiddenAct,
    device: Device,
}

fn vec1(t: &Tensor) -> candle_core::Result<Vec<f32>> {
    t.flatten_all()?.to_vec1::<f32>()
}

fn norm(vb: &VarBuilder, size: usize) -> candle_core::Result<Norm> {
    let get = |names: [&str; 2]| {
        let name = names
            .into_iter()
            .find(|n| vb.contains_tensor(n))
            .unwrap_or(names[0]);
        vec1(&vb.get(size, name)?)
    };
    Ok(Norm {
        gamma: get(["weight", "gamma"])?,
        beta: get(["bias", "beta"])?,
    })
}

/// `(out, in)` weights of the named linear layers, stacked by rows and then transposed
/// into one contiguous `(in, sum of out)` matrix; and their biases, concatenated.
fn dense(
    vb: &VarBuilder,
    names: &[&str],
    out: usize,
    inp: usize,
) -> candle_core::Result<(Tensor, Vec<f32>)> {
    let mut ws = Vec::with_capacity(names.len());
    let mut bs = Vec::with_capacity(out * names.len());
    for n in names {
        let vb = vb.pp(n);
        ws.push(vb.get((out, inp), "weight")?);
        bs.extend(vec1(&vb.get(out, "bias")?)?);
    }
    let w = Tensor::cat(&ws, 0)?.t()?.contiguous()?;
    Ok((w, bs))
}

impl Bert {
    /// Loads the weights named as in Hugging Face's `BertModel` (with or without a `bert.`
    /// prefix).
    ///
    /// # Errors
    /// A tensor is missing or has the wrong shape.
    pub fn load(vb: VarBuilder, config: &Config) -> candle_core::Result<Bert> {
        let vb = if vb.contains_tensor("bert.embeddings.word_embeddings.weight") {
            vb.pp("bert")
        } else {
            vb
        };
        let h = config.hidden_size;
        let inter = config.intermediate_size;
        if config.num_attention_heads == 0 || h % config.num_attention_heads != 0 {
            candle_core::bail!(
                "hidden_size {h} is not a multiple of num_attention_heads {}",
                config.num_attention_heads
            );
        }
        let e = vb.pp("embeddings");
        let word = vec1(&e.get((config.vocab_size, h), "word_embeddings.weight")?)?;
        let position = vec1(&e.get(
            (config.max_position_embeddings, h),
            "position_embeddings.weight",
        )?)?;
        let token_type = vec1(
            &e.get((config.type_vocab_size, h), "token_type_embeddings.weight")?
                .get(0)?,
        )?;
        let emb_norm = norm(&e.pp("LayerNorm"), h)?;
        let layers = (0..config.num_hidden_layers)
            .map(|i| {
                let l = vb.pp(format!("encoder.layer.{i}"));
                let (qkv_w, qkv_b) =
                    dense(&l.pp("attention.self"), &["query", "key", "value"], h, h)?;
                let (out_w, out_b) = dense(&l.pp("attention.output"), &["dense"], h, h)?;
                let attn_norm = norm(&l.pp("attention.output.LayerNorm"), h)?;
                let (up_w, up_b) = dense(&l.pp("intermediate"), &["dense"], inter, h)?;
                let (down_w, down_b) = dense(&l.pp("output"), &["dense"], h, inter)?;
                let ffn_norm = norm(&l.pp("output.LayerNorm"), h)?;
                Ok(Layer {
                    qkv_w,
                    qkv_b,
                    out_w,
                    out_b,
                    attn_norm,
                    up_w,
                    up_b,
                    down_w,
                    down_b,
                    ffn_norm,
                })
            })
            .collect::<candle_core::Result<Vec<_>>>()?;
        #[allow(clippy::cast_possible_truncation)]
        let eps = config.layer_norm_eps as f32;
        Ok(Bert {
            word,
            position,
            token_type,
            emb_norm,
            layers,
            hidden: h,
            heads: config.num_attention_heads,
            vocab: config.vocab_size,
            max_positions: config.max_position_embeddings,
            eps,
            act: config.hidden_act,
            device: vb.device().clone(),
        })
    }

    /// Hidden size.
    #[must_use]
    pub fn hidden(&self) -> usize {
        self.hidden
    }

    /// Last hidden states of `seqs`, stacked: row `offsets[i] + j` is token `j` of
    /// sequence `i`, where `offsets` are the running sums of the lengths.
    ///
    /// # Errors
    /// A token id past the vocabulary, a sequence longer than the position table, or a
    /// tensor operation failed.
    pub fn forward(&self, seqs: &[&[u32]]) -> candle_core::Result<Vec<f32>> {
        let h = self.hidden;
        let lens: Vec<usize> = seqs.iter().map(|s| s.len()).collect();
        let total: usize = lens.iter().sum();
        if let Some(&l) = lens.iter().find(|&&l| l > self.max_positions) {
            candle_core::bail!("a sequence of {l} tokens exceeds {}", self.max_positions);
        }
        if total == 0 {
            return Ok(Vec::new());
        }
        let mut x = vec![0f32; total * h];
        let mut rows = x.chunks_exact_mut(h);
        for s in seqs {
            for (pos, &id) in s.iter().enumerate() {
                let id = id as usize;
                if id >= self.vocab {
                    candle_core::bail!("token id {id} is outside the vocabulary");
                }
                let row = rows.next().unwrap_or_default();
                let w = &self.word[id * h..(id + 1) * h];
                let p = &self.position[pos * h..(pos + 1) * h];
                for (((o, a), b), c) in row.iter_mut().zip(w).zip(p).zip(&self.token_type) {
                    *o = a + b + c;
                }
            }
        }
        let zero = vec![0f32; h];
        add_norm(&mut x, &zero, None, &self.emb_norm, self.eps);
        let mut x = Tensor::from_vec(x, (total, h), &self.device)?;
        for layer in &self.layers {
            let qkv = x.matmul(&layer.qkv_w)?;
            let ctx = with_slice(&qkv, |qkv| {
                attention(qkv, &layer.qkv_b, &lens, self.heads, h)
            })??;
            let ctx = Tensor::from_vec(ctx, (total, h), &self.device)?;
            let attn = ctx.matmul(&layer.out_w)?;
            let attn = with_slice(&x, |res| {
                owned_add_norm(&attn, &layer.out_b, res, &layer.attn_norm, self.eps)
            })??;
            let attn = Tensor::from_vec(attn, (total, h), &self.device)?;
            let up = attn.matmul(&layer.up_w)?;
            let up = with_slice(&up, |up| activate(up, &layer.up_b, self.act))?;
            let up = Tensor::from_vec(up, (total, layer.up_b.len()), &self.device)?;
            let down = up.matmul(&layer.down_w)?;
            let out = with_slice(&attn, |res| {
                owned_add_norm(&down, &layer.down_b, res, &layer.ffn_norm, self.eps)
            })??;
            x = Tensor::from_vec(out, (total, h), &self.device)?;
        }
        with_slice(&x, <[f32]>::to_vec)
    }
}

/// Runs `f` on the contiguous `f32` data of a CPU tensor, without copying it.
fn with_slice<R>(t: &Tensor, f: impl FnOnce(&[f32]) -> R) -> candle_core::Result<R> {
    let (storage, layout) = t.storage_and_layout();
    let candle_core::Storage::Cpu(cpu) = &*storage else {
        candle_core::bail!("the encoder runs on the CPU only");
    };
    let Some((start, end)) = layout.contiguous_offsets() else {
        candle_core::bail!("expected a contiguous tensor");
    };
    if t.dtype() != DType::F32 {
        candle_core::bail!("expected f32, got {:?}", t.dtype());
    }
    Ok(f(&cpu.as_slice::<f32>()?[start..end]))
}

/// `layer_norm(t + bias + residual)`, into a new vector.
fn owned_add_norm(
    t: &Tensor,
    bias: &[f32],
    residual: &[f32],
    norm: &Norm,
    eps: f32,
) -> candle_core::Result<Vec<f32>> {
    let mut out = with_slice(t, <[f32]>::to_vec)?;
    add_norm(&mut out, bias, Some(residual), norm, eps);
    Ok(out)
}

/// Sum of `v` with 8 independent partial sums, so the compiler can vectorise it.
#[inline]
fn sum8(v: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let chunks = v.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for (a, x) in acc.iter_mut().zip(c) {
            *a += x;
        }
    }
    acc.iter().sum::<f32>() + rest.iter().sum::<f32>()
}

/// Dot product with 8 independent partial sums.
#[inline]
fn dot8(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let ca = a.chunks_exact(8);
    let cb = b.chunks_exact(8);
    let rest: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + rest
}

/// In place, row by row: `x = layer_norm(x + bias + residual)`.
fn add_norm(x: &mut [f32], bias: &[f32], residual: Option<&[f32]>, norm: &Norm, eps: f32) {
    let h = bias.len();
    #[allow(clippy::cast_precision_loss)]
    let inv_h = 1.0 / h as f32;
    let row = |(i, row): (usize, &mut [f32])| {
        if let Some(res) = residual {
            let res = &res[i * h..(i + 1) * h];
            for ((v, b), r) in row.iter_mut().zip(bias).zip(res) {
                *v += b + r;
            }
        } else {
            for (v, b) in row.iter_mut().zip(bias) {
                *v += b;
            }
        }
        let mean = sum8(row) * inv_h;
        row.iter_mut().for_each(|v| *v -= mean);
        let var = dot8(row, row) * inv_h;
        let scale = 1.0 / (var + eps).sqrt();
        for ((v, g), b) in row.iter_mut().zip(&norm.gamma).zip(&norm.beta) {
            *v = *v * scale * g + b;
        }
    };
    x.par_chunks_mut(h * ROWS_PER_TASK)
        .enumerate()
        .for_each(|(chunk, rows)| {
            rows.chunks_exact_mut(h)
                .enumerate()
                .map(|(i, r)| (chunk * ROWS_PER_TASK + i, r))
                .for_each(row);
        });
}

/// `act(x + bias)` row by row, into a new vector.
fn activate(x: &[f32], bias: &[f32], act: HiddenAct) -> Vec<f32> {
    let n = bias.len();
    let mut out = vec![0f32; x.len()];
    out.par_chunks_mut(n * ROWS_PER_TASK)
        .zip(x.par_chunks(n * ROWS_PER_TASK))
        .for_each(|(o, x)| {
            for (o, x) in o.chunks_exact_mut(n).zip(x.chunks_exact(n)) {
                match act {
                    HiddenAct::Gelu => {
                        for ((o, x), b) in o.iter_mut().zip(x).zip(bias) {
                            *o = gelu_erf(x + b);
                        }
                    }
                    HiddenAct::GeluApproximate => {
                        for ((o, x), b) in o.iter_mut().zip(x).zip(bias) {
                            *o = gelu_tanh(x + b);
                        }
                    }
                    HiddenAct::Relu => {
                        for ((o, x), b) in o.iter_mut().zip(x).zip(bias) {
                            *o = (x + b).max(0.0);
                        }
                    }
                }
            }
        });
    out
}

/// `erf(x)` for `f32`: the rational approximation of Eigen and XLA (a few ulp), without
/// branches or calls, so loops over it vectorise.
#[inline]
#[allow(clippy::excessive_precision)]
fn erf(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let mut p = x2 * -2.726_142_258_013_06e-10 + 2.770_681_424_959_02e-08;
    p = x2 * p + -2.101_024_020_825_08e-06;
    p = x2 * p + -5.692_506_394_623_46e-05;
    p = x2 * p + -7.349_906_303_268_55e-04;
    p = x2 * p + -2.954_599_808_540_25e-03;
    p = x2 * p + -1.609_603_332_624_15e-02;
    p *= x;
    let mut q = x2 * -1.456_607_184_649_96e-05 + -2.133_740_552_789_05e-04;
    q = x2 * q + -1.682_826_974_382_03e-03;
    q = x2 * q + -7.373_329_167_204_68e-03;
    q = x2 * q + -1.426_473_905_141_89e-02;
    p / q
}

/// GELU with the exact `erf` form, as BERT defines it.
#[inline]
fn gelu_erf(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// GELU with the `tanh` approximation.
#[inline]
fn gelu_tanh(x: f32) -> f32 {
    let c = (2.0 / std::f32::consts::PI).sqrt();
    0.5 * x * (1.0 + (c * (x + 0.044_715 * x * x * x)).tanh())
}

/// Multi-head self-attention of each sequence over its own tokens.
///
/// `qkv` holds one row of `3 * hidden` per token (query, key, value, without their
/// `bias`); returns the context rows `(tokens, hidden)`.
fn attention(
    qkv: &[f32],
    bias: &[f32],
    lens: &[usize],
    heads: usize,
    h: usize,
) -> candle_core::Result<Vec<f32>> {
    let total: usize = lens.iter().sum();
    if qkv.len() != total * 3 * h || bias.len() != 3 * h {
        candle_core::bail!("attention: unexpected qkv shape");
    }
    let d = h / heads;
    #[allow(clippy::cast_precision_loss)]
    let scale = 1.0 / (d as f32).sqrt();
    let mut out = vec![0f32; total * h];
    // Split the output and the input by sequence, then run the sequences in parallel.
    let mut parts = Vec::with_capacity(lens.len());
    let (mut rest_out, mut rest_in) = (out.as_mut_slice(), qkv);
    for &l in lens {
        let (o, ro) = rest_out.split_at_mut(l * h);
        let (i, ri) = rest_in.split_at(l * 3 * h);
        parts.push((o, i, l));
        rest_out = ro;
        rest_in = ri;
    }
    parts.into_par_iter().for_each(|(out, qkv, l)| {
        let mut q = vec![0f32; l * d];
        let mut k = vec![0f32; l * d];
        let mut v = vec![0f32; l * d];
        let mut p = vec![0f32; l];
        for head in 0..heads {
            let (qo, ko, vo) = (head * d, h + head * d, 2 * h + head * d);
            for t in 0..l {
                let row = &qkv[t * 3 * h..(t + 1) * 3 * h];
                let dst = t * d..(t + 1) * d;
                for ((o, x), b) in q[dst.clone()]
                    .iter_mut()
                    .zip(&row[qo..qo + d])
                    .zip(&bias[qo..qo + d])
                {
                    *o = (x + b) * scale;
                }
                for ((o, x), b) in k[dst.clone()]
                    .iter_mut()
                    .zip(&row[ko..ko + d])
                    .zip(&bias[ko..ko + d])
                {
                    *o = x + b;
                }
                for ((o, x), b) in v[dst]
                    .iter_mut()
                    .zip(&row[vo..vo + d])
                    .zip(&bias[vo..vo + d])
                {
                    *o = x + b;
                }
            }
            for i in 0..l {
                let qi = &q[i * d..(i + 1) * d];
                let mut max = f32::NEG_INFINITY;
                for (j, s) in p.iter_mut().enumerate() {
                    *s = dot8(qi, &k[j * d..(j + 1) * d]);
                    max = max.max(*s);
                }
                let mut sum = 0f32;
                for s in &mut p {
                    *s = (*s - max).exp();
                    sum += *s;
                }
                let inv = 1.0 / sum;
                let o = &mut out[i * h + head * d..i * h + (head + 1) * d];
                for (j, s) in p.iter().enumerate() {
                    let w = s * inv;
                    for (o, x) in o.iter_mut().zip(&v[j * d..(j + 1) * d]) {
                        *o += w * x;
                    }
                }
            }
        }
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erf_matches_the_reference_to_a_few_ulp() {
        let mut worst = 0f64;
        for i in -60_000..=60_000 {
            let x = f64::from(i) * 1e-4;
            #[allow(clippy::cast_possible_truncation)]
            let got = f64::from(erf(x as f32));
            let want = candle_core::cpu::erf::erf_f64(x);
            worst = worst.max((got - want).abs());
        }
        assert!(worst < 1e-6, "max abs error {worst}");
    }

    #[test]
    fn dot_and_sum_handle_remainders() {
        let a: Vec<f32> = (0..11).map(|i| i as f32).collect();
        assert_eq!(sum8(&a), 55.0);
        assert_eq!(dot8(&a, &a), 385.0);
    }

    #[test]
    fn activations_match_candle() {
        let xs: Vec<f32> = (-50..50).map(|i| i as f32 * 0.13).collect();
        let t = Tensor::new(xs.as_slice(), &Device::Cpu).unwrap();
        let zero = vec![0f32; xs.len()];
        for (act, want) in [
            (HiddenAct::Gelu, t.gelu_erf().unwrap()),
            (HiddenAct::GeluApproximate, t.gelu().unwrap()),
            (HiddenAct::Relu, t.relu().unwrap()),
        ] {
            let got = activate(&xs, &zero, act);
            let want = want.to_vec1::<f32>().unwrap();
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() < 1e-6, "{act:?}: {g} vs {w}");
            }
        }
    }
}
