//! In-process forward-pass harness for profiling (no HTTP): loads the real
//! all-MiniLM-L6-v2 and embeds a fixed batch of short sentences N times.
//!
//! ```text
//! cargo run --release -p app --example forward -- [iterations] [batch] [pause ms] [tokens per text]
//! valgrind --tool=callgrind target/release/examples/forward 3 32
//! ```
//!
//! Prints the median time per pass and sentences/s. `AKIDB_MODEL_DIR` overrides the
//! model folder (default `.models`).

use std::time::Instant;

#[path = "../benches/common/workload.rs"]
mod workload;

fn main() {
    let mut args = std::env::args().skip(1);
    let iterations: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20);
    let batch: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(32);
    // Idle time between passes, as a server sees between a client's requests.
    let pause = std::time::Duration::from_secs_f64(
        args.next()
            .and_then(|a| a.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1e3,
    );
    let (tokenizer, encoder) = workload::load();
    // Texts of about this many tokens each (0: single sentences).
    let tokens: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(0);
    let ids = workload::batch_ids(&tokenizer, batch, tokens);
    let sorted: Vec<&[u32]> = ids.iter().map(Vec::as_slice).collect();
    let tokens: usize = sorted.iter().map(|s| s.len()).sum();
    let mut times = Vec::with_capacity(iterations);
    let mut check = 0f32;
    for _ in 0..iterations {
        std::thread::sleep(pause);
        let t = Instant::now();
        let out = encoder.embed(&sorted).expect("forward");
        times.push(t.elapsed().as_secs_f64());
        check += out[0][0];
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    #[allow(clippy::cast_precision_loss)]
    let per_s = batch as f64 / median;
    println!(
        "batch {batch} ({tokens} tokens, max {}): median {:.2} ms, min {:.2} ms, {per_s:.0} sentences/s (check {check:.4})",
        sorted.last().map_or(0, |s| s.len()),
        median * 1e3,
        times[0] * 1e3,
    );
}
