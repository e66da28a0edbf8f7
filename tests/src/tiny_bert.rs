//! Tiny random encoders in the Hugging Face layout (config.json, tokenizer.json,
//! model.safetensors, and optionally the sentence-transformers files), for exercising a
//! model's code path where no real weights exist: e5-small-v2's shape, a 12-layer BERT,
//! an XLM-RoBERTa with a SentencePiece-style (Unigram) tokenizer. Deterministic: the same
//! arguments write the same bytes.

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
    with_letters(
        &[
            "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ":", "query", "passage",
        ],
        |c| format!("##{c}"),
    )
}

/// `words`, then each letter `a`-`z` followed by its `variant` (a continuation or
/// word-start piece), so any lowercase text tokenizes.
fn with_letters(words: &[&str], variant: fn(char) -> String) -> Vec<String> {
    let mut v: Vec<String> = words.iter().map(|w| (*w).to_owned()).collect();
    for c in 'a'..='z' {
        v.push(c.to_string());
        v.push(variant(c));
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
    let added = added_tokens(&vocab[..5]);
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

/// `added_tokens` of a tokenizer.json: the special tokens at the head of the vocabulary.
fn added_tokens(specials: &[String]) -> Vec<serde_json::Value> {
    specials
        .iter()
        .enumerate()
        .map(|(i, t)| {
            json!({"id": i, "content": t, "single_word": false, "lstrip": false,
                   "rstrip": false, "normalized": false, "special": true})
        })
        .collect()
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

/// The encoder family of a tiny model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// BERT with a WordPiece tokenizer.
    Bert,
    /// XLM-RoBERTa with a Unigram tokenizer (`<s>`, `<pad>`, `</s>`, `<unk>`); positions
    /// start after the padding id, one token type.
    XlmRoberta,
}

/// What sentence-transformers writes beside the model; `None` fields are not written.
#[derive(Debug, Clone, Default)]
pub struct SentenceFiles {
    /// `1_Pooling/config.json` with this mode on: `cls_token`, `mean_tokens`, ...
    pub pooling: Option<&'static str>,
    /// `modules.json` (Transformer, Pooling, and Normalize when `true`).
    pub normalize: Option<bool>,
    /// `config_sentence_transformers.json` prompts, name to text.
    pub prompts: Vec<(&'static str, &'static str)>,
    /// Its `default_prompt_name`.
    pub default_prompt: Option<&'static str>,
    /// `sentence_bert_config.json`'s `max_seq_length`.
    pub max_seq_length: Option<usize>,
}

/// A tiny model to write.
#[derive(Debug, Clone)]
pub struct Tiny {
    /// Widths and depth.
    pub shape: Shape,
    /// Encoder family.
    pub family: Family,
    /// Prefix of every tensor name (`""`, `"bert."`, `"roberta."`).
    pub prefix: &'static str,
    /// Seed of the weights.
    pub seed: u64,
    /// Layer norms with random scales and shifts around 1 and 0, rather than exactly 1
    /// and 0 (as a fresh model has): a reference check then covers them too.
    pub random_norms: bool,
    /// The sentence-transformers files.
    pub sentence: SentenceFiles,
}

/// Writes a BERT of `shape` under `<root>/<name>/`, with no sentence-transformers files.
///
/// # Panics
/// On I/O errors: this is test support.
pub fn write(root: &Path, name: &str, shape: Shape) {
    write_tiny(
        root,
        name,
        &Tiny {
            shape,
            family: Family::Bert,
            prefix: "",
            seed: 0x5eed,
            random_norms: false,
            sentence: SentenceFiles::default(),
        },
    );
}

/// The vocabulary of the Unigram tokenizer: special tokens, the prompt words, and single
/// letters with and without the word-start marker.
#[must_use]
pub fn unigram_vocab() -> Vec<String> {
    with_letters(
        &[
            "<s>",
            "<pad>",
            "</s>",
            "<unk>",
            "\u{2581}",
            ":",
            "\u{2581}query",
            "\u{2581}passage",
        ],
        |c| format!("\u{2581}{c}"),
    )
}

/// A Unigram tokenizer.json over `vocab`, shaped like XLM-RoBERTa's: Metaspace
/// pre-tokenizer, `<s> $A </s>` around each text, truncating and padding at 128 (the
/// server must override both).
#[must_use]
pub fn unigram_tokenizer_json(vocab: &[String]) -> serde_json::Value {
    let pieces: Vec<serde_json::Value> = vocab
        .iter()
        .enumerate()
        .map(|(i, t)| {
            // Longer pieces score higher, so whole words win over letters.
            let score = if i < 4 {
                0.0
            } else {
                -10.0 + t.chars().count() as f64
            };
            json!([t, score])
        })
        .collect();
    let added = added_tokens(&vocab[..4]);
    let special = |t: &str| json!({"SpecialToken": {"id": t, "type_id": 0}});
    json!({
        "version": "1.0",
        "truncation": {"direction": "Right", "max_length": 128, "strategy": "LongestFirst", "stride": 0},
        "padding": {"strategy": {"Fixed": 128}, "direction": "Right", "pad_to_multiple_of": null,
                    "pad_id": 1, "pad_type_id": 0, "pad_token": "<pad>"},
        "added_tokens": added,
        "normalizer": {"type": "Lowercase"},
        "pre_tokenizer": {"type": "Metaspace", "replacement": "\u{2581}", "prepend_scheme": "always", "split": true},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [special("<s>"), {"Sequence": {"id": "A", "type_id": 0}}, special("</s>")],
            "pair": [special("<s>"), {"Sequence": {"id": "A", "type_id": 0}}, special("</s>"),
                     special("</s>"), {"Sequence": {"id": "B", "type_id": 0}}, special("</s>")],
            "special_tokens": {
                "<s>": {"id": "<s>", "ids": [0], "tokens": ["<s>"]},
                "</s>": {"id": "</s>", "ids": [2], "tokens": ["</s>"]}
            }
        },
        "decoder": {"type": "Metaspace", "replacement": "\u{2581}", "prepend_scheme": "always", "split": true},
        "model": {"type": "Unigram", "unk_id": 3, "vocab": pieces, "byte_fallback": false}
    })
}

/// Writes `tiny` under `<root>/<name>/`.
///
/// # Panics
/// On I/O errors: this is test support.
pub fn write_tiny(root: &Path, name: &str, tiny: &Tiny) {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let shape = tiny.shape;
    let eps = if tiny.family == Family::Bert {
        1e-12
    } else {
        1e-5
    };
    let (vocab, tokenizer, model_type, class, pad, type_vocab, positions) = match tiny.family {
        Family::Bert => {
            let v = vocab();
            let t = tokenizer_json(&v);
            (v, t, "bert", "BertModel", 0, 2, shape.positions)
        }
        Family::XlmRoberta => {
            let v = unigram_vocab();
            let t = unigram_tokenizer_json(&v);
            // Rows 0 and 1 of the position table are never used: positions start at
            // pad_token_id + 1.
            (
                v,
                t,
                "xlm-roberta",
                "XLMRobertaModel",
                1,
                1,
                shape.positions + 2,
            )
        }
    };
    let config = json!({
        "architectures": [class], "model_type": model_type,
        "vocab_size": vocab.len(), "hidden_size": shape.hidden, "num_hidden_layers": shape.layers,
        "num_attention_heads": 4, "intermediate_size": shape.intermediate, "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": positions, "type_vocab_size": type_vocab,
        "initializer_range": 0.02, "layer_norm_eps": eps, "pad_token_id": pad,
        "position_embedding_type": "absolute"
    });
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    std::fs::write(dir.join("tokenizer.json"), tokenizer.to_string()).unwrap();
    if tiny.family == Family::Bert {
        std::fs::write(dir.join("vocab.txt"), vocab.join("\n")).unwrap();
    }
    write_sentence_files(&dir, &tiny.sentence);

    let (h, i) = (shape.hidden, shape.intermediate);
    let (scale, shift) = if tiny.random_norms {
        (Fill::AroundOne, Fill::Small)
    } else {
        (Fill::Ones, Fill::Zeros)
    };
    let mut shapes: Vec<(String, Vec<usize>, Fill)> = vec![
        (
            "embeddings.word_embeddings.weight".into(),
            vec![vocab.len(), h],
            Fill::Random,
        ),
        (
            "embeddings.position_embeddings.weight".into(),
            vec![positions, h],
            Fill::Random,
        ),
        (
            "embeddings.token_type_embeddings.weight".into(),
            vec![type_vocab, h],
            Fill::Random,
        ),
        ("embeddings.LayerNorm.weight".into(), vec![h], scale),
        ("embeddings.LayerNorm.bias".into(), vec![h], shift),
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
            shapes.push((format!("{p}.{ln}.weight"), vec![h], scale));
            shapes.push((format!("{p}.{ln}.bias"), vec![h], shift));
        }
    }
    let mut rng = Lcg(tiny.seed);
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
                        Fill::AroundOne => 1.0 + 0.4 * rng.next(),
                        Fill::Small => 0.4 * rng.next(),
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
                format!("{}{name}", tiny.prefix),
                TensorView::new(Dtype::F32, dims.clone(), bytes).unwrap(),
            )
        })
        .collect();
    safetensors::serialize_to_file(views, None, &dir.join("model.safetensors")).unwrap();
}

fn write_sentence_files(dir: &Path, files: &SentenceFiles) {
    if let Some(mode) = files.pooling {
        std::fs::create_dir_all(dir.join("1_Pooling")).unwrap();
        let config = json!({ format!("pooling_mode_{mode}"): true, "include_prompt": true });
        std::fs::write(dir.join("1_Pooling/config.json"), config.to_string()).unwrap();
    }
    if let Some(normalize) = files.normalize {
        let mut modules = vec![
            json!({"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"}),
            json!({"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}),
        ];
        if normalize {
            modules.push(json!({"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}));
        }
        std::fs::write(dir.join("modules.json"), json!(modules).to_string()).unwrap();
    }
    if !files.prompts.is_empty() || files.default_prompt.is_some() {
        let prompts: serde_json::Map<String, serde_json::Value> = files
            .prompts
            .iter()
            .map(|(n, t)| ((*n).to_owned(), json!(t)))
            .collect();
        let config = json!({"prompts": prompts, "default_prompt_name": files.default_prompt,
                            "similarity_fn_name": "cosine"});
        std::fs::write(
            dir.join("config_sentence_transformers.json"),
            config.to_string(),
        )
        .unwrap();
    }
    if let Some(n) = files.max_seq_length {
        let config = json!({"max_seq_length": n, "do_lower_case": false});
        std::fs::write(dir.join("sentence_bert_config.json"), config.to_string()).unwrap();
    }
}

#[derive(Clone, Copy)]
enum Fill {
    Random,
    Ones,
    Zeros,
    AroundOne,
    Small,
}
