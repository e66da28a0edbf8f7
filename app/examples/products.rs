//! Arithmetic rate of the dense layers' packed product (`server::panels`) for
//! all-MiniLM-L6-v2's shapes, without the rest of the forward pass.
//!
//! ```text
//! RAYON_NUM_THREADS=1 cargo run --release -p app --example products
//! ```
//!
//! Prints, per shape and row count, the median time of a product and GFLOP/s.

use app::server::panels::Packed;
use std::time::Instant;

fn main() {
    let shapes = [(384, 384), (384, 1536), (1536, 384)];
    let row_counts = [16, 64, 512];
    println!(
        "{:>5} {:>5} {:>5} {:>10} {:>8}",
        "rows", "in", "out", "median us", "GFLOP/s"
    );
    for (inp, out) in shapes {
        let w: Vec<f32> = (0..inp * out)
            .map(|i| ((i % 97) as f32 - 48.0) / 97.0)
            .collect();
        let packed = Packed::from_output_rows(&w, inp, out);
        for rows in row_counts {
            let x: Vec<f32> = (0..rows * inp)
                .map(|i| ((i % 89) as f32 - 44.0) / 89.0)
                .collect();
            let runs = (2_000_000_000 / (2 * rows * inp * out)).clamp(20, 5000);
            let mut times = Vec::with_capacity(runs);
            let mut check = 0f32;
            // Buffers kept from product to product, as the forward pass keeps them.
            let (mut y, mut tiles) = (Vec::new(), Vec::new());
            for _ in 0..runs {
                let t = Instant::now();
                packed.product_into(&x, &mut y, &mut tiles);
                times.push(t.elapsed().as_secs_f64());
                check += y[0];
            }
            times.sort_by(f64::total_cmp);
            let median = times[times.len() / 2];
            #[allow(clippy::cast_precision_loss)]
            let flops = (2 * rows * inp * out) as f64;
            println!(
                "{rows:>5} {inp:>5} {out:>5} {:>10.1} {:>8.1}  (check {check:.1})",
                median * 1e6,
                flops / median / 1e9
            );
        }
    }
}
