"""Fault tests: `bench` against a misbehaving server (tests/faults/fault_server.py), bad
files and flags, signals and full disks. Each test pins one fault class with numbers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.config.run import RunConfig

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).parent))

from fault_server import FaultServer  # noqa: E402


def endpoint_config(server: Any, out: Path, **fields: Any) -> RunConfig:
    """A small run of tiny-llama prompts against `server` (an OpenAI-compatible endpoint)."""
    data: dict[str, Any] = dict(
        model="tiny-llama", workload=dict(input_tokens=8, output_tokens=6),
        load=dict(kind="concurrency", concurrency=2), num_requests=40, warmup_requests=0,
        engine=dict(kind="endpoint", url=server.base_url, served_model="synth"),
        output_dir=str(out), energy=dict(meter="none"),
    )  # fmt: skip
    data.update(fields)
    return RunConfig.model_validate(data)


def bench_cli(*args: str, timeout: float = 120, **popen: Any) -> subprocess.CompletedProcess[str]:
    """`python -m bench ARGS` with this checkout's code; its exit code, stdout and stderr."""
    env = {**os.environ, "PYTHONPATH": str(REPO), **popen.pop("env", {})}
    return subprocess.run([sys.executable, "-m", "bench", *args], capture_output=True,
                          text=True, timeout=timeout, env=env, **popen)  # fmt: skip


@pytest.fixture
def fault_server():
    """`fault_server("usage_float", every=5)` starts one; all are stopped after the test."""
    started: list[FaultServer] = []

    def start(*faults: str, **kw: Any) -> FaultServer:
        server = FaultServer(*faults, **kw).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
