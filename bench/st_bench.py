#!/usr/bin/env python3
"""sentence-transformers on PyTorch CPU, the reference the server is measured against.

Runs the workload of bench/workload.py in-process (no HTTP, which favours it) with
`torch.set_num_threads(THREADS)`, and prints one JSON object: versions, resident memory
and the rows of the sweep. Run it alone with

    VENV/bin/python bench/st_bench.py MODEL_DIR [--threads 2] [--seconds 3]

With `--serve` it loads the model, prints a JSON header line, then runs one cell per line
of stdin (`BATCH CLIENTS SECONDS WARMUP`) and answers each with a JSON line: that is how
`bench/server_bench.py` alternates the two systems cell by cell, so a shared machine's
drifting speed hits both alike.

Concurrent clients are served one `encode` at a time (a lock), as one sentence-transformers
worker serves requests; `--parallel` lets every client into PyTorch at once instead
(docs/performance.md has both).
"""

import argparse
import contextlib
import json
import os
import resource
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import workload  # noqa: E402

import torch  # noqa: E402
from sentence_transformers import SentenceTransformer, __version__ as st_version  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model_dir")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--warmup", type=float, default=0.5)
    ap.add_argument("--parallel", action="store_true", help="no lock around encode")
    ap.add_argument("--serve", action="store_true", help="run the cells asked for on stdin")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    model = SentenceTransformer(args.model_dir, device="cpu")
    model.eval()
    token_counts = {}

    def tokens(texts):
        key = tuple(texts)
        if key not in token_counts:
            enc = model.tokenizer(texts, truncation=True, max_length=model.max_seq_length)
            token_counts[key] = sum(len(ids) for ids in enc["input_ids"])
        return token_counts[key]

    gate = threading.Lock() if not args.parallel else contextlib.nullcontext()

    def make_call():
        def call(texts):
            with gate, torch.inference_mode():
                model.encode(texts, batch_size=len(texts), convert_to_numpy=True)
            return tokens(texts)
        return call

    for b in workload.BATCHES:
        make_call()(workload.batch_of(b))
    name = f"sentence-transformers {st_version} / torch {torch.__version__}"
    if args.serve:
        print(json.dumps({"name": name, "threads": args.threads}), flush=True)
        for line in sys.stdin:
            batch, clients, seconds, warmup = line.split()
            row = workload.run_cell(make_call, int(batch), int(clients), float(seconds), float(warmup))
            row["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(json.dumps(row), flush=True)
        return
    rows = workload.sweep(make_call, seconds=args.seconds, warmup=args.warmup,
                          log=lambda line: print(line, file=sys.stderr))
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({
        "name": name,
        "threads": args.threads,
        "parallel": args.parallel,
        "peak_rss_mib": rss_mib,
        "rows": rows,
    }))


if __name__ == "__main__":
    main()
