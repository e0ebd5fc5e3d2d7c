#!/usr/bin/env bash
# The demo: build the embedded tiny model, start vLLM on it, run a standard text benchmark
# (concurrency 8, 128 input / 64 output tokens; 16 warm-up requests, then 30 s measured: long
# enough for a stable steady-state figure, see docs/small-hosts.md) and write reports/demo/.
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
  --input-tokens 128 --output-tokens 64 --concurrency 8 --warmup 16 \
  --duration-s 30 --num-requests 3000 --out "$OUT" "$@"
