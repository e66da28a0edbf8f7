//! The encoder's passes between matrix products, in plain Rust on the rayon pool:
//! attention per sequence, bias + activation, bias + residual + layer norm.
//!
//! Every matrix here has one row per token, the tokens of all sequences of a batch
//! stacked.

use candle_transformers::models::bert::HiddenAct;
use rayon::prelude::*;

use super::long_attention;
use super::scratch::fit;

/// Rows per rayon task in the row-wise passes: enough work per task to pay for the split.
const ROWS_PER_TASK: usize = 16;

/// `out = x + bias`.
#[inline(always)]
fn add_into(out: &mut [f32], x: &[f32], bias: &[f32]) {
    for ((o, x), b) in out.iter_mut().zip(x).zip(bias) {
        *o = x + b;
    }
}

/// Gamma and beta of a layer norm.
pub struct Norm {
    /// Scale per feature.
    pub gamma: Vec<f32>,
    /// Shift per feature.
    pub beta: Vec<f32>,
}

/// Sum of `v` with 8 independent partial sums, so the compiler can vectorise it.
#[inline(always)]
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
#[inline(always)]
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

/// `e^x` for each element, in place, for `x <= 0` (softmax after subtracting the row's
/// maximum). `f32::exp` is a libm call per element, which the compiler cannot vectorise;
/// at 256 tokens the softmax's 65,536 exponentials per head and layer took more time
/// than the attention's products. This is the usual reduction `e^x = 2^n * e^r` with
/// `|r| <= ln 2 / 2` and a degree-7 Taylor polynomial for `e^r` (relative error below
/// 2e-7, the order of f32 rounding), written as plain arithmetic so it vectorises inside
/// a pulp dispatch.
#[inline(always)]
fn exp_nonpositive(xs: &mut [f32]) {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    // ln 2 split in two, so `n * LN2_HI` is exact for the n that occur.
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    for x in xs {
        // Below -87.3 the result is under f32's normal range: flush to 0 as exp would
        // (to within 1e-38).
        let v = x.max(-87.0);
        let n = (v * LOG2E).round();
        let r = v - n * LN2_HI - n * LN2_LO;
        let p = 1.0
            + r * (1.0
                + r * (0.5
                    + r * (1.0 / 6.0
                        + r * (1.0 / 24.0
                            + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r * (1.0 / 5040.0)))))));
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let scale = f32::from_bits(((n as i32 + 127) as u32) << 23);
        *x = p * scale;
    }
}

/// A pass that computes the output rows of a matrix one at a time.
///
/// `row` is `#[inline(always)]` in every implementation, so it compiles into
/// [`RowTask::with_simd`], which pulp instantiates for the widest vector instructions
/// the CPU has (AVX2 and FMA on x86-64 where present), chosen at run time. The binary
/// targets baseline x86-64 (SSE2): code outside such a dispatch moves 4 floats at a
/// time where it could move 8, and a closure would not be inlined into it.
trait RowOp: Sync {
    /// Computes row `token` of the output into `out`.
    fn row(&self, token: usize, out: &mut [f32]);
}

/// Consecutive rows of one rayon task.
struct RowTask<'a, O> {
    op: &'a O,
    rows: &'a mut [f32],
    first: usize,
    width: usize,
}

impl<O: RowOp> pulp::WithSimd for RowTask<'_, O> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) {
        for (i, r) in self.rows.chunks_exact_mut(self.width).enumerate() {
            self.op.row(self.first + i, r);
        }
    }
}

/// Runs `op` over the rows of `out` (`width` wide) on the rayon pool.
fn par_rows(out: &mut [f32], width: usize, op: &impl RowOp) {
    let arch = pulp::Arch::new();
    out.par_chunks_mut(width * ROWS_PER_TASK)
        .enumerate()
        .for_each(|(chunk, rows)| {
            arch.dispatch(RowTask {
                op,
                rows,
                first: chunk * ROWS_PER_TASK,
                width,
            });
        });
}

/// `v = layer_norm(v)` for one row.
#[inline(always)]
fn norm_row(v: &mut [f32], norm: &Norm, eps: f32) {
    #[allow(clippy::cast_precision_loss)]
    let inv_h = 1.0 / v.len() as f32;
    let mean = sum8(v) * inv_h;
    v.iter_mut().for_each(|x| *x -= mean);
    let var = dot8(v, v) * inv_h;
    let scale = 1.0 / (var + eps).sqrt();
    for ((x, g), b) in v.iter_mut().zip(&norm.gamma).zip(&norm.beta) {
        *x = *x * scale * g + b;
    }
}

struct NormRows<'a> {
    norm: &'a Norm,
    eps: f32,
}

impl RowOp for NormRows<'_> {
    #[inline(always)]
    fn row(&self, _: usize, out: &mut [f32]) {
        norm_row(out, self.norm, self.eps);
    }
}

/// In place, row by row: `x = layer_norm(x)`.
pub fn norm_rows(x: &mut [f32], norm: &Norm, eps: f32) {
    par_rows(x, norm.gamma.len(), &NormRows { norm, eps });
}

struct AddNorm<'a> {
    x: &'a [f32],
    bias: &'a [f32],
    residual: &'a [f32],
    norm: &'a Norm,
    eps: f32,
}

impl RowOp for AddNorm<'_> {
    #[inline(always)]
    fn row(&self, t: usize, out: &mut [f32]) {
        let h = out.len();
        add_into(out, &self.x[t * h..(t + 1) * h], self.bias);
        for (v, r) in out.iter_mut().zip(&self.residual[t * h..(t + 1) * h]) {
            *v += r;
        }
        norm_row(out, self.norm, self.eps);
    }
}

/// `layer_norm(x + bias + residual)` row by row, into `out` (resized; what it held is
/// overwritten).
pub fn add_norm(
    x: &[f32],
    bias: &[f32],
    residual: &[f32],
    norm: &Norm,
    eps: f32,
    out: &mut Vec<f32>,
) {
    fit(out, residual.len());
    let op = AddNorm {
        x,
        bias,
        residual,
        norm,
        eps,
    };
    par_rows(out, bias.len(), &op);
}

struct Activate<'a> {
    bias: &'a [f32],
    act: HiddenAct,
}

impl RowOp for Activate<'_> {
    #[inline(always)]
    fn row(&self, _: usize, out: &mut [f32]) {
        for (o, b) in out.iter_mut().zip(self.bias) {
            *o += b;
        }
        match self.act {
            HiddenAct::Gelu => out.iter_mut().for_each(|o| *o = gelu_erf(*o)),
            HiddenAct::GeluApproximate => out.iter_mut().for_each(|o| *o = gelu_tanh(*o)),
            HiddenAct::Relu => out.iter_mut().for_each(|o| *o = o.max(0.0)),
        }
    }
}

/// In place, row by row: `x = act(x + bias)`.
pub fn activate(x: &mut [f32], bias: &[f32], act: HiddenAct) {
    par_rows(x, bias.len(), &Activate { bias, act });
}

/// `erf(x)` for `f32`: the rational approximation of Eigen and XLA (a few ulp), without
/// branches or calls, so loops over it vectorise.
#[inline(always)]
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
#[inline(always)]
fn gelu_erf(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// GELU with the `tanh` approximation.
#[inline(always)]
fn gelu_tanh(x: f32) -> f32 {
    let c = (2.0 / std::f32::consts::PI).sqrt();
    0.5 * x * (1.0 + (c * (x + 0.044_715 * x * x * x)).tanh())
}

/// Multi-head self-attention of each sequence over its own tokens.
///
/// `qkv` has a row of `3 * h` per token (query, key, value, without their `bias`);
/// the context rows `(tokens, h)` go to `out` (resized; what it held is overwritten).
/// Sequences of at least [`long_attention::MIN_TOKENS`] go through matrix products
/// instead.
///
/// # Errors
/// A tensor operation of the long path failed.
pub fn attention(
    qkv: &[f32],
    bias: &[f32],
    lens: &[usize],
    heads: usize,
    h: usize,
    out: &mut Vec<f32>,
) -> candle_core::Result<()> {
    let total: usize = lens.iter().sum();
    let d = h / heads;
    #[allow(clippy::cast_precision_loss)]
    let scale = 1.0 / (d as f32).sqrt();
    fit(out, total * h);
    // Split the output by sequence, then run the sequences in parallel. With fewer
    // sequences than threads (one sentence), short sequences are split by query rows
    // too, so every thread has work: each piece computes its sequence's keys and values,
    // a fraction of the work of its queries.
    let pieces = rayon::current_num_threads().div_ceil(lens.len()).max(1);
    let mut parts = Vec::with_capacity(lens.len() * pieces);
    let (mut rest, mut first) = (out.as_mut_slice(), 0);
    for &l in lens {
        let (mut o, r) = rest.split_at_mut(l * h);
        rest = r;
        let rows = if l >= long_attention::MIN_TOKENS {
            l
        } else {
            l.div_ceil(pieces).max(MIN_QUERY_ROWS)
        };
        let mut q0 = 0;
        while q0 < l {
            let n = rows.min(l - q0);
            let (piece, tail) = o.split_at_mut(n * h);
            parts.push((piece, first, l, q0));
            o = tail;
            q0 += n;
        }
        first += l;
    }
    let arch = pulp::Arch::new();
    parts.into_par_iter().try_for_each(|(out, first, len, q0)| {
        if len >= long_attention::MIN_TOKENS {
            return long_attention::attend(qkv, bias, heads, h, scale, out, first, len);
        }
        arch.dispatch(Attend {
            qkv,
            bias,
            heads,
            h,
            scale,
            out,
            first,
            len,
            q0,
        });
        Ok(())
    })
}

/// Fewest query rows of a short sequence per parallel piece of [`attention`]: below this,
/// recomputing the sequence's keys and values for the piece costs more than it spreads.
const MIN_QUERY_ROWS: usize = 4;

/// Softmax of each row of `len` values of `p`, in place.
pub fn softmax_rows(p: &mut [f32], len: usize) {
    pulp::Arch::new().dispatch(SoftmaxRows { p, len });
}

/// [`softmax_rows`] as a pulp task, so the exponentials vectorise.
struct SoftmaxRows<'a> {
    p: &'a mut [f32],
    len: usize,
}

impl pulp::WithSimd for SoftmaxRows<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) {
        for row in self.p.chunks_exact_mut(self.len) {
            let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            row.iter_mut().for_each(|x| *x -= max);
            exp_nonpositive(row);
            let inv = 1.0 / sum8(row);
            row.iter_mut().for_each(|x| *x *= inv);
        }
    }
}

/// Attention of one sequence, as a pulp task for the same reason as [`RowOp`].
struct Attend<'a> {
    qkv: &'a [f32],
    bias: &'a [f32],
    heads: usize,
    h: usize,
    scale: f32,
    /// Context rows of the sequence's queries `q0..`, one per row.
    out: &'a mut [f32],
    /// Its first token in `qkv`.
    first: usize,
    len: usize,
    /// The first query, within the sequence.
    q0: usize,
}

impl pulp::WithSimd for Attend<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) {
        let Attend {
            qkv,
            bias,
            heads,
            h,
            scale,
            out,
            first,
            len: l,
            q0,
        } = self;
        let d = h / heads;
        let queries = out.len() / h;
        let mut q = vec![0f32; queries * d];
        let mut k = vec![0f32; l * d];
        let mut v = vec![0f32; l * d];
        let mut p = vec![0f32; l];
        for head in 0..heads {
            let (qo, ko, vo) = (head * d, h + head * d, 2 * h + head * d);
            for t in 0..l {
                let rows = t * d..(t + 1) * d;
                let row = &qkv[(first + t) * 3 * h..(first + t + 1) * 3 * h];
                add_into(&mut k[rows.clone()], &row[ko..ko + d], &bias[ko..ko + d]);
                add_into(&mut v[rows], &row[vo..vo + d], &bias[vo..vo + d]);
            }
            for t in 0..queries {
                let rows = t * d..(t + 1) * d;
                let row = &qkv[(first + q0 + t) * 3 * h..(first + q0 + t + 1) * 3 * h];
                add_into(&mut q[rows.clone()], &row[qo..qo + d], &bias[qo..qo + d]);
                q[rows].iter_mut().for_each(|x| *x *= scale);
            }
            for i in 0..queries {
                let qi = &q[i * d..(i + 1) * d];
                let mut max = f32::NEG_INFINITY;
                for (j, s) in p.iter_mut().enumerate() {
                    *s = dot8(qi, &k[j * d..(j + 1) * d]);
                    max = max.max(*s);
                }
                p.iter_mut().for_each(|s| *s -= max);
                exp_nonpositive(&mut p);
                let inv = 1.0 / sum8(&p);
                let o = &mut out[i * h + head * d..i * h + (head + 1) * d];
                o.fill(0.0);
                for (j, s) in p.iter().enumerate() {
                    let w = s * inv;
                    for (o, x) in o.iter_mut().zip(&v[j * d..(j + 1) * d]) {
                        *o += w * x;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Tensor};

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
    fn exp_matches_libm_in_the_softmax_range() {
        let mut worst = 0f32;
        let xs: Vec<f32> = (0..=200_000).map(|i| -(i as f32) * 4.35e-4).collect();
        let mut got = xs.clone();
        exp_nonpositive(&mut got);
        for (x, g) in xs.iter().zip(&got) {
            let want = x.exp();
            worst = worst.max((g - want).abs() / want.max(f32::MIN_POSITIVE));
        }
        assert!(worst < 3e-7, "max relative error {worst}");
        let mut edge = vec![0.0, -1e-30, -87.0, -200.0, f32::NEG_INFINITY];
        exp_nonpositive(&mut edge);
        assert_eq!(edge[0], 1.0);
        assert_eq!(edge[1], 1.0);
        assert!(edge[2] > 0.0 && edge[2] < 2e-38, "{}", edge[2]);
        assert!(edge[3] < 2e-38 && edge[4] < 2e-38, "{edge:?}");
    }

    /// Attention of each sequence of `lens` in one piece through the per-query path,
    /// one sequence after another on this thread.
    fn whole_sequences(
        qkv: &[f32],
        bias: &[f32],
        lens: &[usize],
        heads: usize,
        h: usize,
    ) -> Vec<f32> {
        let mut out = vec![0f32; lens.iter().sum::<usize>() * h];
        let mut first = 0;
        for &len in lens {
            pulp::Arch::new().dispatch(Attend {
                qkv,
                bias,
                heads,
                h,
                scale: 1.0 / ((h / heads) as f32).sqrt(),
                out: &mut out[first * h..(first + len) * h],
                first,
                len,
                q0: 0,
            });
            first += len;
        }
        out
    }

    #[test]
    fn the_product_path_agrees_with_the_per_query_path() {
        let (h, heads) = (32, 4);
        let lens = [
            3,
            long_attention::MIN_TOKENS + 21,
            long_attention::MIN_TOKENS,
        ];
        let total: usize = lens.iter().sum();
        let mut seed = 7u32;
        let mut next = || {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5
        };
        let qkv: Vec<f32> = (0..total * 3 * h).map(|_| 4.0 * next()).collect();
        let bias: Vec<f32> = (0..3 * h).map(|_| next()).collect();
        // Over a buffer of NaNs: every element must be written, none accumulated.
        let mut got = vec![f32::NAN; 5];
        attention(&qkv, &bias, &lens, heads, h, &mut got).unwrap();
        assert_eq!(got.len(), total * h);
        assert!(
            got.iter().all(|v| v.is_finite()),
            "an element kept its old value"
        );
        // Every sequence through the per-query path.
        let want = whole_sequences(&qkv, &bias, &lens, heads, h);
        let worst = got
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(worst < 1e-5, "max abs difference {worst}");
    }

    #[test]
    fn splitting_a_sequence_by_queries_changes_no_bit() {
        // Fewer sequences than threads: the short ones are cut into pieces of queries,
        // each summing in the same order as the whole sequence would.
        let (h, heads) = (32, 4);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(4)
            .build()
            .unwrap();
        for lens in [vec![13], vec![1], vec![6], vec![2, 9], vec![17, 3, 5]] {
            let total: usize = lens.iter().sum();
            let qkv = crate::server::test_numbers::numbers(total * 3 * h, 11);
            let bias = crate::server::test_numbers::numbers(3 * h, 12);
            let mut got = vec![f32::NAN; total * h];
            pool.install(|| attention(&qkv, &bias, &lens, heads, h, &mut got).unwrap());
            let want = whole_sequences(&qkv, &bias, &lens, heads, h);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&got), bits(&want), "sequences of {lens:?} tokens");
        }
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
            let mut got = xs.clone();
            activate(&mut got, &zero, act);
            let want = want.to_vec1::<f32>().unwrap();
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() < 1e-6, "{act:?}: {g} vs {w}");
            }
        }
    }

    #[test]
    fn attention_of_one_token_is_its_value() {
        let (h, heads) = (8, 2);
        let qkv: Vec<f32> = (0..3 * h).map(|i| i as f32).collect();
        let zero = vec![0f32; 3 * h];
        let mut out = vec![f32::NAN; 3 * h];
        attention(&qkv, &zero, &[1], heads, h, &mut out).unwrap();
        assert_eq!(out, qkv[2 * h..].to_vec());
    }
}
