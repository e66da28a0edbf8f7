//! Which vector instructions the kernels run with on this CPU: the width
//! [`super::panels`] packs its weights for, and the name the start-up log gives it.
//!
//! [`super::panels`] and [`super::kernels`] pick their code at run time through
//! `pulp`, so the same binary runs AVX-512 on one machine and AVX2 on the next. An
//! operator comparing two nodes' speed needs to know which one a pod got, and a test
//! under an emulated CPU needs proof that the path it meant to check is the one that ran.

use pulp::Simd;

/// The floats per vector of the code `pulp` dispatches to here.
struct Lanes;

impl pulp::WithSimd for Lanes {
    type Output = usize;

    #[inline(always)]
    fn with_simd<S: Simd>(self, _: S) -> usize {
        S::F32_LANES
    }
}

/// Floats per vector of the widest instructions the kernels use on this CPU.
#[must_use]
pub fn lanes() -> usize {
    pulp::Arch::new().dispatch(Lanes)
}

/// The instruction set the kernels use on this CPU, as its users name it.
#[must_use]
pub fn instructions() -> &'static str {
    name(std::env::consts::ARCH, lanes())
}

fn name(arch: &str, lanes: usize) -> &'static str {
    match (arch, lanes) {
        ("x86_64", 16) => "AVX-512",
        ("x86_64", 8) => "AVX2+FMA",
        ("x86_64", _) => "SSE2",
        ("aarch64", _) => "NEON",
        _ => "scalar",
    }
}

#[cfg(test)]
mod tests {
    use super::{instructions, name};

    #[test]
    fn every_width_has_a_name_and_this_cpu_gets_one_of_them() {
        assert_eq!(name("x86_64", 16), "AVX-512");
        assert_eq!(name("x86_64", 8), "AVX2+FMA");
        assert_eq!(name("x86_64", 4), "SSE2");
        assert_eq!(name("riscv64", 1), "scalar");
        #[cfg(target_arch = "x86_64")]
        {
            let want = if std::arch::is_x86_feature_detected!("avx512f") {
                "AVX-512"
            } else if std::arch::is_x86_feature_detected!("fma") {
                "AVX2+FMA"
            } else {
                "SSE2"
            };
            assert_eq!(instructions(), want);
        }
    }
}
