"""SIGINT, SIGTERM and SIGHUP stop a run with a partial report and exit 128 + signal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO

from bench.report.io import load_report, read_requests


def start_bench(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-m", "bench", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)  # fmt: skip


def wait_for_records(path: Path, n: int, proc: subprocess.Popen[str], timeout_s: float = 60):
    """Block until `path` holds `n` lines (the run is under way)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.is_file() and path.read_text().count("\n") >= n:
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    raise AssertionError(f"{path} did not reach {n} lines")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_stop_signal_mid_run_leaves_a_partial_report(fault_server, tmp_path, sig):
    """Mid-run, the signal stops the load: each request in flight (C=2) is recorded as
    cancelled, report.json says partial and why, planned 200 = recorded + never sent, and
    the exit code is 128 + the signal (130, 143, 129)."""
    server = fault_server(ttft_ms=5, itl_ms=20)
    out = tmp_path / "run"
    proc = start_bench("run", "--endpoint", server.base_url, "--served-model", "synth",
                       "-n", "200", "--concurrency", "2", "--output-tokens", "6",
                       "--warmup", "0", "--out", str(out))  # fmt: skip
    wait_for_records(out / "requests.jsonl", 4, proc)
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 128 + sig, stderr
    name = signal.Signals(sig).name
    assert f"interrupted ({name}); partial results in {out}" in stderr
    assert "Traceback" not in stderr
    report = load_report(out)
    assert report.status == "partial" and report.failure == f"interrupted by {name}"
    records = read_requests(out)
    summary = report.summary
    assert len(records) == summary.requests_total >= 4
    assert summary.requests_planned == 200 == summary.requests_total + summary.requests_never_sent
    cancelled = [r for r in records if r.status == "cancelled"]
    assert 1 <= len(cancelled) <= 2 and summary.requests_ok == len(records) - len(cancelled)
    assert (out / "summary.md").read_text().count(f"interrupted by {name}") == 1
