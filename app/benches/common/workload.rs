//! What the forward-pass benchmarks embed, shared by `benches/forward.rs` and
//! `examples/forward.rs`: the real all-MiniLM-L6-v2 and the short sentences of
//! `bench/sentences.txt`, the texts `bench/workload.py` sends over HTTP too, so
//! in-process and over-HTTP numbers describe one workload.

use std::path::PathBuf;

use app::KnownModel;
use app::server::model::{self, Cut, Encoder, TextTokenizer};

/// One sentence per line, 13-16 tokens each with `[CLS]`/`[SEP]`.
const SENTENCES: &str = include_str!("../../../bench/sentences.txt");

/// The model the benchmarks run.
pub const MODEL: KnownModel = KnownModel::AllMiniLmL6V2;

/// Loads all-MiniLM-L6-v2 from `AKIDB_MODEL_DIR` (default `<workspace>/.models`).
///
/// # Panics
/// The model is missing or does not load; the message says how to fetch it.
#[must_use]
pub fn load() -> (TextTokenizer, Encoder) {
    let dir = std::env::var_os("AKIDB_MODEL_DIR").map_or_else(
        || PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.models")),
        PathBuf::from,
    );
    let facts = MODEL.facts();
    match model::load(&dir, &MODEL.id(), Some(&facts), usize::MAX) {
        Ok((tokenizer, encoder, _)) => (tokenizer, encoder),
        Err(e) => panic!(
            "{e}\nthe benchmark needs the real all-MiniLM-L6-v2: bash scripts/fetch-models.sh"
        ),
    }
}

/// Token ids of `batch` texts of about `tokens` tokens each (consecutive sentences
/// joined, as `bench/workload.py`'s `text_of`; 0 for single sentences, cycling through
/// the file), shortest first as the server's batcher orders them.
///
/// # Panics
/// A text does not tokenize.
#[must_use]
pub fn batch_ids(tokenizer: &TextTokenizer, batch: usize, tokens: usize) -> Vec<Vec<u32>> {
    let sentences: Vec<&str> = SENTENCES.lines().filter(|l| !l.trim().is_empty()).collect();
    // A sentence is about 12.5 tokens of its own besides [CLS] and [SEP].
    let count = if tokens == 0 {
        1
    } else {
        (tokens.saturating_sub(2) * 2).div_ceil(25).max(1)
    };
    let mut ids: Vec<Vec<u32>> = (0..batch)
        .map(|i| {
            let text: Vec<&str> = (0..count)
                .map(|j| sentences[(i + j) % sentences.len()])
                .collect();
            tokenizer
                .encode(&MODEL.id(), i, &text.join(" "), true, Cut::End)
                .expect("tokenize")
        })
        .collect();
    ids.sort_by_key(Vec::len);
    ids
}
