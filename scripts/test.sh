#!/usr/bin/env bash
# The test suite: unit tests, then integration tests against real vLLM on CPU (one shared
# server), then the browser test when Chromium is installed. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 VLLM_NO_USAGE_STATS=1 DO_NOT_TRACK=1
exec .venv/bin/python -m pytest tests "$@"
