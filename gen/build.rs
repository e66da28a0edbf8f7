//! Links the `gen` binary as a position-dependent executable on Linux.
//!
//! `gen` is a short-lived command whose whole run takes a few milliseconds, so start-up
//! is a large share of it. As a PIE, the loader applied about 19,000 relocations at every
//! start and copied the pages they touch. Linked without PIE, the linker resolves them
//! once: 375 → 287 page faults and 7.1–7.2 → 6.0–6.4 ms for `gen prod` (hyperfine,
//! alternated; docs/performance.md). The server is not affected: only this package's
//! binaries get the flag.

fn main() {
    let linux = std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "linux");
    if linux {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
