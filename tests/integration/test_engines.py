"""The managed-server path through the real CLI, and the in-process offline engine."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from bench.config.run import RunConfig
from bench.report.io import load_report, read_requests
from bench.runner import run_benchmark

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]


def test_cli_run_with_managed_server_tears_it_down(tmp_path):
    out = tmp_path / "run"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "run",
            "-n",
            "8",
            "--concurrency",
            "2",
            "--input-tokens",
            "32",
            "--output-tokens",
            "16",
            "--warmup",
            "1",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=900,
        env=dict(os.environ),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "TTFT" in result.stdout and "USD/M output tokens" in result.stdout
    report = load_report(out)
    assert report.status == "complete"
    assert report.summary.requests_ok == 8
    assert report.summary.output_tokens.min == report.summary.output_tokens.max == 16
    assert (out / "server.log").stat().st_size > 0
    # the whole process group is gone: the server's port no longer answers
    port = int(re.search(r"'port': (\d+)", (out / "server.log").read_text()).group(1))
    with socket.socket() as sock, pytest.raises(OSError):
        sock.settimeout(2)
        sock.connect(("127.0.0.1", port))


def test_offline_engine_counts_tokens(tmp_path):
    cfg = RunConfig.model_validate(
        dict(
            model="tiny-llama",
            workload=dict(input_tokens=64, output_tokens=32),
            load=dict(kind="concurrency", concurrency=16),
            num_requests=16,
            engine=dict(kind="offline"),
            output_dir=str(tmp_path / "run"),
        )
    )
    report = run_benchmark(cfg)
    records = read_requests(cfg.output_dir)
    assert [r.output_tokens for r in records] == [32] * 16
    assert {r.input_tokens for r in records} == {64}
    s = report.summary
    assert s.ttft_s.count == 0  # not measured offline, never invented
    assert s.whole_run.output_tokens == pytest.approx(16 * 32)
    assert s.whole_run.output_tok_per_s > 0
