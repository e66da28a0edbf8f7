//! Fixed pseudo-random inputs for the kernels' tests: the same numbers on every run and
//! every machine, so a failure on one CPU can be replayed on another.

/// Numbers in [-1, 1) from a fixed linear congruential sequence.
pub fn numbers(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            #[allow(clippy::cast_precision_loss)]
            let v = (s >> 40) as f32 / (1u64 << 24) as f32;
            v * 2.0 - 1.0
        })
        .collect()
}
