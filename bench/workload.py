"""The workload every embedding benchmark here runs, whatever serves it (stdlib only).

Short English sentences of 10-20 tokens; batches of 1, 8 and 32 of them; 1, 2 and 8
clients sending at once, each waiting for its answer before sending the next batch
(closed loop). `sweep` runs one cell per (batch, concurrency) pair against any
`call(texts) -> tokens` and measures throughput and latency; both the HTTP server
benchmark and the sentence-transformers one use it, so they see the same texts.
"""

import os
import statistics
import threading
import time

# One sentence per line, shared with the Rust forward-pass benchmarks
# (app/benches/common/workload.rs), so every benchmark embeds the same texts.
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "sentences.txt")) as f:
    SENTENCES = [line.strip() for line in f if line.strip()]

BATCHES = (1, 8, 32)
CONCURRENCY = (1, 2, 8)

# Longer texts, in tokens per text (special tokens included), for how time grows with
# length: batches of LENGTH_BATCH texts from one client. 256 is all-MiniLM-L6-v2's limit;
# every system cuts there.
LENGTHS = (64, 128, 256)
LENGTH_BATCH = 8

# A sentence of the file is 13-16 tokens with [CLS]/[SEP]: about 12.5 of its own.
_TOKENS_PER_SENTENCE = 12.5


def text_of(tokens, offset=0):
    """About `tokens` tokens of text: consecutive sentences joined; more than 256 for 256,
    so truncation makes every system see exactly the limit."""
    if tokens <= 0:
        return SENTENCES[offset % len(SENTENCES)]
    count = max(1, round((tokens - 2) / _TOKENS_PER_SENTENCE) + (2 if tokens >= 256 else 0))
    return " ".join(SENTENCES[(offset + i) % len(SENTENCES)] for i in range(count))


def batch_of(size, offset=0, tokens=0):
    """`size` texts, cycling through `SENTENCES` from `offset` (no system caches): single
    sentences, or texts of about `tokens` tokens."""
    return [text_of(tokens, offset + i) for i in range(size)]


def percentile(values, p):
    """Nearest-rank percentile of a non-empty list."""
    values = sorted(values)
    k = min(len(values) - 1, max(0, round(p / 100 * (len(values) - 1))))
    return values[k]


def run_cell(make_call, batch, concurrency, seconds, warmup, length=0):
    """Closed-loop load: `concurrency` threads, each with its own `make_call()`, send
    batches of `batch` texts (sentences, or about `length` tokens each) for `warmup`
    seconds (not counted), then for `seconds`. Returns a dict of measures."""
    calls = [make_call() for _ in range(concurrency)]
    lock = threading.Lock()
    latencies, errors = [], []
    # Per client: (sentences, tokens, first counted start, last counted finish). Summing
    # each client's own rate counts a closed loop without edge effects from requests
    # that straddle the window.
    spans = []
    start = time.perf_counter()
    measure_from = start + warmup
    stop = measure_from + seconds

    def client(idx):
        call = calls[idx]
        n, mine, sentences, tokens, first, last = 0, [], 0, 0, None, None
        try:
            while True:
                texts = batch_of(batch, offset=idx + n, tokens=length)
                n += 1
                t0 = time.perf_counter()
                if t0 >= stop:
                    break
                used = call(texts)
                t1 = time.perf_counter()
                if t0 >= measure_from:
                    mine.append((t1 - t0) * 1000)
                    sentences += len(texts)
                    tokens += used
                    first = t0 if first is None else first
                    last = t1
        except Exception as e:  # noqa: BLE001 - reported, and the run fails
            with lock:
                errors.append(repr(e))
            return
        with lock:
            latencies.extend(mine)
            if mine:
                spans.append((sentences, tokens, first, last))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(f"batch {batch}, concurrency {concurrency}: {errors[0]}")
    if not latencies:
        raise RuntimeError(f"batch {batch}, concurrency {concurrency}: no request finished")
    return {
        "batch": batch,
        "concurrency": concurrency,
        "length": length,
        "requests": len(latencies),
        "sentences_per_s": sum(s / (t1 - t0) for s, _, t0, t1 in spans),
        "tokens_per_s": sum(k / (t1 - t0) for _, k, t0, t1 in spans),
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
        "mean_ms": statistics.fmean(latencies),
    }


def sweep(make_call, seconds=3.0, warmup=0.5, batches=BATCHES, concurrency=CONCURRENCY, log=None):
    """Every (batch, concurrency) cell in turn."""
    rows = []
    for b in batches:
        for c in concurrency:
            row = run_cell(make_call, b, c, seconds, warmup)
            if log:
                log(f"  batch {b:2d} x {c} clients: {row['sentences_per_s']:7.0f} sentences/s, "
                    f"p50 {row['p50_ms']:6.1f} ms, p99 {row['p99_ms']:6.1f} ms")
            rows.append(row)
    return rows
