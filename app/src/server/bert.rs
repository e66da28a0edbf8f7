//! A BERT encoder for inference only, tuned for short sentences on a few CPU cores.
//!
//! Same arithmetic as `candle_transformers::models::bert::BertModel`, laid out for speed:
//! - no padding: the tokens of every sequence of a batch are stacked into one
//!   `(tokens, hidden)` matrix, so the dense layers never multiply padding, and
//!   attention runs per sequence over its own tokens only (no mask tensor);
//! - query, key and value are one matrix product with a `(hidden, 3 * hidden)` weight;
//! - each dense layer's weights are packed once, at load, in the order the product reads
//!   them ([`super::panels`]);
//! - biases are folded into the pass that follows each product (attention, GELU,
//!   residual + layer norm, in [`super::kernels`]), which run on the rayon pool in plain
//!   Rust, vectorised for the CPU at run time, where candle's element-wise operations
//!   are single-threaded and make one pass each;
//! - the matrices between products are reused from layer to layer and from pass to
//!   pass ([`super::scratch`]).

use candle_transformers::models::bert::HiddenAct;

use super::encoder_config::{Architecture, EncoderConfig};

use super::kernels::{self, Norm};
use super::panels::Packed;
use super::scratch::Pool;
use super::weights::{Weights, WeightsError};

struct Layer {
    qkv_w: Packed,
    qkv_b: Vec<f32>,
    out_w: Packed,
    out_b: Vec<f32>,
    attn_norm: Norm,
    up_w: Packed,
    up_b: Vec<f32>,
    down_w: Packed,
    down_b: Vec<f32>,
    ffn_norm: Norm,
}

/// The encoder: embeddings and transformer layers.
pub struct Bert {
    word: Vec<f32>,
    position: Vec<f32>,
    token_type: Vec<f32>,
    emb_norm: Norm,
    layers: Vec<Layer>,
    hidden: usize,
    heads: usize,
    vocab: usize,
    /// Longest sequence: the position table's rows from `position_offset` on.
    max_tokens: usize,
    /// Row of the position table for a sequence's first token.
    position_offset: usize,
    eps: f32,
    act: HiddenAct,
    /// Intermediate matrices reused by later passes.
    scratch: Pool,
}

/// Tensor names of one model: Hugging Face's `BertModel` names (the same in
/// `XLMRobertaModel`), with or without a `bert.` or `roberta.` prefix.
struct Names<'a> {
    weights: &'a mut Weights,
    prefix: &'static str,
}

impl Names<'_> {
    fn take(&mut self, name: &str, shape: &[usize]) -> Result<Vec<f32>, WeightsError> {
        self.weights.take(&format!("{}{name}", self.prefix), shape)
    }

    /// A layer norm's scale and shift, named `weight`/`bias` or (older) `gamma`/`beta`.
    fn norm(&mut self, at: &str, size: usize) -> Result<Norm, WeightsError> {
        let old = format!("{}{at}.gamma", self.prefix);
        let (g, b) = if self.weights.contains(&old) {
            ("gamma", "beta")
        } else {
            ("weight", "bias")
        };
        Ok(Norm {
            gamma: self.take(&format!("{at}.{g}"), &[size])?,
            beta: self.take(&format!("{at}.{b}"), &[size])?,
        })
    }

    /// The `(out, in)` weights of the named linear layers, stacked by rows (one row per
    /// output), packed for the product; and their biases, concatenated.
    fn dense(
        &mut self,
        at: &str,
        names: &[&str],
        out: usize,
        inp: usize,
    ) -> Result<(Packed, Vec<f32>), WeightsError> {
        let width = out * names.len();
        let mut rows = Vec::with_capacity(width * inp);
        let mut bias = Vec::with_capacity(width);
        for n in names {
            rows.extend(self.take(&format!("{at}.{n}.weight"), &[out, inp])?);
            bias.extend(self.take(&format!("{at}.{n}.bias"), &[out])?);
        }
        Ok((Packed::from_output_rows(&rows, inp, width), bias))
    }
}

impl Bert {
    /// Takes the encoder's tensors out of `weights`, named as in Hugging Face's
    /// `BertModel` or `XLMRobertaModel` (with or without a `bert.` or `roberta.` prefix);
    /// other tensors (a pooler, a language-model head) stay behind.
    ///
    /// # Errors
    /// A tensor is missing or has the wrong shape, or the config is inconsistent.
    pub fn load(
        weights: &mut Weights,
        config: &EncoderConfig,
        arch: Architecture,
    ) -> Result<Bert, WeightsError> {
        let prefix = ["bert.", "roberta."]
            .into_iter()
            .find(|p| weights.contains(&format!("{p}embeddings.word_embeddings.weight")))
            .unwrap_or("");
        let mut n = Names { weights, prefix };
        let h = config.hidden_size;
        let inter = config.intermediate_size;
        if config.num_attention_heads == 0 || h % config.num_attention_heads != 0 {
            return Err(WeightsError::Invalid(format!(
                "hidden_size {h} is not a multiple of num_attention_heads {}",
                config.num_attention_heads
            )));
        }
        let word = n.take("embeddings.word_embeddings.weight", &[config.vocab_size, h])?;
        let position = n.take(
            "embeddings.position_embeddings.weight",
            &[config.max_position_embeddings, h],
        )?;
        let mut token_type = n.take(
            "embeddings.token_type_embeddings.weight",
            &[config.type_vocab_size, h],
        )?;
        // Every input is one segment: only the first token type's row is ever added.
        token_type.truncate(h);
        if token_type.len() != h {
            return Err(WeightsError::Invalid("no token type embeddings".into()));
        }
        let emb_norm = n.norm("embeddings.LayerNorm", h)?;
        let layers = (0..config.num_hidden_layers)
            .map(|i| {
                let l = format!("encoder.layer.{i}");
                let (qkv_w, qkv_b) = n.dense(
                    &format!("{l}.attention.self"),
                    &["query", "key", "value"],
                    h,
                    h,
                )?;
                let (out_w, out_b) = n.dense(&format!("{l}.attention.output"), &["dense"], h, h)?;
                let attn_norm = n.norm(&format!("{l}.attention.output.LayerNorm"), h)?;
                let (up_w, up_b) = n.dense(&format!("{l}.intermediate"), &["dense"], inter, h)?;
                let (down_w, down_b) = n.dense(&format!("{l}.output"), &["dense"], h, inter)?;
                let ffn_norm = n.norm(&format!("{l}.output.LayerNorm"), h)?;
                Ok(Layer {
                    qkv_w,
                    qkv_b,
                    out_w,
                    out_b,
                    attn_norm,
                    up_w,
                    up_b,
                    down_w,
                    down_b,
                    ffn_norm,
                })
            })
            .collect::<Result<Vec<_>, WeightsError>>()?;
        #[allow(clippy::cast_possible_truncation)]
        let eps = config.layer_norm_eps as f32;
        Ok(Bert {
            word,
            position,
            token_type,
            emb_norm,
            layers,
            hidden: h,
            heads: config.num_attention_heads,
            vocab: config.vocab_size,
            max_tokens: config.max_tokens(arch),
            position_offset: config.position_offset(arch),
            eps,
            act: config.hidden_act,
            scratch: Pool::default(),
        })
    }

    /// Hidden size.
    #[must_use]
    pub fn hidden(&self) -> usize {
        self.hidden
    }

    /// Last hidden states of `seqs`, stacked: row `offsets[i] + j` is token `j` of
    /// sequence `i`, where `offsets` are the running sums of the lengths.
    ///
    /// # Errors
    /// A token id past the vocabulary, a sequence longer than the position table, or a
    /// tensor operation failed.
    pub fn forward(&self, seqs: &[&[u32]]) -> candle_core::Result<Vec<f32>> {
        let h = self.hidden;
        let lens: Vec<usize> = seqs.iter().map(|s| s.len()).collect();
        let total: usize = lens.iter().sum();
        if let Some(&l) = lens.iter().find(|&&l| l > self.max_tokens) {
            candle_core::bail!("a sequence of {l} tokens exceeds {}", self.max_tokens);
        }
        if total == 0 {
            return Ok(Vec::new());
        }
        let mut x = vec![0f32; total * h];
        let mut rows = x.chunks_exact_mut(h);
        for s in seqs {
            for (pos, &id) in s.iter().enumerate() {
                let id = id as usize;
                if id >= self.vocab {
                    candle_core::bail!("token id {id} is outside the vocabulary");
                }
                let row = rows.next().unwrap_or_default();
                let w = &self.word[id * h..(id + 1) * h];
                let at = pos + self.position_offset;
                let p = &self.position[at * h..(at + 1) * h];
                for (((o, a), b), c) in row.iter_mut().zip(w).zip(p).zip(&self.token_type) {
                    *o = a + b + c;
                }
            }
        }
        kernels::norm_rows(&mut x, &self.emb_norm, self.eps);
        let mut s = self.scratch.take();
        let (eps, act) = (self.eps, self.act);
        for layer in &self.layers {
            layer.qkv_w.product_into(&x, &mut s.qkv, &mut s.tiles);
            kernels::attention(&s.qkv, &layer.qkv_b, &lens, self.heads, h, &mut s.ctx)?;
            layer.out_w.product_into(&s.ctx, &mut s.out, &mut s.tiles);
            kernels::add_norm(&s.out, &layer.out_b, &x, &layer.attn_norm, eps, &mut s.attn);
            layer.up_w.product_into(&s.attn, &mut s.up, &mut s.tiles);
            kernels::activate(&mut s.up, &layer.up_b, act);
            layer.down_w.product_into(&s.up, &mut s.down, &mut s.tiles);
            kernels::add_norm(
                &s.down,
                &layer.down_b,
                &s.attn,
                &layer.ffn_norm,
                eps,
                &mut x,
            );
        }
        self.scratch.give(s);
        Ok(x)
    }
}
