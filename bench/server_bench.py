#!/usr/bin/env python3
"""`make bench`: the akidb-embed server over real HTTP against sentence-transformers on
PyTorch and ONNX Runtime, both on CPU, same texts, same machine, one run.

1. Starts the given server binary with the real all-MiniLM-L6-v2 on a free port and
   measures start-to-ready and resident memory once loaded and idle.
2. Starts bench/st_bench.py --serve twice in a throwaway venv (sentence-transformers,
   torch, onnxruntime, onnx from PyPI; created on first use, about 6 GB; `--st-venv` says
   where): once with sentence-transformers, once with ONNX Runtime on the model exported
   by torch.onnx.export. Each checks its vectors against the reference ones first and
   times single-sentence calls in-process.
3. Runs the workload of bench/workload.py: batches of 1, 8 and 32 short sentences from
   1, 2 and 8 clients at once, then batches of 8 texts of about 64, 128 and 256 tokens;
   each cell first against the server over keep-alive HTTP (`POST /v1/embeddings`,
   base64 vectors, as the OpenAI SDKs ask), then against each reference in-process. Only
   one system works at a time; alternating cell by cell keeps a shared machine's drifting
   speed from favouring any.
4. Prints the CPU model and vector extensions, then Markdown tables with sentences/s,
   tokens/s, p50/p99 and the ratio to the faster reference per cell; `--json FILE` keeps
   the raw rows.

Usage: server_bench.py BINARY MODEL_DIR [--threads 2] [--seconds 3] [--st-venv DIR] [--no-st]
"""

import argparse
import base64
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import machine  # noqa: E402
import workload  # noqa: E402

# Pinned so a rerun compares against the same reference (the versions measured in
# docs/performance.md).
ST_PACKAGES = ["sentence-transformers==6.2.0", "torch==2.15.0", "onnxruntime==1.31.1", "onnx==1.23.2",
               "onnxscript==0.7.2"]


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


def kernels(metrics_port):
    """The vector instructions the server's kernels chose, from its akidb_build_info."""
    conn = http.client.HTTPConnection("127.0.0.1", metrics_port, timeout=10)
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    for line in text.splitlines():
        m = re.match(r'akidb_build_info\{.*simd="([^"]+)".*\} 1$', line)
        if m:
            return m.group(1)
    sys.exit("the server's /metrics has no akidb_build_info line naming its kernels")


def start_server(args):
    """Starts the server; returns (process, port, config file, ready seconds, idle MiB,
    kernels)."""
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
    simd = kernels(metrics_port)
    log(f"akidb-embed: ready in {ready_s:.2f} s, {idle_rss:.0f} MiB resident when idle, {simd} kernels")
    return proc, port, cfg.name, ready_s, idle_rss, simd


def st_python(venv):
    """The venv's python, creating the venv and installing the pinned packages first."""
    py = os.path.join(venv, "bin", "python")
    probe = [py, "-c", "import sentence_transformers, torch, onnxruntime, onnx"]
    if os.path.exists(py) and subprocess.run(probe, capture_output=True).returncode == 0:
        return py
    log(f"creating {venv} with {' '.join(ST_PACKAGES)} (about 6 GB, once)")
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    subprocess.run([py, "-m", "pip", "install", "--quiet", *ST_PACKAGES], check=True)
    return py


class RefWorker:
    """bench/st_bench.py --serve with one backend: one cell per request, in its own venv's
    python."""

    def __init__(self, args, backend):
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "st_bench.py")
        self.proc = subprocess.Popen(
            [st_python(args.st_venv), script, os.path.join(args.model_dir, "all-MiniLM-L6-v2"),
             "--backend", backend, "--threads", str(args.threads), "--serve",
             "--single", str(SINGLE_CALLS)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            env=dict(os.environ, TQDM_DISABLE="1"))
        self.header = self._answer()
        self.rows = []

    def _answer(self):
        line = self.proc.stdout.readline()
        if not line:
            sys.exit(f"reference worker exited with {self.proc.wait()}")
        return json.loads(line)

    def cell(self, batch, clients, seconds, warmup, tokens=0):
        self.proc.stdin.write(f"{batch} {clients} {seconds} {warmup} {tokens}\n")
        self.proc.stdin.flush()
        row = self._answer()
        self.rows.append(row)
        return row

    def result(self):
        return dict(self.header, rows=self.rows, peak_rss_mib=max(r["peak_rss_mib"] for r in self.rows))

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


# Single-sentence calls timed in-process by each reference (p50, p99).
SINGLE_CALLS = 300


def cells():
    """Every cell of the run, in order: (batch, clients, tokens per text; 0 for sentences)."""
    out = [(b, c, 0) for b in workload.BATCHES for c in workload.CONCURRENCY]
    out += [(workload.LENGTH_BATCH, 1, n) for n in workload.LENGTHS]
    return out


def run(args):
    proc, port, cfg, ready_s, idle_rss, simd = start_server(args)
    refs = {}
    try:
        if not args.no_st:
            refs = {"sentence-transformers": RefWorker(args, "st"), "ONNX Runtime": RefWorker(args, "onnx")}
        warm = Client(port)
        for b in workload.BATCHES:
            warm.embed(workload.batch_of(b))
        rows = []
        for b, c, n in cells():
            r = workload.run_cell(lambda: Client(port).embed, b, c, args.seconds, 0.5, length=n)
            rows.append(r)
            what = f"{n}-token texts" if n else "sentences"
            msg = (f"batch {b:2d} x {c} clients, {what}: akidb-embed {r['sentences_per_s']:5.0f}/s, "
                   f"p50 {r['p50_ms']:6.1f} ms")
            for name, ref in refs.items():
                x = ref.cell(b, c, args.seconds, 0.5, n)
                msg += f"; {name} {x['sentences_per_s']:5.0f}/s, p50 {x['p50_ms']:6.1f} ms"
            log(msg)
        peak_rss = status_mib(proc.pid, "VmHWM")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        os.unlink(cfg)
        for ref in refs.values():
            ref.close()
    server = {"name": "akidb-embed (over HTTP)", "ready_s": ready_s, "idle_rss_mib": idle_rss, "simd": simd,
              "peak_rss_mib": peak_rss, "exit": proc.returncode, "rows": rows}
    return server, {name: ref.result() for name, ref in refs.items()}


def table(server, refs):
    lines = []
    names = list(refs)

    def header(columns, unit):
        """The header and separator: the server's columns, then each reference's."""
        head = "| " + " | ".join(columns) + " |"
        for n in names:
            head += f" {n} {unit}/s | p50 ms |"
        if names:
            head += " ratio to the faster |"
        return [head, "|" + "---:|" * (head.count("|") - 1)]

    by_cell = {n: {(r["batch"], r["concurrency"], r.get("length", 0)): r for r in refs[n]["rows"]} for n in names}

    def line(r, first):
        out = f"| {first} | {r['p50_ms']:.1f} / {r['p99_ms']:.1f} |"
        best = 0.0
        for n in names:
            x = by_cell[n].get((r["batch"], r["concurrency"], r.get("length", 0)))
            if x:
                out += f" {x['sentences_per_s']:.0f} | {x['p50_ms']:.1f} |"
                best = max(best, x["sentences_per_s"])
        if best:
            out += f" **{r['sentences_per_s'] / best:.2f}x** |"
        return out

    lines += header(["batch", "clients", "akidb-embed sentences/s", "tokens/s", "p50 / p99 ms"], "sentences")
    for r in server["rows"]:
        if r.get("length", 0) == 0:
            lines.append(line(r, f"{r['batch']} | {r['concurrency']} | {r['sentences_per_s']:.0f} | "
                                 f"{r['tokens_per_s']:.0f}"))
    lines.append("")
    lines.append(f"Length (batches of {workload.LENGTH_BATCH} texts, 1 client):")
    lines.append("")
    lines += header(["tokens per text", "akidb-embed texts/s", "tokens/s", "p50 / p99 ms"], "texts")
    for r in server["rows"]:
        if r.get("length", 0):
            per_text = r["tokens_per_s"] / r["sentences_per_s"]
            lines.append(line(r, f"{per_text:.0f} | {r['sentences_per_s']:.0f} | {r['tokens_per_s']:.0f}"))
    lines.append("")
    one = next(r for r in server["rows"] if r["batch"] == 1 and r["concurrency"] == 1 and not r.get("length"))
    single = f"One short sentence, p50: akidb-embed {one['p50_ms']:.2f} ms over HTTP"
    for n in names:
        if "single" in refs[n]:
            single += f"; {n} {refs[n]['single']['p50_ms']:.2f} ms in-process"
    lines.append(single + ".")
    lines.append(f"akidb-embed: {server['simd']} kernels; ready in {server['ready_s']:.2f} s; resident memory "
                 f"{server['idle_rss_mib']:.0f} MiB idle with the model loaded, {server['peak_rss_mib']:.0f} MiB peak; "
                 f"exit {server['exit']} after SIGTERM.")
    for n in names:
        r = refs[n]
        lines.append(f"{n}: {r['name']}, {r['threads']} threads, in-process, one call at a time; "
                     f"{r['peak_rss_mib']:.0f} MiB peak resident; max abs diff from the reference vectors "
                     f"{r['max_abs_diff']:.1e}.")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("binary")
    ap.add_argument("model_dir")
    ap.add_argument("--threads", type=int, default=2, help="RAYON_NUM_THREADS / torch threads (default 2)")
    ap.add_argument("--seconds", type=float, default=3.0, help="measured seconds per cell (default 3)")
    ap.add_argument("--st-venv", default=os.environ.get("ST_VENV", "target/bench-venv"),
                    help="venv for sentence-transformers (default target/bench-venv, or $ST_VENV)")
    ap.add_argument("--no-st", action="store_true", help="the server alone, without the references")
    ap.add_argument("--json", help="also write the raw results here")
    args = ap.parse_args()

    host, flags = machine.describe()
    stamp = f"{time.strftime('%Y-%m-%d %H:%M:%S %Z')}, load average {os.getloadavg()[0]:.2f}"
    log(f"{stamp}; {host}")
    server, refs = run(args)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": host, "cpu_flags": flags, "server": server, "references": refs}, f, indent=1)
    print(f"{stamp}; {host}\n")
    print(table(server, refs))


if __name__ == "__main__":
    main()
