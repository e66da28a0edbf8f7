#!/usr/bin/env python3
"""End-to-end benchmark of the akidb-embed server over real HTTP (stdlib only).

Starts the given server binary on a free port with the real all-MiniLM-L6-v2, then reports:
time from start to ready, resident memory when loaded and idle, latency of one short
sentence (p50/p99 over a keep-alive connection), and throughput of batches of 32 short
sentences. Prints a Markdown table; `make bench` runs it on a release build.

Usage: server_bench.py BINARY MODEL_DIR [--requests N] [--batches N] [--threads N]
"""

import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "A man is playing a guitar on stage.",
    "Kubernetes schedules pods onto nodes.",
    "The weather is lovely today in the park.",
    "Embeddings map sentences to vectors.",
    "She ordered a coffee and a croissant.",
    "The train to Berlin leaves at nine.",
    "Rust makes memory safety the default.",
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values, p):
    values = sorted(values)
    k = min(len(values) - 1, max(0, round(p / 100 * (len(values) - 1))))
    return values[k]


class Client:
    def __init__(self, port):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def embed(self, texts):
        body = json.dumps({"texts": texts})
        self.conn.request("POST", "/api/v1/embed", body, {"content-type": "application/json"})
        resp = self.conn.getresponse()
        data = resp.read()
        if resp.status != 200:
            raise RuntimeError(f"HTTP {resp.status}: {data[:200]!r}")
        return json.loads(data)

    def status(self, path):
        self.conn.request("GET", path)
        resp = self.conn.getresponse()
        resp.read()
        return resp.status


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("binary")
    ap.add_argument("model_dir")
    ap.add_argument("--requests", type=int, default=200, help="single-sentence requests (default 200)")
    ap.add_argument("--batches", type=int, default=20, help="batches of 32 (default 20)")
    ap.add_argument("--threads", type=int, default=2, help="RAYON_NUM_THREADS (default 2)")
    args = ap.parse_args()

    port, metrics_port = free_port(), free_port()
    env = dict(os.environ, AKIDB_MODEL_DIR=args.model_dir, AKIDB_REST_PORT=str(port),
               AKIDB_HOST="127.0.0.1", RAYON_NUM_THREADS=str(args.threads), RUST_LOG="warn")
    with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as cfg:
        cfg.write(f"[observability]\nmetrics_port = {metrics_port}\n")
    start = time.perf_counter()
    proc = subprocess.Popen([args.binary, "--config", cfg.name], env=env, stdout=subprocess.DEVNULL)
    try:
        ready_s = None
        while time.perf_counter() - start < 60:
            if proc.poll() is not None:
                sys.exit(f"server exited with {proc.returncode}")
            try:
                if Client(port).status("/health/ready") == 200:
                    ready_s = time.perf_counter() - start
                    break
            except OSError:
                pass
            time.sleep(0.01)
        if ready_s is None:
            sys.exit("server not ready within 60 s")
        time.sleep(1.0)
        idle_rss = rss_mib(proc.pid)

        client = Client(port)
        for i in range(10):
            client.embed([SENTENCES[i % len(SENTENCES)]])
        lat = []
        for i in range(args.requests):
            t0 = time.perf_counter()
            client.embed([SENTENCES[i % len(SENTENCES)]])
            lat.append((time.perf_counter() - t0) * 1000)
        batch = [SENTENCES[i % len(SENTENCES)] + f" ({i})" for i in range(32)]
        client.embed(batch)
        times = []
        tokens = 0
        for _ in range(args.batches):
            t0 = time.perf_counter()
            r = client.embed(batch)
            times.append(time.perf_counter() - t0)
            tokens = r["usage"]["tokens"]
        med = statistics.median(times)
        peak_rss = rss_mib(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        os.unlink(cfg.name)

    print(f"| measure | value |\n|---|---|")
    print(f"| start to ready | {ready_s:.2f} s |")
    print(f"| resident memory, MiniLM loaded, idle | {idle_rss:.0f} MiB |")
    print(f"| resident memory after the run | {peak_rss:.0f} MiB |")
    print(f"| one sentence over HTTP, p50 / p99 ({args.requests} requests) | {percentile(lat, 50):.1f} / {percentile(lat, 99):.1f} ms |")
    print(f"| batch of 32 short sentences, median ({args.batches} batches) | {med * 1000:.0f} ms = {32 / med:.0f} sentences/s, {tokens / med:.0f} tokens/s |")
    print(f"| exit after SIGTERM | {proc.returncode} |")


if __name__ == "__main__":
    main()
