//! Shared by the benchmarks and `examples/forward.rs`.

pub mod sentences;
