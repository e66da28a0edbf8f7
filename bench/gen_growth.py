"""How `gen` grows with the number of components (stdlib only; `make bench-gen` runs it).

Writes environments of N components into a temporary folder, half services and half their
CloudNativePG databases (each service reaching its own database through `depends_on`, so
the network policies grow with it), times the whole `gen FILE` process for each N, and
prints a Markdown table: time, time per component, objects and bytes of YAML. Then times
`gen write --check` over the repository (every environment and example).

    python3 bench/gen_growth.py target/release/gen [--runs 30] [--sizes 2,8,32,128,512]
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import machine  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def service(i):
    return f"""  svc-{i}:
    deployment:
      image: {{repository: ghcr.io/example/svc-{i}, tag: 1.0.{i}}}
      port: 8080
      health:
        liveness: tcp
        readiness: {{http: /health}}
      env:
        SERVICE_NAME: svc-{i}
      resources:
        requests: {{cpu: 100m, memory: 128Mi}}
        limits: {{cpu: 500m, memory: 256Mi}}
      autoscaling: {{min_replicas: 2, max_replicas: 4}}
      disruption_budget: {{max_unavailable: 1}}
      depends_on: [{{component: svc-{i}-db, port: 5432}}]
      secrets:
        - name: svc-{i}-db-app
          env: {{DATABASE_URL: uri}}
  svc-{i}-db:
    postgres:
      database: svc{i}
      owner: svc{i}_owner
      storage: {{size: 1Gi}}
"""


def environment(components):
    pairs = max(1, components // 2)
    head = f"namespace: growth\npart_of: growth\nstorage_class: standard\nsync_waves: true\ncomponents:\n"
    return head + "".join(service(i) for i in range(pairs))


def time_runs(cmd, runs, cwd):
    """Median and minimum wall time of `runs` whole processes, after two warm-ups; the
    last run's stdout."""
    out = b""
    times = []
    for n in range(runs + 2):
        start = time.perf_counter()
        done = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        elapsed = time.perf_counter() - start
        if done.returncode != 0:
            sys.exit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr.decode()[:2000]}")
        if n >= 2:
            times.append(elapsed)
        out = done.stdout
    return statistics.median(times), min(times), out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("gen")
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--sizes", default="2,8,32,128,512")
    args = ap.parse_args()
    gen = os.path.abspath(args.gen)
    sizes = [int(s) for s in args.sizes.split(",")]

    print(f"{machine.describe()[0]}; "
          f"load average {os.getloadavg()[0]:.2f}; {args.runs} runs per row\n")
    print("| components | `gen FILE` median ms | min ms | ms per component | objects | YAML KiB |")
    print("|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            path = os.path.join(tmp, f"growth-{n}.yaml")
            with open(path, "w") as f:
                f.write(environment(n))
            median, low, out = time_runs([gen, path], args.runs, REPO)
            objects = out.count(b"\n---\n") + (1 if out.startswith(b"---\n") else 0)
            print(f"| {n} | {median * 1e3:.1f} | {low * 1e3:.1f} | {median * 1e3 / n:.3f} "
                  f"| {objects} | {len(out) / 1024:.0f} |")
    median, low, _ = time_runs([gen, "write", "--check"], args.runs, REPO)
    print(f"\n`gen write --check` (every environment and example of the repository): "
          f"median {median * 1e3:.1f} ms, min {low * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
