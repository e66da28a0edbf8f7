"""The real client libraries against a running akidb-embed, compared with the reference
vectors of sentence-transformers.

Run by app/tests/clients.rs: python clients.py BASE_URL REFERENCE_JSON. Exits 1 with a
message on the first mismatch; prints one line per check that passed.
"""

import base64
import json
import struct
import sys

import numpy as np
import openai
from huggingface_hub import InferenceClient
from huggingface_hub.errors import HfHubHTTPError
from langchain_openai import OpenAIEmbeddings

TOLERANCE = 1e-4
MODEL = "all-MiniLM-L6-v2"


def close(name, got, want):
    got = np.asarray(got, dtype=np.float32)
    want = np.asarray(want, dtype=np.float32)
    if got.shape != want.shape:
        sys.exit(f"{name}: shape {got.shape}, expected {want.shape}")
    diff = float(np.max(np.abs(got - want)))
    if diff > TOLERANCE:
        sys.exit(f"{name}: max abs diff {diff} > {TOLERANCE}")
    print(f"ok  {name} (max abs diff {diff:.2e})")


def refused(name, call, status, words):
    try:
        call()
    except (openai.APIStatusError, HfHubHTTPError) as e:
        code = getattr(e, "status_code", None) or e.response.status_code
        text = str(e) + getattr(e.response, "text", "")
        if code != status or not all(w in text for w in words):
            sys.exit(f"{name}: got {code} {text!r}, expected {status} with {words}")
        print(f"ok  {name} ({code})")
        return
    sys.exit(f"{name}: was accepted, expected {status}")


def main(base, reference_path):
    with open(reference_path, encoding="utf-8") as f:
        ref = json.load(f)
    sentences, want = ref["sentences"], ref["embeddings"]

    # openai SDK
    client = openai.OpenAI(base_url=f"{base}/v1", api_key="not-checked")
    ids = [m.id for m in client.models.list()]
    if MODEL not in ids:
        sys.exit(f"openai models.list: {ids} lacks {MODEL}")
    print(f"ok  openai models.list {ids}")
    if client.models.retrieve(MODEL).id != MODEL:
        sys.exit("openai models.retrieve: wrong id")
    print("ok  openai models.retrieve")
    refused("openai models.retrieve unknown", lambda: client.models.retrieve("gpt-4"), 404, ["gpt-4"])

    out = client.embeddings.create(model=MODEL, input=sentences, encoding_format="float")
    close("openai float", [d.embedding for d in out.data], want)
    if out.usage.prompt_tokens != sum(ref["tokens"]):
        sys.exit(f"openai usage: {out.usage.prompt_tokens} != {sum(ref['tokens'])}")
    # Without encoding_format the SDK asks for base64 and decodes it itself.
    out = client.embeddings.create(model=MODEL, input=sentences)
    close("openai default (base64 decoded by the SDK)", [d.embedding for d in out.data], want)
    out = client.embeddings.create(model=MODEL, input=sentences[1], encoding_format="base64")
    raw = base64.b64decode(out.data[0].embedding)
    close("openai base64", struct.unpack(f"<{len(raw) // 4}f", raw), want[1])
    refused(
        "openai dimensions",
        lambda: client.embeddings.create(model=MODEL, input="a", dimensions=64),
        400,
        ["Matryoshka"],
    )
    refused(
        "openai token ids",
        lambda: client.embeddings.create(model=MODEL, input=[[101, 7592, 102]]),
        400,
        ["check_embedding_ctx_length=False"],
    )

    # huggingface_hub's InferenceClient, which speaks TEI
    hf = InferenceClient(model=base)
    close("InferenceClient.feature_extraction batch", hf.feature_extraction(sentences), want)
    close("InferenceClient.feature_extraction one", hf.feature_extraction(sentences[2])[0], want[2])
    long_text = "word " * 300
    left = hf.feature_extraction(long_text + "galaxy", truncate=True, truncation_direction="left")
    right = hf.feature_extraction(long_text + "galaxy", truncate=True, truncation_direction="right")
    if float(np.max(np.abs(left - right))) < 1e-3:
        sys.exit("InferenceClient truncation_direction: left and right gave the same vector")
    print("ok  InferenceClient truncation_direction left differs from right")
    raw = hf.feature_extraction(sentences[1], normalize=False)[0]
    close("InferenceClient normalize=False", raw / np.linalg.norm(raw), want[1])
    refused(
        "InferenceClient truncate=False",
        lambda: hf.feature_extraction(long_text, truncate=False),
        413,
        ["302 tokens", "256"],
    )
    refused(
        "InferenceClient unknown prompt_name",
        lambda: hf.feature_extraction("a", prompt_name="query"),
        413,
        ["prompt `query`"],
    )

    # LangChain's OpenAIEmbeddings. By default it tokenizes with tiktoken and sends
    # OpenAI token ids, which the server refuses (see docs/api.md): text is sent with
    # check_embedding_ctx_length=False.
    lc = OpenAIEmbeddings(
        model=MODEL,
        base_url=f"{base}/v1",
        api_key="not-checked",
        check_embedding_ctx_length=False,
    )
    close("langchain embed_documents", lc.embed_documents(sentences), want)
    close("langchain embed_query", lc.embed_query(sentences[3]), want[3])
    print("all clients passed")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
