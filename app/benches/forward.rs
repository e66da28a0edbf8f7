//! Criterion benchmark of the encoder's forward pass, in-process (no HTTP, no queue):
//! the real all-MiniLM-L6-v2 on batches of 1, 8 and 32 short sentences.
//!
//! ```text
//! RAYON_NUM_THREADS=2 cargo bench -p app --bench forward
//! ```
//!
//! The model comes from `AKIDB_MODEL_DIR` (default `<workspace>/.models`); fetch it with
//! `bash scripts/fetch-models.sh` (`make models`).

use std::hint::black_box;
use std::path::PathBuf;

use app::ModelId;
use app::server::model::{self, Encoder, TextTokenizer};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

mod common;
use common::sentences::SENTENCES;

fn load() -> (TextTokenizer, Encoder) {
    let dir = std::env::var_os("AKIDB_MODEL_DIR").map_or_else(
        || PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.models")),
        PathBuf::from,
    );
    match model::load(&dir, ModelId::AllMiniLmL6V2) {
        Ok((tokenizer, encoder, _)) => (tokenizer, encoder),
        Err(e) => panic!(
            "{e}\nthe benchmark needs the real all-MiniLM-L6-v2: bash scripts/fetch-models.sh"
        ),
    }
}

/// Token ids of `batch` sentences, shortest first as the server's batcher orders them.
fn batch_ids(tokenizer: &TextTokenizer, batch: usize) -> Vec<Vec<u32>> {
    let mut ids: Vec<Vec<u32>> = (0..batch)
        .map(|i| {
            tokenizer
                .encode(
                    ModelId::AllMiniLmL6V2,
                    i,
                    SENTENCES[i % SENTENCES.len()],
                    true,
                )
                .expect("tokenize")
        })
        .collect();
    ids.sort_by_key(Vec::len);
    ids
}

fn forward(c: &mut Criterion) {
    let (tokenizer, encoder) = load();
    let mut group = c.benchmark_group("forward");
    for batch in [1usize, 8, 32] {
        let ids = batch_ids(&tokenizer, batch);
        let seqs: Vec<&[u32]> = ids.iter().map(Vec::as_slice).collect();
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_with_input(BenchmarkId::new("sentences", batch), &seqs, |b, seqs| {
            b.iter(|| encoder.embed(black_box(seqs)).expect("forward"));
        });
    }
    group.finish();
}

criterion_group!(benches, forward);
criterion_main!(benches);
