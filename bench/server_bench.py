#!/usr/bin/env python3
"""`make bench`: the akidb-embed server over real HTTP against sentence-transformers on
PyTorch CPU, same sentences, same machine, one run.

1. Starts the given server binary with the real all-MiniLM-L6-v2 on a free port and
   measures start-to-ready and resident memory once loaded and idle.
2. Runs the workload of bench/workload.py against it over keep-alive HTTP connections
   (`POST /v1/embeddings`, base64 vectors, as the OpenAI SDKs ask): batches of 1, 8 and
   32 short sentences from 1, 2 and 8 clients at once; sentences/s, tokens/s, p50/p99.
3. Stops the server (so the two never share the cores), then runs bench/st_bench.py in a
   throwaway venv holding sentence-transformers and torch from PyPI (created on first
   use, about 6 GB; `--st-venv` says where), on the same workload in-process.
4. Prints one Markdown table with both and the ratio; `--json FILE` keeps the raw rows.

Usage: server_bench.py BINARY MODEL_DIR [--threads 2] [--seconds 3] [--st-venv DIR] [--no-st]
"""

import argparse
import base64
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import workload  # noqa: E402

# Pinned so a rerun compares against the same reference (the versions measured in
# docs/performance.md).
ST_PACKAGES = ["sentence-transformers==6.2.0", "torch==2.15.0"]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def status_mib(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


class Client:
    """One keep-alive connection to the server."""

    def __init__(self, port):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def get(self, path):
        self.conn.request("GET", path)
        resp = self.conn.getresponse()
        resp.read()
        return resp.status

    def embed(self, texts):
        body = json.dumps({"input": texts, "encoding_format": "base64"})
        self.conn.request("POST", "/v1/embeddings", body, {"content-type": "application/json"})
        resp = self.conn.getresponse()
        data = resp.read()
        if resp.status != 200:
            raise RuntimeError(f"HTTP {resp.status}: {data[:200]!r}")
        out = json.loads(data)
        if len(out["data"]) != len(texts) or len(base64.b64decode(out["data"][0]["embedding"])) != 384 * 4:
            raise RuntimeError("wrong number or size of vectors")
        return out["usage"]["prompt_tokens"]


def bench_server(args):
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
                if Client(port).get("/health/ready") == 200:
                    ready_s = time.perf_counter() - start
                    break
            except OSError:
                pass
            time.sleep(0.005)
        if ready_s is None:
            sys.exit("server not ready within 60 s")
        time.sleep(1.0)
        idle_rss = status_mib(proc.pid, "VmRSS")
        log(f"akidb-embed: ready in {ready_s:.2f} s, {idle_rss:.0f} MiB resident when idle")
        warm = Client(port)
        for b in workload.BATCHES:
            warm.embed(workload.batch_of(b))
        rows = workload.sweep(lambda: Client(port).embed, seconds=args.seconds, log=log)
        peak_rss = status_mib(proc.pid, "VmHWM")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        os.unlink(cfg.name)
    return {"name": "akidb-embed (over HTTP)", "ready_s": ready_s, "idle_rss_mib": idle_rss,
            "peak_rss_mib": peak_rss, "exit": proc.returncode, "rows": rows}


def st_python(venv):
    """The venv's python, creating the venv and installing the pinned packages first."""
    py = os.path.join(venv, "bin", "python")
    probe = [py, "-c", "import sentence_transformers, torch"]
    if os.path.exists(py) and subprocess.run(probe, capture_output=True).returncode == 0:
        return py
    log(f"creating {venv} with {' '.join(ST_PACKAGES)} (about 6 GB, once)")
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    subprocess.run([py, "-m", "pip", "install", "--quiet", *ST_PACKAGES], check=True)
    return py


def bench_st(args):
    py = st_python(args.st_venv)
    log("sentence-transformers:")
    out = subprocess.run(
        [py, os.path.join(os.path.dirname(os.path.abspath(__file__)), "st_bench.py"), args.model_dir,
         "--threads", str(args.threads), "--seconds", str(args.seconds)],
        check=True, stdout=subprocess.PIPE, text=True, env=dict(os.environ, TQDM_DISABLE="1"))
    return json.loads(out.stdout.strip().splitlines()[-1])


def table(server, st):
    lines = []
    head = "| batch | clients | akidb-embed sentences/s | tokens/s | p50 / p99 ms |"
    sep = "|---:|---:|---:|---:|---:|"
    if st:
        head += " sentence-transformers sentences/s | p50 / p99 ms | ratio |"
        sep += "---:|---:|---:|"
    lines += [head, sep]
    st_rows = {(r["batch"], r["concurrency"]): r for r in (st["rows"] if st else [])}
    for r in server["rows"]:
        line = (f"| {r['batch']} | {r['concurrency']} | {r['sentences_per_s']:.0f} | {r['tokens_per_s']:.0f} | "
                f"{r['p50_ms']:.1f} / {r['p99_ms']:.1f} |")
        s = st_rows.get((r["batch"], r["concurrency"]))
        if s:
            line += (f" {s['sentences_per_s']:.0f} | {s['p50_ms']:.1f} / {s['p99_ms']:.1f} | "
                     f"**{r['sentences_per_s'] / s['sentences_per_s']:.2f}x** |")
        lines.append(line)
    lines.append("")
    lines.append(f"akidb-embed: ready in {server['ready_s']:.2f} s; resident memory {server['idle_rss_mib']:.0f} MiB "
                 f"idle with the model loaded, {server['peak_rss_mib']:.0f} MiB peak; exit {server['exit']} after SIGTERM.")
    if st:
        lines.append(f"Reference: {st['name']}, {st['threads']} threads, in-process, one encode at a time; "
                     f"{st['peak_rss_mib']:.0f} MiB peak resident.")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("binary")
    ap.add_argument("model_dir")
    ap.add_argument("--threads", type=int, default=2, help="RAYON_NUM_THREADS / torch threads (default 2)")
    ap.add_argument("--seconds", type=float, default=3.0, help="measured seconds per cell (default 3)")
    ap.add_argument("--st-venv", default=os.environ.get("ST_VENV", "target/bench-venv"),
                    help="venv for sentence-transformers (default target/bench-venv, or $ST_VENV)")
    ap.add_argument("--no-st", action="store_true", help="the server alone")
    ap.add_argument("--json", help="also write the raw results here")
    args = ap.parse_args()

    log(f"{time.strftime('%Y-%m-%d %H:%M:%S %Z')}, load average {os.getloadavg()[0]:.2f}, {os.cpu_count()} CPUs")
    server = bench_server(args)
    st = None if args.no_st else bench_st(args)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"server": server, "sentence_transformers": st}, f, indent=1)
    print(table(server, st))


if __name__ == "__main__":
    main()
