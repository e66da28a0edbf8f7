//! The short sentences every forward-pass benchmark embeds: the same texts as
//! `bench/workload.py`, so in-process and over-HTTP numbers describe one workload.

/// Short sentences of 13-16 tokens each (with `[CLS]`/`[SEP]`), cycled to fill a batch.
pub const SENTENCES: [&str; 8] = [
    "The quick brown fox jumps over the lazy dog near the river bank.",
    "Sentence embeddings map text to dense vectors for semantic search.",
    "A candle-based server can serve embeddings over plain HTTP requests.",
    "Kubernetes schedules pods onto nodes according to their resource requests.",
    "Rust gives memory safety without a garbage collector at run time.",
    "She sold sea shells by the sea shore on a sunny afternoon.",
    "What is the fastest way to compute cosine similarity in bulk?",
    "Transformers use attention to weigh every token against every other.",
];
