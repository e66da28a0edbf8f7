//! A tiny random BERT in the Hugging Face layout (config.json, tokenizer.json, vocab.txt,
//! model.safetensors), for exercising a model's code path where no real weights exist
//! (e5-small-v2 here). Deterministic: the same arguments write the same bytes.

use std::path::Path;

use safetensors::tensor::{Dtype, TensorView};
use serde_json::json;

/// Shape of the tiny model.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// Hidden size (a multiple of 4: four attention heads).
    pub hidden: usize,
    /// Transformer layers.
    pub layers: usize,
    /// Feed-forward size.
    pub intermediate: usize,
    /// Position embeddings: the longest input in tokens.
    pub positions: usize,
}

/// The shape of e5-small-v2 (12 layers, 512 positions) with tiny widths.
pub const E5_SMALL_V2: Shape = Shape {
    hidden: 32,
    layers: 12,
    intermediate: 64,
    positions: 512,
};

/// The vocabulary: special tokens, the e5 prefix words, and single letters.
#[must_use]
pub fn vocab() -> Vec<String> {
    let mut v: Vec<String> = [
        "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ":", "query", "passage",
    ]
    .map(String::from)
    .to_vec();
    for c in 'a'..='z' {
        v.push(c.to_string());
        v.push(format!("##{c}"));
    }
    v
}

/// A WordPiece tokenizer.json over `vocab` that, like all-MiniLM-L6-v2's, truncates and
/// pads at 128 (the server must override both).
#[must_use]
pub fn tokenizer_json(vocab: &[String]) -> serde_json::Value {
    let ids: serde_json::Map<String, serde_json::Value> = vocab
        .iter()
        .enumerate()
        .map(|(i, t)| (t.clone(), json!(i)))
        .collect();
    let added: Vec<serde_json::Value> = vocab[..5]
        .iter()
        .enumerate()
        .map(|(i, t)| {
            json!({"id": i, "content": t, "single_word": false, "lstrip": false,
                   "rstrip": false, "normalized": false, "special": true})
        })
        .collect();
    json!({
        "version": "1.0",
        "truncation": {"direction": "Right", "max_length": 128, "strategy": "LongestFirst", "stride": 0},
        "padding": {"strategy": {"Fixed": 128}, "direction": "Right", "pad_to_multiple_of": null,
                    "pad_id": 0, "pad_type_id": 0, "pad_token": "[PAD]"},
        "added_tokens": added,
        "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true,
                       "strip_accents": null, "lowercase": true},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {"type": "BertProcessing", "sep": ["[SEP]", 3], "cls": ["[CLS]", 2]},
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": true},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": ids}
    })
}

/// Deterministic pseudo-random numbers in [-0.5, 0.5) (a 64-bit LCG): reproducible
/// weights without a random-number crate.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        // The top 24 bits as a fraction.
        ((self.0 >> 40) as f32 / (1u64 << 24) as f32) - 0.5
    }
}

/// Writes the model under `<root>/<name>/`.
///
/// # Panics
/// On I/O errors: this is test support.
pub fn write(root: &Path, name: &str, shape: Shape) {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let vocab = vocab();
    let config = json!({
        "architectures": ["BertModel"], "model_type": "bert",
        "vocab_size": vocab.len(), "hidden_size": shape.hidden, "num_hidden_layers": shape.layers,
        "num_attention_heads": 4, "intermediate_size": shape.intermediate, "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": shape.positions, "type_vocab_size": 2,
        "initializer_range": 0.02, "layer_norm_eps": 1e-12, "pad_token_id": 0,
        "position_embedding_type": "absolute"
    });
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    std::fs::write(
        dir.join("tokenizer.json"),
        tokenizer_json(&vocab).to_string(),
    )
    .unwrap();
    std::fs::write(dir.join("vocab.txt"), vocab.join("\n")).unwrap();

    let (h, i) = (shape.hidden, shape.intermediate);
    let mut shapes: Vec<(String, Vec<usize>, Fill)> = vec![
        (
            "embeddings.word_embeddings.weight".into(),
            vec![vocab.len(), h],
            Fill::Random,
        ),
        (
            "embeddings.position_embeddings.weight".into(),
            vec![shape.positions, h],
            Fill::Random,
        ),
        (
            "embeddings.token_type_embeddings.weight".into(),
            vec![2, h],
            Fill::Random,
        ),
        ("embeddings.LayerNorm.weight".into(), vec![h], Fill::Ones),
        ("embeddings.LayerNorm.bias".into(), vec![h], Fill::Zeros),
    ];
    for l in 0..shape.layers {
        let p = format!("encoder.layer.{l}");
        for m in [
            "attention.self.query",
            "attention.self.key",
            "attention.self.value",
            "attention.output.dense",
        ] {
            shapes.push((format!("{p}.{m}.weight"), vec![h, h], Fill::Random));
            shapes.push((format!("{p}.{m}.bias"), vec![h], Fill::Random));
        }
        shapes.push((
            format!("{p}.intermediate.dense.weight"),
            vec![i, h],
            Fill::Random,
        ));
        shapes.push((
            format!("{p}.intermediate.dense.bias"),
            vec![i],
            Fill::Random,
        ));
        shapes.push((format!("{p}.output.dense.weight"), vec![h, i], Fill::Random));
        shapes.push((format!("{p}.output.dense.bias"), vec![h], Fill::Random));
        for ln in ["attention.output.LayerNorm", "output.LayerNorm"] {
            shapes.push((format!("{p}.{ln}.weight"), vec![h], Fill::Ones));
            shapes.push((format!("{p}.{ln}.bias"), vec![h], Fill::Zeros));
        }
    }
    let mut rng = Lcg(0x5eed);
    let data: Vec<(String, Vec<usize>, Vec<u8>)> = shapes
        .into_iter()
        .map(|(name, dims, fill)| {
            let n: usize = dims.iter().product();
            let bytes = (0..n)
                .flat_map(|_| {
                    let v = match fill {
                        Fill::Random => rng.next(),
                        Fill::Ones => 1.0,
                        Fill::Zeros => 0.0,
                    };
                    v.to_le_bytes()
                })
                .collect();
            (name, dims, bytes)
        })
        .collect();
    let views: Vec<(String, TensorView<'_>)> = data
        .iter()
        .map(|(name, dims, bytes)| {
            (
                name.clone(),
                TensorView::new(Dtype::F32, dims.clone(), bytes).unwrap(),
            )
        })
        .collect();
    safetensors::serialize_to_file(views, None, &dir.join("model.safetensors")).unwrap();
}

#[derive(Clone, Copy)]
enum Fill {
    Random,
    Ones,
    Zeros,
}
