#!/usr/bin/env python3
"""An independent reference for the server's vectors: a sentence-transformers model
folder run in numpy, in float64, following Hugging Face's BertModel / XLMRobertaModel
arithmetic and sentence-transformers' Pooling and Normalize modules.

Nothing here comes from the server: the weights are read from model.safetensors with
numpy, the text is tokenized by the `tokenizers` package from tokenizer.json, and
pooling, normalisation and prompts come from the folder's own files.

    reference_forward.py MODEL_FOLDER < request.json > vectors.json

request.json: {"cases": [{"texts": [...], "prompt": NAME|null, "normalize": BOOL|null}]}
`prompt` null means the folder's default_prompt_name (none if unset); `normalize` null
means what modules.json says (unit vectors when the folder has no modules.json).
The answer: {"cases": [{"vectors": [[...], ...], "tokens": [N, ...]}]}.
"""

import json
import math
import pathlib
import sys

import numpy as np
from tokenizers import Tokenizer

DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "I64": np.int64}


def read_safetensors(path):
    data = path.read_bytes()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + n])
    base = 8 + n
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        start, stop = entry["data_offsets"]
        raw = data[base + start : base + stop]
        if entry["dtype"] == "BF16":
            u16 = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
            values = u16.view(np.float32)
        else:
            values = np.frombuffer(raw, dtype=np.dtype(DTYPES[entry["dtype"]]).newbyteorder("<"))
        tensors[name] = values.reshape(entry["shape"]).astype(np.float64)
    return tensors


def optional_json(path):
    return json.loads(path.read_text()) if path.is_file() else None


class Model:
    def __init__(self, folder):
        self.folder = folder
        self.config = json.loads((folder / "config.json").read_text())
        model_type = self.config.get("model_type", "bert")
        if model_type not in ("bert", "xlm-roberta", "roberta"):
            raise SystemExit(f"reference: model_type {model_type} is not BERT or RoBERTa")
        self.offset = 0 if model_type == "bert" else self.config.get("pad_token_id", 1) + 1
        w = read_safetensors(folder / "model.safetensors")
        for prefix in ("bert.", "roberta."):
            if prefix + "embeddings.word_embeddings.weight" in w:
                w = {k[len(prefix) :]: v for k, v in w.items() if k.startswith(prefix)}
        self.w = w
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.no_padding()
        positions = self.config["max_position_embeddings"] - self.offset
        sbert = optional_json(folder / "sentence_bert_config.json") or {}
        self.tokenizer.enable_truncation(min(sbert.get("max_seq_length") or positions, positions))

        modules = optional_json(folder / "modules.json")
        pooling_dir = "1_Pooling"
        self.normalize = True
        if modules is not None:
            kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
            self.normalize = "Normalize" in kinds
            for m in modules:
                if m["type"].endswith(".Pooling"):
                    pooling_dir = m["path"]
        pooling = optional_json(folder / pooling_dir / "config.json") or {
            "pooling_mode_mean_tokens": True
        }
        modes = [k for k, v in pooling.items() if k.startswith("pooling_mode_") and v is True]
        assert len(modes) == 1, modes
        self.pooling = modes[0][len("pooling_mode_") :]
        st = optional_json(folder / "config_sentence_transformers.json") or {}
        self.prompts = st.get("prompts", {})
        self.default_prompt = st.get("default_prompt_name")

    def layer_norm(self, x, name):
        eps = self.config.get("layer_norm_eps", 1e-12)
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + eps) * self.w[name + ".weight"] + self.w[name + ".bias"]

    def dense(self, x, name):
        return x @ self.w[name + ".weight"].T + self.w[name + ".bias"]

    def act(self, x):
        kind = self.config.get("hidden_act", "gelu")
        if kind == "gelu":
            return 0.5 * x * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))
        if kind == "relu":
            return np.maximum(x, 0)
        raise SystemExit(f"reference: hidden_act {kind} not implemented")

    def states(self, ids):
        n = len(ids)
        x = (
            self.w["embeddings.word_embeddings.weight"][ids]
            + self.w["embeddings.position_embeddings.weight"][self.offset : self.offset + n]
            + self.w["embeddings.token_type_embeddings.weight"][0]
        )
        x = self.layer_norm(x, "embeddings.LayerNorm")
        heads = self.config["num_attention_heads"]
        d = x.shape[1] // heads
        for i in range(self.config["num_hidden_layers"]):
            p = f"encoder.layer.{i}."
            split = lambda t: t.reshape(n, heads, d).transpose(1, 0, 2)  # noqa: E731
            q = split(self.dense(x, p + "attention.self.query"))
            k = split(self.dense(x, p + "attention.self.key"))
            v = split(self.dense(x, p + "attention.self.value"))
            scores = q @ k.transpose(0, 2, 1) / math.sqrt(d)
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            ctx = (scores @ v).transpose(1, 0, 2).reshape(n, heads * d)
            x = self.layer_norm(
                self.dense(ctx, p + "attention.output.dense") + x, p + "attention.output.LayerNorm"
            )
            up = self.act(self.dense(x, p + "intermediate.dense"))
            x = self.layer_norm(self.dense(up, p + "output.dense") + x, p + "output.LayerNorm")
        return x

    def pool(self, h):
        if self.pooling == "cls_token":
            return h[0]
        if self.pooling == "mean_tokens":
            return h.mean(0)
        if self.pooling == "max_tokens":
            return h.max(0)
        if self.pooling == "mean_sqrt_len_tokens":
            return h.sum(0) / math.sqrt(h.shape[0])
        raise SystemExit(f"reference: pooling {self.pooling} not implemented")

    def embed(self, texts, prompt, normalize):
        name = prompt if prompt is not None else self.default_prompt
        prefix = self.prompts[name] if name is not None else ""
        vectors, tokens = [], []
        for t in texts:
            ids = self.tokenizer.encode(prefix + t).ids
            tokens.append(len(ids))
            v = self.pool(self.states(np.array(ids)))
            if self.normalize if normalize is None else normalize:
                v = v / max(np.linalg.norm(v), 1e-12)
            vectors.append(v.tolist())
        return {"vectors": vectors, "tokens": tokens}


def main():
    model = Model(pathlib.Path(sys.argv[1]))
    request = json.load(sys.stdin)
    answer = [model.embed(c["texts"], c.get("prompt"), c.get("normalize")) for c in request["cases"]]
    json.dump({"cases": answer}, sys.stdout)


if __name__ == "__main__":
    main()
