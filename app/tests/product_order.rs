//! The encoder multiplies `x @ W` for many tokens and `W^T @ x^T` for few
//! (`app::server::bert::ProductOrder`). Both orders must give the same vectors on the real
//! all-MiniLM-L6-v2, on either side of the switch-over, so the server's answer never
//! depends on how many other requests shared its batch.

mod common;

use app::ModelId;
use app::server::bert::{FEATURE_MAJOR_MAX_TOKENS, ProductOrder};
use app::server::model;

const TEXTS: [&str; 6] = [
    "A man is playing a guitar.",
    "Kubernetes schedules pods onto nodes according to their resource requests.",
    "The weather is lovely today.",
    "Embeddings map sentences to vectors so that similar meanings end up close together.",
    "Rust.",
    "She sold sea shells by the sea shore on a sunny afternoon, then went home.",
];

fn max_abs_diff(a: &[Vec<f32>], b: &[Vec<f32>]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .flat_map(|(x, y)| x.iter().zip(y).map(|(p, q)| (p - q).abs()))
        .fold(0.0, f32::max)
}

#[test]
fn both_product_orders_give_the_same_vectors() {
    let dir = common::require_minilm();
    let id = ModelId::AllMiniLmL6V2;
    let (tokenizer, encoder, _) = model::load(&dir, id).expect("load all-MiniLM-L6-v2");
    let ids: Vec<Vec<u32>> = (0..40)
        .map(|i| {
            tokenizer
                .encode(id, i, TEXTS[i % TEXTS.len()], true)
                .expect("tokenize")
        })
        .collect();
    // One small pass (under the switch-over, so Auto is feature-major) and one large
    // (over it, so Auto is token-major).
    let small: Vec<&[u32]> = ids[..2].iter().map(Vec::as_slice).collect();
    let large: Vec<&[u32]> = ids.iter().map(Vec::as_slice).collect();
    let tokens = |seqs: &[&[u32]]| seqs.iter().map(|s| s.len()).sum::<usize>();
    assert!(tokens(&small) <= FEATURE_MAJOR_MAX_TOKENS);
    assert!(tokens(&large) > FEATURE_MAJOR_MAX_TOKENS);

    for seqs in [&small, &large] {
        let by_token = encoder.embed_in(seqs, ProductOrder::TokenMajor).unwrap();
        let by_feature = encoder.embed_in(seqs, ProductOrder::FeatureMajor).unwrap();
        let auto = encoder.embed(seqs).unwrap();
        let diff = max_abs_diff(&by_token, &by_feature);
        assert!(
            diff < 1e-5,
            "{} tokens: orders differ by {diff}",
            tokens(seqs)
        );
        assert!(max_abs_diff(&auto, &by_token).min(max_abs_diff(&auto, &by_feature)) == 0.0);
        assert!(by_token[0].iter().any(|&x| x != 0.0));
    }
    // The same sequence alone and inside the large pass: the switch-over changes nothing
    // a client could see at the reference tolerance.
    let alone = encoder.embed(&small[..1]).unwrap();
    let inside = encoder.embed(&large).unwrap();
    let diff = max_abs_diff(&alone, &inside[..1]);
    assert!(diff < 1e-5, "alone vs in a large batch: {diff}");
}
