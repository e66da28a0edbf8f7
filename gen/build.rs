//! Links the `gen` binary as a position-dependent executable on Linux with glibc.
//!
//! `gen` is a short-lived command whose whole run takes a few milliseconds, so start-up
//! is a large share of it. As a PIE, the loader applied about 19,000 relocations at every
//! start and copied the pages they touch. Linked without PIE, the linker resolves them
//! once: 375 → 287 page faults and 7.1–7.2 → 6.0–6.4 ms for `gen prod` (hyperfine,
//! alternated; docs/performance.md). The server is not affected: only this package's
//! binaries get the flag.
//!
//! A static build (`make gen-static`: `+crt-static` and the static relocation model)
//! chooses its own start files, and musl's targets link static PIEs; `-no-pie` on top of
//! either gives a binary that crashes at its first instruction, so those are left alone.

fn main() {
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    let glibc = var("CARGO_CFG_TARGET_OS") == "linux" && var("CARGO_CFG_TARGET_ENV") == "gnu";
    let static_crt = var("CARGO_CFG_TARGET_FEATURE")
        .split(',')
        .any(|f| f == "crt-static");
    if glibc && !static_crt {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
