#!/usr/bin/env bash
# Alternates forward-pass harness binaries (app/examples/forward.rs) so a shared machine's
# drifting speed hits each alike; prints each binary's sorted medians in ms.
#
#   cp target/release/examples/forward /tmp/before   # build, change, build again, then:
#   bench/ab.sh 32 8 /tmp/before target/release/examples/forward
#
# Usage: ab.sh BATCH ROUNDS BINARY...
set -euo pipefail
batch=$1 rounds=$2
shift 2
for _ in $(seq "$rounds"); do
  for bin in "$@"; do
    median=$(RAYON_NUM_THREADS=${RAYON_NUM_THREADS:-2} "$bin" 25 "$batch" | sed -E 's/.*median ([0-9.]+) ms.*/\1/')
    echo "$bin $median"
  done
done | sort -k1,1 -k2n | awk '{m[$1] = m[$1] " " $2} END {for (b in m) print b ":" m[b]}'
