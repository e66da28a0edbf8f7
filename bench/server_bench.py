#!/usr/bin/env python3
"""`make bench`: the akidb-embed server over real HTTP against sentence-transformers on
PyTorch CPU, same sentences, same machine, one run.

1. Starts the given server binary with the real all-MiniLM-L6-v2 on a free port and
   measures start-to-ready and resident memory once loaded and idle.
2. Starts bench/st_bench.py --serve in a throwaway venv holding sentence-transformers and
   torch from PyPI (created on first use, about 6 GB; `--st-venv` says where).
3. Runs the workload of bench/workload.py: batches of 1, 8 and 32 short sentences from
   1, 2 and 8 clients at once, each cell first against the server over keep-alive HTTP
   (`POST /v1/embeddings`, base64 vectors, as the OpenAI SDKs ask), then against
   sentence-transformers in-process. Only one of the two works at a time; alternating
   cell by cell keeps a shared machine's drifting speed from favouring either.
4. Prints one Markdown table with sentences/s, tokens/s, p50/p99 and the ratio;
   `--json FILE` keeps the raw rows.

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


def start_server(args):
    """Starts the server; returns (process, port, config file, ready seconds, idle MiB)."""
    port, metrics_port = free_port(), free_port()
    env = dict(os.environ, AKIDB_MODEL_DIR=args.model_dir, AKIDB_REST_PORT=str(port),
               AKIDB_HOST="127.0.0.1", RAYON_NUM_THREADS=str(args.threads), RUST_LOG="warn")
    with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as cfg:
        cfg.write(f"[observability]\nmetrics_port = {metrics_port}\n")
    start = time.perf_counter()
    proc = subprocess.Popen([args.binary, "--config", cfg.name], env=env, stdout=subprocess.DEVNULL)
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
        proc.kill()
        sys.exit("server not ready within 60 s")
    time.sleep(1.0)
    idle_rss = status_mib(proc.pid, "VmRSS")
    log(f"akidb-embed: ready in {ready_s:.2f} s, {idle_rss:.0f} MiB resident when idle")
    return proc, port, cfg.name, ready_s, idle_rss


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


class StWorker:
    """bench/st_bench.py --serve: one cell per request, in its own venv's python."""

    def __init__(self, args):
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "st_bench.py")
        self.proc = subprocess.Popen(
            [st_python(args.st_venv), script, os.path.join(args.model_dir, "all-MiniLM-L6-v2"),
             "--threads", str(args.threads), "--serve"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            env=dict(os.environ, TQDM_DISABLE="1"))
        self.header = self._answer()

    def _answer(self):
        line = self.proc.stdout.readline()
        if not line:
            sys.exit(f"sentence-transformers worker exited with {self.proc.wait()}")
        return json.loads(line)

    def cell(self, batch, clients, seconds, warmup):
        self.proc.stdin.write(f"{batch} {clients} {seconds} {warmup}\n")
        self.proc.stdin.flush()
        return self._answer()

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def run(args):
    proc, port, cfg, ready_s, idle_rss = start_server(args)
    st = None
    try:
        if not args.no_st:
            st = StWorker(args)
        warm = Client(port)
        for b in workload.BATCHES:
            warm.embed(workload.batch_of(b))
        rows, st_rows = [], []
        for b in workload.BATCHES:
            for c in workload.CONCURRENCY:
                r = workload.run_cell(lambda: Client(port).embed, b, c, args.seconds, 0.5)
                rows.append(r)
                msg = (f"batch {b:2d} x {c} clients: akidb-embed {r['sentences_per_s']:5.0f} sentences/s, "
                       f"p50 {r['p50_ms']:6.1f} ms")
                if st:
                    s = st.cell(b, c, args.seconds, 0.5)
                    st_rows.append(s)
                    msg += (f"; sentence-transformers {s['sentences_per_s']:5.0f} sentences/s, "
                            f"p50 {s['p50_ms']:6.1f} ms")
                log(msg)
        peak_rss = status_mib(proc.pid, "VmHWM")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        os.unlink(cfg)
        if st:
            st.close()
    server = {"name": "akidb-embed (over HTTP)", "ready_s": ready_s, "idle_rss_mib": idle_rss,
              "peak_rss_mib": peak_rss, "exit": proc.returncode, "rows": rows}
    st_result = None
    if st:
        st_result = dict(st.header, rows=st_rows, peak_rss_mib=max(r["peak_rss_mib"] for r in st_rows))
    return server, st_result


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
    server, st = run(args)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"server": server, "sentence_transformers": st}, f, indent=1)
    print(table(server, st))


if __name__ == "__main__":
    main()
