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

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

#[path = "common/workload.rs"]
mod workload;

fn forward(c: &mut Criterion) {
    let (tokenizer, encoder) = workload::load();
    let mut group = c.benchmark_group("forward");
    for batch in [1usize, 8, 32] {
        let ids = workload::batch_ids(&tokenizer, batch, 0);
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
