"""Facts about the machine a benchmark runs on, for the header of its table (stdlib only)."""

import os

# The vector extensions the server's kernels and the references may use.
FLAGS = ["avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16", "amx_tile"]


def cpu():
    """CPU model and which of `FLAGS` it has."""
    model, flags = "unknown", set()
    with open("/proc/cpuinfo") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                model = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
    return model, [f for f in FLAGS if f in flags]


def describe():
    """One line for a table's header, e.g. `AMD EPYC, 2 CPUs, avx2 fma`, and the flags."""
    model, flags = cpu()
    return f"{model}, {os.cpu_count()} CPUs, {' '.join(flags) or 'no AVX2'}", flags
