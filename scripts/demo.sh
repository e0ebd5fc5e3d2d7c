#!/usr/bin/env bash
# The demo: build the embedded tiny model, start vLLM on it, run a short standard text
# benchmark (64 requests, concurrency 8, 128 input / 64 output tokens) and write reports/demo/.
# A previous reports/demo is moved to reports/archive/ first: results are never overwritten.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=reports/demo
if [ -e "$OUT" ]; then
  mkdir -p reports/archive
  dest="reports/archive/demo-$(date -u +%Y%m%dT%H%M%SZ)"
  mv "$OUT" "$dest"
  echo "demo: moved the previous demo run to $dest" >&2
fi
.venv/bin/bench models build tiny-llama
exec .venv/bin/bench run --model tiny-llama --hardware cpu-local \
  --input-tokens 128 --output-tokens 64 --concurrency 8 --num-requests 64 --warmup 4 \
  --out "$OUT" "$@"
