#!/usr/bin/env python3
"""`make test-avx512`: the server's AVX-512 code, run on an emulated AVX-512 CPU.

The kernels pick AVX-512 or AVX2 at run time (app/src/server/panels.rs, kernels.rs), and
the machines we build on are often AVX2-only, so the AVX-512 path would otherwise never
run before it reaches a user's Xeon. This boots Debian's own kernel (Debian 11's, Linux
5.10: see `kernel`) in Bochs, an x86 emulator, with Bochs' Skylake-X CPU model (AVX-512
F/BW/CD/DQ/VL), and inside it runs:

1. the server library's unit tests for the kernels (matrix products of every block and
   strip shape, attention short and long, activations, norms, pooling), the binary
   `make test` builds;
2. the real server, the release binary `make image` ships, with the real
   all-MiniLM-L6-v2, then one HTTP request over loopback embedding the reference
   sentences. The shared libraries they load go in beside them, as in the image.

On the host it then checks that the guest kernel saw AVX-512, that the server logged
`simd: AVX-512` (so the AVX-512 code is the code that ran), that Bochs saved and
restored every vector state it was asked to, that the tests passed, and that each vector
is within 1e-4 of sentence-transformers' own (app/tests/fixtures/minilm_reference.json),
and prints a table. Exit status 0 only if all of that holds.

Emulation checks correctness, not speed: Bochs runs a few tens of millions of
instructions a second. The emulation takes 10-15 minutes on 2 cores, after the builds.

Usage: avx512_emulated.py [--models DIR] [--work DIR] [--cpu MODEL] [--timeout S]
Needs (Debian): apt-get install bochs bochs-term bochsbios cpio genisoimage isolinux
syslinux-common busybox-static; the kernel is fetched with `apt-get download`.
"""

import argparse
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "app/tests/fixtures/minilm_reference.json"
MODEL = "all-MiniLM-L6-v2"
TOLERANCE = 1e-4
# The flags pulp's AVX-512 level (x86-64-v4) needs, as /proc/cpuinfo spells them.
AVX512_FLAGS = ["avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"]
# The tests of the code that pulp dispatches (libtest filters: module paths).
TEST_FILTERS = ["server::panels", "server::kernels", "server::long_attention",
                "server::pooling", "server::scratch", "server::simd"]
INSTALL = ("apt-get install bochs bochs-term bochsbios cpio genisoimage isolinux "
           "syslinux-common busybox-static")
# What the serial console shows between these markers is ours, not the kernel's.
MARK = "@@avx512@@"
# Whose kernel boots in the emulator (see `kernel`), from Debian's own archive.
KERNEL_SUITE = "bullseye"
DEBIAN_MIRROR = os.environ.get("DEBIAN_MIRROR", "http://deb.debian.org/debian")


def fail(msg):
    sys.exit(f"avx512_emulated: {msg}")


def log(msg):
    print(f"[avx512] {msg}", file=sys.stderr, flush=True)


def is_static_elf(path):
    """True if `path` is an ELF executable without an interpreter (PT_INTERP)."""
    data = Path(path).read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 2:
        return False
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    types = [struct.unpack_from("<I", data, phoff + i * phentsize)[0] for i in range(phnum)]
    return 3 not in types


def host_tools():
    """Paths of the emulator and the boot pieces; fails naming the packages to install."""
    tools = {
        "bochs": shutil.which("bochs-bin"),
        "mkisofs": shutil.which("genisoimage") or shutil.which("mkisofs"),
        "cpio": shutil.which("cpio"),
        "isolinux": "/usr/lib/ISOLINUX/isolinux.bin",
        "ldlinux": "/usr/lib/syslinux/modules/bios/ldlinux.c32",
        "bios": "/usr/share/bochs/BIOS-bochs-latest",
        "vgabios": "/usr/share/bochs/VGABIOS-lgpl-latest",
        "busybox": "/bin/busybox",
    }
    missing = [k for k, v in tools.items() if not v or not os.path.exists(v)]
    if missing:
        fail(f"missing {', '.join(missing)}; install with: {INSTALL}")
    if not is_static_elf(tools["busybox"]):
        fail(f"{tools['busybox']} is dynamically linked; install the static one: {INSTALL}")
    return tools


def kernel(work):
    """Debian 11's amd64 kernel image (Linux 5.10), downloaded once into `work`.

    Not the host's Debian 12 kernel: Bochs 2.7 reports an XSAVE area size that does not
    match its own component offsets, and since Linux 5.14 that mismatch turns XSAVE off,
    and AVX and AVX-512 with it. Linux 5.10 warns ("XSAVE consistency problem") and
    keeps XSAVE on."""
    dest = work / f"vmlinuz-{KERNEL_SUITE}"
    if dest.exists():
        return dest
    apt = work / "apt"
    (apt / "lists/partial").mkdir(parents=True, exist_ok=True)
    (apt / "sources.list").write_text(f"deb {DEBIAN_MIRROR} {KERNEL_SUITE} main\n")
    # A private package list and cache: the host's apt is left as it is, and no root needed.
    (apt / "cache").mkdir(exist_ok=True)
    opts = ["-o", f"Dir::Etc::SourceList={apt / 'sources.list'}",
            "-o", "Dir::Etc::SourceParts=/dev/null", "-o", f"Dir::State::Lists={apt / 'lists'}",
            "-o", f"Dir::Cache={apt / 'cache'}"]
    log(f"fetching the package list of Debian {KERNEL_SUITE}")
    subprocess.run(["apt-get", *opts, "update", "-qq"], check=True)
    deps = subprocess.run(["apt-cache", *opts, "depends", "linux-image-amd64"], check=True,
                          capture_output=True, text=True).stdout
    names = re.findall(r"Depends: (linux-image-[0-9][^\s]*)", deps)
    if not names:
        fail(f"apt-cache names no kernel package for linux-image-amd64:\n{deps}")
    pkg = work / "kernel-pkg"
    shutil.rmtree(pkg, ignore_errors=True)
    pkg.mkdir(parents=True)
    log(f"downloading {names[0]} (apt-get download)")
    subprocess.run(["apt-get", *opts, "download", names[0]], cwd=pkg, check=True)
    deb = next(pkg.glob("*.deb"))
    subprocess.run(["dpkg-deb", "-x", str(deb), str(pkg / "x")], check=True)
    image = next((pkg / "x/boot").glob("vmlinuz-*"))
    shutil.copyfile(image, dest)
    shutil.rmtree(pkg)
    return dest


def cargo(args, what):
    """Runs a cargo build; returns the artifacts it reported that are executables."""
    cmd = ["cargo", *args, "--message-format=json-render-diagnostics"]
    log(f"building {what}: {' '.join(cmd)}")
    out = subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.PIPE, text=True).stdout
    return [m for m in map(json.loads, out.splitlines())
            if m.get("reason") == "compiler-artifact" and m.get("executable")]


def binaries():
    """The unit tests as `make test` builds them, and the release server as `make image`
    does: the very binaries CI tests and ships, so nothing is built twice."""
    # --workspace: the features `cargo test --workspace` resolves, so its build is reused.
    tests = [m["executable"] for m in cargo(
        ["test", "--workspace", "--lib", "--no-run"], "unit tests")
        if m["target"]["name"] == "app" and m["target"]["kind"] == ["lib"]]
    server = [m["executable"] for m in cargo(
        ["build", "--release", "--locked", "-p", "app", "--bin", "akidb-embed"], "server")]
    if len(tests) != 1 or len(server) != 1:
        fail(f"expected one test binary and one server, got {tests} and {server}")
    return tests[0], server[0]


def libraries(exes):
    """The shared libraries and the loader that `exes` load, as ldd resolves them here
    (scripts/build-image.sh does the same for the container image)."""
    libs = set()
    for exe in exes:
        out = subprocess.run(["ldd", exe], check=True, capture_output=True, text=True).stdout
        for line in out.splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[1] == "=>" and parts[2].startswith("/"):
                libs.add(parts[2])
            elif parts and parts[0].startswith("/"):
                libs.add(parts[0])
    return sorted(libs)


INIT = """#!/bin/busybox sh
B=/bin/busybox
$B mount -t proc proc /proc
$B mount -t sysfs sys /sys
$B mount -t devtmpfs dev /dev
$B mount -t tmpfs tmp /tmp
$B ip link set lo up
echo "{m} flags $($B grep -m1 '^flags' /proc/cpuinfo)"
echo "{m} tests-begin"
/bin/app-tests --test-threads 1 {filters}
echo "{m} tests rc $?"
AKIDB_MODEL_DIR=/models AKIDB_HOST=127.0.0.1 AKIDB_REST_PORT=8080 RAYON_NUM_THREADS=1 \\
    /bin/akidb-embed > /server.log 2>&1 &
tries=0
until $B wget -q -O /dev/null http://127.0.0.1:8080/health/ready 2>/dev/null; do
    tries=$((tries + 1))
    [ $tries -gt 600 ] && break
    $B sleep 1
done
$B wget -q -O /response.json --header 'Content-Type: application/json' \\
    --post-file /request.json http://127.0.0.1:8080/api/v1/embed
echo "{m} embed rc $?"
echo "{m} response $($B cat /response.json)"
$B sed 's/^/{m} server /' /server.log
echo "{m} done"
$B sync
$B sleep 1
$B poweroff -f
"""


def initramfs(work, tools, tests, server, models, sentences):
    root = work / "root"
    shutil.rmtree(root, ignore_errors=True)
    for d in ["bin", "proc", "sys", "dev", "tmp", "models"]:
        (root / d).mkdir(parents=True)
    shutil.copy(tools["busybox"], root / "bin/busybox")
    shutil.copy(tests, root / "bin/app-tests")
    shutil.copy(server, root / "bin/akidb-embed")
    for lib in libraries([tests, server]):
        dest = root / lib.lstrip("/")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(lib, dest)
        dest.chmod(0o755)
    src = models / MODEL
    shutil.copytree(src, root / "models" / MODEL,
                    ignore=shutil.ignore_patterns("README.md", "data_config.json", ".*"))
    (root / "request.json").write_text(json.dumps({"texts": sentences}))
    init = root / "init"
    init.write_text(INIT.format(m=MARK, filters=" ".join(TEST_FILTERS)))
    init.chmod(0o755)
    iso = work / "iso/isolinux"
    shutil.rmtree(work / "iso", ignore_errors=True)
    iso.mkdir(parents=True)
    files = subprocess.run(["find", "."], cwd=root, check=True, capture_output=True).stdout
    with open(iso / "initrd.img", "wb") as out:
        # Uncompressed: the emulated CPU would spend minutes inflating 90 MB of weights.
        subprocess.run([tools["cpio"], "-o", "-H", "newc", "--quiet"], cwd=root, input=files,
                       stdout=out, check=True)
    return iso


def boot_image(work, tools, vmlinuz, iso):
    shutil.copy(vmlinuz, iso / "vmlinuz")
    shutil.copy(tools["isolinux"], iso)
    shutil.copy(tools["ldlinux"], iso)
    # noxsaves: Bochs 2.7 refuses some of the compacted XSAVES areas Linux restores
    # ("XRSTORS: Reserved header3 state is not 0" in its log), and the kernel then resets
    # the task's vector registers mid-computation: long requests came back off by up to
    # 5e-4, differently on each run. The standard layout (XSAVEOPT/XRSTOR) has no such
    # trouble, and `check` fails on any such line in Bochs' log.
    (iso / "isolinux.cfg").write_text(
        "DEFAULT linux\nPROMPT 0\nTIMEOUT 0\nLABEL linux\n  KERNEL vmlinuz\n"
        "  APPEND initrd=initrd.img console=ttyS0,115200 quiet loglevel=3 rdinit=/init "
        "mitigations=off noxsaves\n")
    image = work / "avx512.iso"
    subprocess.run([tools["mkisofs"], "-quiet", "-o", str(image), "-b", "isolinux/isolinux.bin",
                    "-c", "isolinux/boot.cat", "-no-emul-boot", "-boot-load-size", "4",
                    "-boot-info-table", "-R", str(work / "iso")], check=True)
    return image


def run_bochs(work, tools, image, cpu, timeout):
    serial = work / "serial.log"
    serial.unlink(missing_ok=True)
    rc = work / "bochsrc"
    rc.write_text(f"""megs: 2048
cpu: model={cpu}, count=1, ips=200000000
romimage: file={tools['bios']}
vgaromimage: file={tools['vgabios']}
ata0-master: type=cdrom, path={image}, status=inserted
boot: cdrom
display_library: rfb, options="timeout=0"
com1: enabled=1, mode=file, dev={serial}
log: {work / 'bochs.log'}
panic: action=fatal
""")
    log(f"booting Debian's kernel in Bochs ({cpu}); serial console: {serial}")
    start = time.monotonic()
    # Debian builds Bochs with its debugger, which waits for `c` (continue) at start.
    try:
        subprocess.run([tools["bochs"], "-q", "-f", str(rc)], input=b"c\n", cwd=work,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=timeout)
    except subprocess.TimeoutExpired:
        log(f"Bochs still running after {timeout} s; reading what it printed")
    log(f"Bochs ran {time.monotonic() - start:.0f} s")
    if not serial.exists():
        fail(f"no serial output; see {work / 'bochs.log'}")
    emulator = (work / "bochs.log").read_text(errors="replace")
    return serial.read_text(errors="replace"), emulator


def ours(console):
    """Our marked lines, in order, as (what, rest)."""
    lines = []
    for line in console.splitlines():
        at = line.find(MARK + " ")
        if at >= 0:
            what, _, rest = line[at + len(MARK) + 1:].partition(" ")
            lines.append((what, rest))
    return lines


def check(console, emulator, reference):
    """Returns (problems, report lines) from the console output and Bochs' log."""
    marked = ours(console)
    field = {}
    server_log = []
    for what, rest in marked:
        if what == "server":
            server_log.append(rest)
        else:
            field.setdefault(what, rest)
    problems, report = [], []

    # A vector state the emulator failed to save or restore means the guest kernel reset
    # registers under a running computation: nothing measured after that is evidence.
    lost = [line for line in emulator.splitlines()
            if re.search(r"^\d+[ep]\[.*(XRSTOR|XSAVE)", line)]
    report.append(f"vector state save/restore errors in Bochs' log: {len(lost)}")
    if lost:
        problems.append(f"Bochs failed {len(lost)} XSAVE/XRSTOR operations, e.g. {lost[0]!r}")

    flags = set(field.get("flags", "").split())
    absent = [f for f in AVX512_FLAGS if f not in flags]
    report.append(f"guest CPU flags: {' '.join(f for f in AVX512_FLAGS if f in flags) or 'none'}"
                  " of " + " ".join(AVX512_FLAGS))
    if "flags" not in field:
        problems.append("the guest never printed its CPU flags (did it boot?)")
    elif absent:
        problems.append(f"the emulated CPU lacks {', '.join(absent)}")

    results = re.findall(r"test result: (\w+)\. (\d+) passed; (\d+) failed", console)
    ran = re.findall(r"^test (\S+) \.\.\. (\w+)", console, re.M)
    report.append(f"unit tests: {len([r for r in ran if r[1] == 'ok'])} ok of {len(ran)}")
    if field.get("tests") != "rc 0" or not results or results[0][0] != "ok":
        bad = [name for name, status in ran if status != "ok"]
        problems.append(f"unit tests failed ({field.get('tests', 'no exit status')}): {bad}")
    elif int(results[0][1]) < 20:
        problems.append(f"only {results[0][1]} unit tests ran")

    simd = None
    for line in server_log:
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        if event.get("message") == "starting":
            simd = event.get("simd")
    report.append(f"server's kernels: {simd}")
    if simd != "AVX-512":
        problems.append(f"the server ran {simd!r} kernels, not AVX-512; its log:\n"
                        + "\n".join(server_log[-20:]))

    if field.get("embed") != "rc 0":
        problems.append(f"the embed request failed ({field.get('embed')})")
        return problems, report
    got = json.loads(field["response"])
    vectors = got["embeddings"]
    if len(vectors) != len(reference["embeddings"]):
        problems.append(f"{len(vectors)} vectors for {len(reference['embeddings'])} sentences")
        return problems, report
    report.append("| sentence | tokens | max abs diff vs sentence-transformers |")
    report.append("|---:|---:|---:|")
    for i, (v, want) in enumerate(zip(vectors, reference["embeddings"])):
        diff = max(abs(a - b) for a, b in zip(v, want)) if len(v) == len(want) else float("inf")
        report.append(f"| {i} | {reference['tokens'][i]} | {diff:.2e} |")
        if not diff <= TOLERANCE:
            problems.append(f"sentence {i}: off by {diff:.2e} (> {TOLERANCE})")
    return problems, report


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", type=Path, default=Path(os.environ.get(
        "AKIDB_MODEL_DIR", ROOT / ".models")), help="folder holding all-MiniLM-L6-v2/")
    ap.add_argument("--work", type=Path, default=ROOT / "target/avx512-vm",
                    help="scratch folder (kernel, image, console log)")
    ap.add_argument("--cpu", default="corei7_skylake_x",
                    help="Bochs CPU model (bochs-bin -help cpu lists them)")
    ap.add_argument("--timeout", type=int, default=1800, help="seconds for the emulator")
    args = ap.parse_args()
    if not (args.models / MODEL / "model.safetensors").exists():
        fail(f"{args.models / MODEL} has no model.safetensors; "
             "fetch it: bash scripts/fetch-models.sh")
    tools = host_tools()
    args.work.mkdir(parents=True, exist_ok=True)
    vmlinuz = kernel(args.work)
    tests, server = binaries()
    reference = json.loads(FIXTURE.read_text())
    iso = initramfs(args.work, tools, tests, server, args.models, reference["sentences"])
    image = boot_image(args.work, tools, vmlinuz, iso)
    console, emulator = run_bochs(args.work, tools, image, args.cpu, args.timeout)
    problems, report = check(console, emulator, reference)
    print("\n".join(report))
    if problems:
        print(f"FAILED (console: {args.work / 'serial.log'}):", file=sys.stderr)
        for p in problems:
            print(f"  - {p}", file=sys.stderr)
        sys.exit(1)
    print("ok: the AVX-512 kernels pass their tests and match sentence-transformers "
          f"within {TOLERANCE}")


if __name__ == "__main__":
    main()
