#!/usr/bin/env python3
"""Regenerates app/tests/fixtures/minilm_reference.json with sentence-transformers.

The server's accuracy test compares its vectors with these (max abs difference 1e-4).
Run after scripts/fetch-models.sh, in a virtual environment with CPU torch and
sentence-transformers:

    python3 -m venv /tmp/st && /tmp/st/bin/pip install torch sentence-transformers
    /tmp/st/bin/python scripts/make-reference-vectors.py [MODEL_DIR]

MODEL_DIR defaults to $AKIDB_TEST_MODEL_DIR or <repo>/.models.
"""

import json
import os
import pathlib
import sys

from sentence_transformers import SentenceTransformer
import sentence_transformers
import torch

REPO = pathlib.Path(__file__).resolve().parent.parent
MODELS = pathlib.Path(
    sys.argv[1] if len(sys.argv) > 1 else os.environ.get("AKIDB_TEST_MODEL_DIR", REPO / ".models")
)
OUT = REPO / "app" / "tests" / "fixtures" / "minilm_reference.json"

LONG = " ".join(
    f"Sentence number {i} talks about vector search, batching and Kubernetes probes."
    for i in range(40)
)

SENTENCES = [
    "Hello world",
    "The quick brown fox jumps over the lazy dog.",
    "Kubernetes readiness probes decide when a pod receives traffic.",
    "Candle is a minimalist machine learning framework for Rust.",
    "Un café, s'il vous plaît — naïve façade, déjà vu!",
    "",
    "a",
    "Embeddings map sentences to points in a 384-dimensional space where similar meanings lie close together.",
    LONG,  # over 256 tokens: checks truncation at 256, not the tokenizer.json's 128
]


def main() -> None:
    model = SentenceTransformer(str(MODELS / "all-MiniLM-L6-v2"), device="cpu")
    assert model.max_seq_length == 256, model.max_seq_length
    vectors = model.encode(
        SENTENCES, batch_size=1, normalize_embeddings=True, convert_to_numpy=True
    )
    tokens = [len(model.tokenizer(s, truncation=True, max_length=256)["input_ids"]) for s in SENTENCES]
    OUT.write_text(
        json.dumps(
            {
                "model": "all-MiniLM-L6-v2",
                "generator": "scripts/make-reference-vectors.py",
                "sentence_transformers": sentence_transformers.__version__,
                "torch": torch.__version__,
                "normalize": True,
                "sentences": SENTENCES,
                "tokens": tokens,
                "embeddings": [[round(float(x), 7) for x in v] for v in vectors],
            },
            indent=1,
        )
        + "\n"
    )
    print(f"wrote {OUT} ({len(SENTENCES)} sentences, tokens {tokens})")


if __name__ == "__main__":
    main()
