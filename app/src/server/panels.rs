//! The dense layers' matrix product `x @ w`, with `x` one row per token and `w` a layer's
//! `(in, out)` weights packed once, at load time, into strips of a few columns.
//!
//! Why not candle's `gemm`: it packs its right-hand side on every call. With a batch of
//! hundreds of tokens that copy is paid once for a lot of arithmetic, but one sentence
//! is 10-20 tokens, each weight is used only that many times, and copying the whole
//! weight matrix costs about as much as the product itself. Here the weights are read
//! once per product, in the order they are stored, and each strip is reused from cache
//! for every block of rows.
//!
//! The inner loop keeps 6 output rows by 2 vectors of columns in registers, with
//! instructions (and so the strip's width) chosen at run time through `pulp`, as in
//! [`super::kernels`].

use pulp::Simd;
use rayon::prelude::*;

use super::scratch::fit;
use super::simd;

/// Rows of `x` per rayon task when the columns are split too: a multiple of [`R`], and
/// enough arithmetic (48 rows by a strip by `in`) to pay for a task.
const ROWS_PER_TASK: usize = 48;

/// From this many rows, tasks own whole rows of the result (at least 4 tasks); below it
/// they split the columns too, so one sentence keeps every thread busy.
const DIRECT_ROWS: usize = 4 * ROWS_PER_TASK;

/// Rows in registers at once.
const R: usize = 6;
/// Vectors of columns in registers at once: with [`R`] rows, 12 sums, 2 weight vectors
/// and a broadcast input fit AVX2's 16 registers (3 rows by 4 vectors did not: the
/// compiler spilled a sum to the stack on every step).
const V: usize = 2;

/// A weight matrix packed for [`Packed::product`].
pub struct Packed {
    /// Strip `p` holds columns `p * strip ..` of every input row, row after row, so the
    /// product reads it front to back; columns past `out` are zeros.
    data: Vec<f32>,
    inp: usize,
    out: usize,
    /// Columns per strip: [`V`] vectors of the CPU's widest instructions (16 with AVX2,
    /// 32 with AVX-512).
    strip: usize,
}

impl Packed {
    /// Packs the weights of a linear layer as Hugging Face stores them: `w` holds one row
    /// of `inp` weights per output, `out` rows; the product is `x @ wᵀ`. Packed straight
    /// from that layout, for this CPU, with no transposed copy in between.
    ///
    /// # Panics
    /// `w` is not `out * inp` long.
    #[must_use]
    pub fn from_output_rows(w: &[f32], inp: usize, out: usize) -> Packed {
        Packed::with_strip(w, inp, out, (V * simd::lanes()).max(8))
    }

    fn with_strip(w: &[f32], inp: usize, out: usize, strip: usize) -> Packed {
        assert_eq!(
            w.len(),
            out * inp,
            "weights of {out} outputs by {inp} inputs"
        );
        let strips = out.div_ceil(strip);
        let mut data = vec![0f32; strips * inp * strip];
        if inp > 0 {
            for (p, dst) in data.chunks_exact_mut(inp * strip).enumerate() {
                let rows = &w[p * strip * inp..((p + 1) * strip).min(out) * inp];
                for (c, row) in rows.chunks_exact(inp).enumerate() {
                    for (k, v) in row.iter().enumerate() {
                        dst[k * strip + c] = *v;
                    }
                }
            }
        }
        Packed {
            data,
            inp,
            out,
            strip,
        }
    }

    /// `x @ w`, row after row, where `x` holds `x.len() / inp` rows of `inp`.
    ///
    /// # Panics
    /// `x` is not a whole number of rows, or the weights have no rows.
    #[must_use]
    pub fn product(&self, x: &[f32]) -> Vec<f32> {
        let (mut y, mut tiles) = (Vec::new(), Vec::new());
        self.product_into(x, &mut y, &mut tiles);
        y
    }

    /// [`Packed::product`] into `y`, which is resized to the result and whose old
    /// contents are all overwritten (so a buffer from an earlier product costs no zeroing).
    /// `tiles` holds each strip's share of the result when the rows are few; it is
    /// resized and overwritten the same way.
    ///
    /// # Panics
    /// `x` is not a whole number of rows, or the weights have no rows.
    pub fn product_into(&self, x: &[f32], y: &mut Vec<f32>, tiles: &mut Vec<f32>) {
        let (inp, strip) = (self.inp, self.strip);
        assert!(inp > 0 && x.len() % inp == 0, "rows of {inp}");
        let rows = x.len() / inp;
        let out = self.out;
        fit(y, rows * out);
        if rows == 0 {
            return;
        }
        let arch = pulp::Arch::new();
        if rows >= DIRECT_ROWS {
            // Enough rows for every thread: each task owns whole rows of the result and
            // goes across every strip, writing in place; four tasks per thread of equal
            // size, so the threads finish together (11 tasks of 48 rows for a batch of 32
            // sentences left one thread a task behind).
            let task = R * rows.div_ceil(R * 4 * rayon::current_num_threads());
            y.par_chunks_mut(task * out)
                .zip(x.par_chunks(task * inp))
                .for_each(|(y, x)| {
                    for (p, weights) in self.data.chunks_exact(inp * strip).enumerate() {
                        let first = p * strip;
                        arch.dispatch(Tile {
                            x,
                            weights,
                            inp,
                            strip,
                            out: &mut y[first..],
                            stride: out,
                            cols: strip.min(out - first),
                        });
                    }
                });
            return;
        }
        // Few rows: split by strips too. Each task writes one contiguous piece of
        // `tiles` (a strip's rows, strip after strip), copied into place after.
        fit(tiles, self.data.len() / inp * rows);
        tiles
            .par_chunks_mut(rows * strip)
            .zip(self.data.par_chunks_exact(inp * strip))
            .for_each(|(tile, weights)| {
                tile.par_chunks_mut(ROWS_PER_TASK * strip)
                    .zip(x.par_chunks(ROWS_PER_TASK * inp))
                    .for_each(|(out, x)| {
                        arch.dispatch(Tile {
                            x,
                            weights,
                            inp,
                            strip,
                            out,
                            stride: strip,
                            cols: strip,
                        });
                    });
            });
        y.par_chunks_mut(out * ROWS_PER_TASK)
            .enumerate()
            .for_each(|(block, y)| {
                for (i, row) in y.chunks_exact_mut(out).enumerate() {
                    let r = block * ROWS_PER_TASK + i;
                    for (p, cols) in row.chunks_mut(strip).enumerate() {
                        cols.copy_from_slice(&tiles[(p * rows + r) * strip..][..cols.len()]);
                    }
                }
            });
    }
}

/// Some rows of `x` times one strip of weights. Row `r` of the result goes to
/// `out[r * stride..]`, its first `cols` columns (fewer than the strip's in the last strip
/// of a matrix whose width is not a multiple of it).
struct Tile<'a> {
    x: &'a [f32],
    weights: &'a [f32],
    inp: usize,
    strip: usize,
    out: &'a mut [f32],
    stride: usize,
    cols: usize,
}

impl pulp::WithSimd for Tile<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        match (S::F32_LANES, self.strip) {
            (16, 32) => rows::<S, 32>(simd, self),
            (8, 16) => rows::<S, 16>(simd, self),
            (4, 8) => rows::<S, 8>(simd, self),
            _ => plain(self),
        }
    }
}

/// The tile in blocks of [`R`] rows, the last block shorter; `W` is the strip's width.
#[inline(always)]
fn rows<S: Simd, const W: usize>(simd: S, t: Tile<'_>) {
    let (inp, stride) = (t.inp, t.stride);
    let to = Out {
        stride,
        cols: t.cols,
    };
    for (b, x) in t.x.chunks(R * inp).enumerate() {
        let out = &mut t.out[b * R * stride..];
        match x.len() / inp {
            R => block::<S, R, W>(simd, x, t.weights, out, to),
            1 => block::<S, 1, W>(simd, x, t.weights, out, to),
            2 => block::<S, 2, W>(simd, x, t.weights, out, to),
            3 => block::<S, 3, W>(simd, x, t.weights, out, to),
            4 => block::<S, 4, W>(simd, x, t.weights, out, to),
            _ => block::<S, 5, W>(simd, x, t.weights, out, to),
        }
    }
}

/// Where a block's rows go: one every `stride` floats, `cols` of each written.
#[derive(Clone, Copy)]
struct Out {
    stride: usize,
    cols: usize,
}

/// `N` rows of `x` times a strip `W` wide: `N * V` vectors of sums in registers, [`V`]
/// weight vectors and one broadcast input read per input feature.
#[inline(always)]
fn block<S: Simd, const N: usize, const W: usize>(
    simd: S,
    x: &[f32],
    weights: &[f32],
    out: &mut [f32],
    to: Out,
) {
    let inp = x.len() / N;
    let xs: [&[f32]; N] = std::array::from_fn(|r| &x[r * inp..(r + 1) * inp]);
    let (weights, _) = pulp::as_arrays::<W, f32>(weights);
    let weights = &weights[..inp];
    let mut acc = [[simd.splat_f32s(0.0); V]; N];
    for (k, w) in weights.iter().enumerate() {
        let (w, _) = S::as_simd_f32s(w);
        for (acc, x) in acc.iter_mut().zip(&xs) {
            let b = simd.splat_f32s(x[k]);
            for (a, w) in acc.iter_mut().zip(w) {
                *a = simd.mul_add_f32s(b, *w, *a);
            }
        }
    }
    for (r, acc) in acc.iter().enumerate() {
        let row = &mut out[r * to.stride..];
        if to.cols == W {
            let (row, _) = S::as_mut_simd_f32s(&mut row[..W]);
            for (o, a) in row.iter_mut().zip(acc) {
                *o = *a;
            }
        } else {
            let mut full = [0f32; W];
            let (vectors, _) = S::as_mut_simd_f32s(&mut full);
            for (o, a) in vectors.iter_mut().zip(acc) {
                *o = *a;
            }
            row[..to.cols].copy_from_slice(&full[..to.cols]);
        }
    }
}

/// Any other vector width: one row at a time, left to the compiler.
fn plain(t: Tile<'_>) {
    for (r, x) in t.x.chunks_exact(t.inp).enumerate() {
        let out = &mut t.out[r * t.stride..][..t.cols];
        out.fill(0.0);
        for (xk, w) in x.iter().zip(t.weights.chunks_exact(t.strip)) {
            for (o, w) in out.iter_mut().zip(w) {
                *o += xk * w;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Packed;
    use crate::server::test_numbers::numbers;

    /// `x @ wᵀ` in f64, `w` holding one row of `inp` per output.
    fn naive(x: &[f32], w: &[f32], inp: usize, out: usize) -> Vec<f32> {
        let rows = x.len() / inp;
        let mut y = vec![0f64; rows * out];
        for r in 0..rows {
            for k in 0..inp {
                for c in 0..out {
                    y[r * out + c] += f64::from(x[r * inp + k]) * f64::from(w[c * inp + k]);
                }
            }
        }
        #[allow(clippy::cast_possible_truncation)]
        y.into_iter().map(|v| v as f32).collect()
    }

    /// The largest difference, infinite where either side is NaN (which `f32::max`
    /// alone would skip).
    fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
        a.iter()
            .zip(b)
            .map(|(a, b)| (a - b).abs())
            .map(|d| if d.is_nan() { f32::INFINITY } else { d })
            .fold(0f32, f32::max)
    }

    #[test]
    fn the_product_matches_a_plain_one_for_every_shape_of_block_and_panel() {
        // Row counts around the row blocks (3, 6) and the task size (48); widths that
        // fill panels exactly, leave a partial panel, or are narrower than one.
        for (inp, out) in [(384, 1152), (37, 70), (8, 5), (64, 32)] {
            let w = numbers(inp * out, 7);
            let packed = Packed::from_output_rows(&w, inp, out);
            for rows in [1, 2, 3, 4, 5, 6, 7, 13, 16, 47, 48, 49, 100, 191, 192, 250] {
                let x = numbers(rows * inp, rows as u64);
                let got = packed.product(&x);
                let want = naive(&x, &w, inp, out);
                assert_eq!(got.len(), want.len());
                let worst = max_abs_diff(&got, &want);
                assert!(
                    worst < 1e-4,
                    "{rows} rows of {inp} by {out}: off by {worst}"
                );
            }
        }
    }

    #[test]
    fn every_strip_width_gives_the_same_product() {
        // The widths of other CPUs (and the plain loop for widths without a kernel).
        let (inp, out) = (40, 70);
        let w = numbers(inp * out, 3);
        for (strip, rows) in [8, 16, 32, 12].into_iter().flat_map(|s| [(s, 9), (s, 200)]) {
            let x = numbers(rows * inp, 4);
            let want = naive(&x, &w, inp, out);
            let got = Packed::with_strip(&w, inp, out, strip).product(&x);
            assert_eq!(got.len(), want.len());
            let worst = max_abs_diff(&got, &want);
            assert!(worst < 1e-4, "strip {strip}, {rows} rows: off by {worst}");
        }
    }

    #[test]
    fn a_reused_buffer_is_overwritten_whatever_it_held() {
        // Stale NaNs would show through any element the product failed to write; the
        // buffer starts longer, then shorter, than each result.
        let (inp, out) = (40, 70);
        let w = numbers(inp * out, 5);
        for strip in [8, 16, 32, 12] {
            let packed = Packed::with_strip(&w, inp, out, strip);
            for (rows, held) in [(9, 2000), (200, 50), (9, 20_000), (250, 0), (9, 3)] {
                let x = numbers(rows * inp, 6);
                let mut y = vec![f32::NAN; held];
                let mut tiles = vec![f32::NAN; held * 2];
                packed.product_into(&x, &mut y, &mut tiles);
                assert_eq!(y.len(), rows * out);
                let worst = max_abs_diff(&y, &naive(&x, &w, inp, out));
                assert!(
                    worst < 1e-4,
                    "strip {strip}, {rows} rows over {held}: off by {worst}"
                );
            }
        }
    }

    #[test]
    fn no_rows_give_no_output() {
        let packed = Packed::from_output_rows(&[1.0; 6], 2, 3);
        assert!(packed.product(&[]).is_empty());
    }
}
