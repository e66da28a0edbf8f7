#!/usr/bin/env python3
"""The references the server is measured against, in-process on CPU (no HTTP, which
favours them):

- `--backend st` (default): sentence-transformers on PyTorch, `torch.set_num_threads`;
- `--backend onnx`: ONNX Runtime on the same model exported with `torch.onnx.export`
  (cached beside the venv), `intra_op_num_threads` threads, each batch padded to its
  longest text, mean pooling and normalisation in numpy, tokenized by the model's own
  tokenizer.json (`tokenizers`, as fast as the server's).

Before anything is timed, each backend's vectors for the reference sentences are checked
against `app/tests/fixtures/minilm_reference.json` (sentence-transformers' own, within
1e-4), so a faster path that computes something else is caught, not measured.

Runs the workload of bench/workload.py and prints one JSON object: versions, resident
memory and the rows of the sweep. Run it alone with

    VENV/bin/python bench/st_bench.py MODEL_DIR [--backend onnx] [--threads 2] [--seconds 3]

With `--serve` it loads the model, prints a JSON header line, then runs one cell per line
of stdin (`BATCH CLIENTS SECONDS WARMUP [TOKENS]`) and answers each with a JSON line: that
is how `bench/server_bench.py` alternates the systems cell by cell, so a shared machine's
drifting speed hits all alike. `--single N` prints the in-process latency of one short
sentence (p50 and p99 over N calls) in the header.

Concurrent clients are served one call at a time (a lock), as one worker serves requests;
`--parallel` lets every client in at once instead (docs/performance.md has both).
"""

import argparse
import contextlib
import json
import os
import resource
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import workload  # noqa: E402

import numpy as np  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REFERENCE = os.path.join(REPO, "app", "tests", "fixtures", "minilm_reference.json")


class SentenceTransformers:
    def __init__(self, model_dir, threads):
        import torch
        from sentence_transformers import SentenceTransformer, __version__ as st_version

        torch.set_num_threads(threads)
        self.torch = torch
        self.model = SentenceTransformer(model_dir, device="cpu")
        self.model.eval()
        self.name = f"sentence-transformers {st_version} / torch {torch.__version__}"

    def tokens(self, texts):
        enc = self.model.tokenizer(texts, truncation=True, max_length=self.model.max_seq_length)
        return sum(len(ids) for ids in enc["input_ids"])

    def encode(self, texts):
        with self.torch.inference_mode():
            return self.model.encode(texts, batch_size=len(texts), convert_to_numpy=True,
                                     normalize_embeddings=True)


def export_onnx(model_dir, path):
    """all-MiniLM-L6-v2's transformer as ONNX (inputs ids, mask, token types; output the
    last hidden states), with dynamic batch and sequence axes."""
    import torch
    from transformers import AutoModel

    class LastHidden(torch.nn.Module):
        """BertModel by keyword (its positional order changed across transformers
        versions), returning the last hidden states only."""

        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    model = LastHidden(AutoModel.from_pretrained(model_dir)).eval()
    ids = torch.ones((2, 8), dtype=torch.int64)
    args = (ids, torch.ones_like(ids), torch.zeros_like(ids))
    names = ["input_ids", "attention_mask", "token_type_ids"]
    axes = {n: {0: "batch", 1: "sequence"} for n in names}
    axes["last_hidden_state"] = {0: "batch", 1: "sequence"}
    tmp = path + ".tmp"
    # The exporters print progress on stdout, which carries this worker's answers.
    with torch.no_grad(), contextlib.redirect_stdout(sys.stderr):
        try:
            torch.onnx.export(model, args, tmp, input_names=names, output_names=["last_hidden_state"],
                              dynamic_axes=axes, opset_version=17, dynamo=False)
        except Exception as legacy:  # noqa: BLE001 - the TorchScript exporter may be gone
            print(f"TorchScript export failed ({legacy}); using the dynamo exporter", file=sys.stderr)
            batch, seq = torch.export.Dim("batch"), torch.export.Dim("sequence")
            shapes = {n: {0: batch, 1: seq} for n in names}
            torch.onnx.export(model, args, tmp, input_names=names, output_names=["last_hidden_state"],
                              dynamic_shapes=shapes, opset_version=18, dynamo=True)
    os.replace(tmp, path)


class OnnxRuntime:
    def __init__(self, model_dir, threads, cache):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        path = os.path.join(cache, "all-MiniLM-L6-v2.onnx")
        if not os.path.exists(path):
            os.makedirs(cache, exist_ok=True)
            export_onnx(model_dir, path)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
        self.tokenizer = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
        self.tokenizer.enable_truncation(256)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self.name = f"ONNX Runtime {ort.__version__} (torch.onnx.export)"

    def tokens(self, texts):
        return sum(sum(e.attention_mask) for e in self.tokenizer.encode_batch(texts))

    def encode(self, texts):
        enc = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in enc], dtype=np.int64)
        mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
        (hidden,) = self.session.run(None, {"input_ids": ids, "attention_mask": mask,
                                            "token_type_ids": np.zeros_like(ids)})
        m = mask[:, :, None].astype(np.float32)
        pooled = (hidden * m).sum(1) / np.maximum(m.sum(1), 1e-9)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)


def check_accuracy(backend):
    """The backend's vectors against sentence-transformers' reference, within 1e-4."""
    with open(REFERENCE) as f:
        ref = json.load(f)
    got = backend.encode(ref["sentences"])
    diff = float(np.abs(np.asarray(got) - np.asarray(ref["embeddings"])).max())
    if diff > 1e-4:
        sys.exit(f"{backend.name}: max abs diff {diff} from the reference vectors (> 1e-4)")
    return diff


def single_latency(backend, calls):
    """p50 and p99 ms of one short sentence, in-process, one call at a time."""
    times = []
    for i in range(calls):
        texts = workload.batch_of(1, offset=i)
        t0 = time.perf_counter()
        backend.encode(texts)
        times.append((time.perf_counter() - t0) * 1000)
    return {"p50_ms": workload.percentile(times, 50), "p99_ms": workload.percentile(times, 99)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model_dir")
    ap.add_argument("--backend", choices=("st", "onnx"), default="st")
    ap.add_argument("--onnx-cache", default=os.path.join(REPO, "target", "bench-onnx"),
                    help="where the exported model is kept (default target/bench-onnx)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--warmup", type=float, default=0.5)
    ap.add_argument("--single", type=int, default=0, help="time this many single-sentence calls")
    ap.add_argument("--parallel", action="store_true", help="no lock around encode")
    ap.add_argument("--serve", action="store_true", help="run the cells asked for on stdin")
    args = ap.parse_args()

    if args.backend == "st":
        backend = SentenceTransformers(args.model_dir, args.threads)
    else:
        backend = OnnxRuntime(args.model_dir, args.threads, args.onnx_cache)
    accuracy = check_accuracy(backend)
    token_counts = {}

    def tokens(texts):
        key = tuple(texts)
        if key not in token_counts:
            token_counts[key] = backend.tokens(texts)
        return token_counts[key]

    gate = threading.Lock() if not args.parallel else contextlib.nullcontext()

    def make_call():
        def call(texts):
            with gate:
                backend.encode(texts)
            return tokens(texts)
        return call

    for b in workload.BATCHES:
        make_call()(workload.batch_of(b))
    header = {"name": backend.name, "threads": args.threads, "max_abs_diff": accuracy}
    if args.single:
        header["single"] = single_latency(backend, args.single)
    if args.serve:
        print(json.dumps(header), flush=True)
        for line in sys.stdin:
            batch, clients, seconds, warmup, *length = line.split()
            row = workload.run_cell(make_call, int(batch), int(clients), float(seconds), float(warmup),
                                    length=int(length[0]) if length else 0)
            row["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(json.dumps(row), flush=True)
        return
    rows = workload.sweep(make_call, seconds=args.seconds, warmup=args.warmup,
                          log=lambda line: print(line, file=sys.stderr))
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(dict(header, parallel=args.parallel, peak_rss_mib=rss_mib, rows=rows)))


if __name__ == "__main__":
    main()
