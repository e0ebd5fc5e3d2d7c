#!/usr/bin/env bash
# Run `bench probe` + microbenchmarks on a lent GPU machine; results land in $OUT.
#
# That machine's python3 has torch (CUDA), nvidia-ml-py, typer and PyYAML but not pydantic.
# Before the call, here in the repo root (pip works here, not there):
#   echo /.whl/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#     --implementation cp --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
#     -d .whl pydantic==2.14.4 pydantic-core==2.50.5 annotated-types==0.8.0 typing-inspection==0.4.5
# and name `.whl` in the call's `carry`. Then, on the device:
#   bash scripts/gpu_accept_check.sh            (add --quick for a smoke test)
set -euo pipefail
cd "$(dirname "$0")/.."
if ! python3 -c "import pydantic" 2>/dev/null; then
  if ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
      --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
  else
    echo "pydantic is missing and no .whl/ folder was carried (see the header of $0)" >&2
    exit 2
  fi
fi
nvidia-smi --query-gpu=name,memory.total,driver_version,pcie.link.gen.max,pcie.link.width.max \
  --format=csv || true
exec python3 scripts/gpu_accept_check.py --out "${OUT:-gpu-accept-out}" "$@"
