#!/usr/bin/env python3
"""Rebuilds the Helm chart that the user's plan (seed 001) describes, from the plan's own text,
so `make bench-gen` can time `helm template` of it against `gen`.

Each "**File:** `helm/akidb/<path>`" marker in the plan is followed by a fenced block holding
that file; "**Add to values.yaml:**" blocks are appended to values.yaml. Scripts and docs are
skipped: `helm template` reads only Chart.yaml, values.yaml and templates/.

Usage: seed_chart.py SEED_TEXT OUT_DIR
"""

import pathlib
import re
import sys


def blocks_after(lines, start):
    """The first fenced block at or after line `start`: (text, index after it)."""
    i = start
    while i < len(lines) and not lines[i].startswith("```"):
        i += 1
    j = i + 1
    while j < len(lines) and not lines[j].startswith("```"):
        j += 1
    return "\n".join(lines[i + 1:j]) + "\n", j + 1


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    lines = pathlib.Path(sys.argv[1]).read_text(encoding="utf-8").splitlines()
    out = pathlib.Path(sys.argv[2])
    files, extra_values = {}, []
    for n, line in enumerate(lines):
        m = re.match(r"\*\*File:\*\* `helm/akidb/(.+)`", line.strip())
        if m and (m.group(1) in ("Chart.yaml", "values.yaml") or m.group(1).startswith("templates/")):
            files[m.group(1)], _ = blocks_after(lines, n + 1)
        elif line.strip() == "**Add to values.yaml:**":
            text, _ = blocks_after(lines, n + 1)
            extra_values.append(text)
    missing = {"Chart.yaml", "values.yaml"} - files.keys()
    if missing:
        sys.exit(f"the plan has no {sorted(missing)}")
    files["values.yaml"] += "".join(extra_values)
    for path, text in files.items():
        target = out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    print(f"wrote {len(files)} chart files to {out}")


if __name__ == "__main__":
    main()
