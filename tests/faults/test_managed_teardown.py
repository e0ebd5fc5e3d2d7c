"""The managed server never outlives `bench`: not after a stop signal, not during start-up,
not after SIGKILL. The fault server stands in for vLLM (tests/faults/managed_owner.py):
a process group of two, like vLLM's API server and engine core."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import REPO
from test_signals import wait_for_records

from bench.report.io import load_report, read_requests

OWNER = Path(__file__).parent / "managed_owner.py"


def owner(pids: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, str(OWNER), str(pids), *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip


def standin_pids(pids: Path, proc: subprocess.Popen[str], timeout_s: float = 60) -> list[int]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if pids.is_file() and len(pids.read_text().split()) == 2:
            return [int(p) for p in pids.read_text().split()]
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    raise AssertionError("the stand-in server did not start")


def alive(pid: int) -> bool:
    """Running (a zombie waiting for its reaper counts as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (OSError, IndexError):
        return False


def assert_gone(pids: list[int], timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = [p for p in pids if alive(p)]
    for pid in left:  # leave nothing behind, whatever the outcome
        os.kill(pid, signal.SIGKILL)
    assert not left, f"still running {timeout_s} s later: {left}"


def test_the_managed_server_dies_with_a_bench_killed_by_sigkill(tmp_path):
    """SIGKILL cannot be caught: the reaper sees its pipe close and kills the group
    (both processes gone within 10 s; before, both stayed up, orphaned)."""
    pids = tmp_path / "pids"
    proc = owner(pids)
    assert proc.stdout is not None and proc.stdout.readline() == "started\n"
    group = standin_pids(pids, proc)
    assert all(alive(p) for p in group)
    proc.kill()
    proc.wait()
    assert_gone(group)


def test_sighup_mid_run_tears_down_the_managed_server_with_a_partial_report(tmp_path):
    """SIGHUP (a closed terminal) used to kill bench without a report and leave the
    managed server running: now exit 129, partial report, server group gone."""
    pids, out = tmp_path / "pids", tmp_path / "run"
    proc = owner(pids, "--", "run", "-n", "200", "--concurrency", "2", "--output-tokens", "6",
                 "--warmup", "0", "--out", str(out))  # fmt: skip
    group = standin_pids(pids, proc)
    wait_for_records(out / "requests.jsonl", 4, proc)
    proc.send_signal(signal.SIGHUP)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 129, stderr
    assert_gone(group, timeout_s=2)  # torn down by bench itself, not by the reaper later
    report = load_report(out)
    assert report.status == "partial" and report.failure == "interrupted by SIGHUP"
    assert len(read_requests(out)) == report.summary.requests_total >= 4


def test_ctrl_c_while_the_server_starts_exits_130_and_tears_it_down(tmp_path):
    """A server that never becomes healthy, Ctrl-C during the wait: exit 130 (it was 0)."""
    pids, out = tmp_path / "pids", tmp_path / "run"
    proc = owner(pids, "--fault=unhealthy", "--", "run", "-n", "4", "--out", str(out))
    group = standin_pids(pids, proc)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "interrupted (SIGINT)" in stderr and "Traceback" not in stderr
    assert_gone(group, timeout_s=2)
    assert not (out / "report.json").exists()  # no run started: nothing to report
