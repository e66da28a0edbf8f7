#!/usr/bin/env python3
"""sentence-transformers on PyTorch CPU with 2 threads, on the same sentences and batches as
bench/server_bench.py, for a side-by-side ratio (run both in the same minute).

Needs sentence-transformers and torch (a throwaway venv: about 6 GB):
    python3 -m venv /tmp/st && /tmp/st/bin/pip install sentence-transformers
    /tmp/st/bin/python bench/st_compare.py .models/all-MiniLM-L6-v2

Measures in-process (no HTTP), which favours it slightly against the server's numbers.
"""

import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_bench import SENTENCES, percentile  # noqa: E402

import torch  # noqa: E402
from sentence_transformers import SentenceTransformer, __version__ as st_version  # noqa: E402


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    torch.set_num_threads(2)
    model = SentenceTransformer(sys.argv[1], device="cpu")
    for i in range(10):
        model.encode([SENTENCES[i % len(SENTENCES)]])
    lat = []
    for i in range(200):
        t0 = time.perf_counter()
        model.encode([SENTENCES[i % len(SENTENCES)]])
        lat.append((time.perf_counter() - t0) * 1000)
    batch = [SENTENCES[i % len(SENTENCES)] + f" ({i})" for i in range(32)]
    model.encode(batch, batch_size=32)
    times = []
    for _ in range(20):
        t0 = time.perf_counter()
        model.encode(batch, batch_size=32)
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    print(f"| sentence-transformers {st_version}, torch {torch.__version__}, 2 threads | "
          f"one sentence p50 {percentile(lat, 50):.1f} ms (in-process) | "
          f"batch of 32: {med * 1000:.0f} ms = {32 / med:.0f} sentences/s |")


if __name__ == "__main__":
    main()
