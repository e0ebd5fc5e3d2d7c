"""A run whose client stalls says so, with the time, in report.json, summary.md, HTML.

The built-in synthetic server streams steadily; the client's own event loop is held up
for 300 ms once (a blocking `on_record`, as a starved client process would be), so no
chunk is read meanwhile: one client stall and at least two empty 0.1 s bins.
"""

import time

import pytest

from bench.config.run import RunConfig
from bench.engines.served import Served
from bench.render.bundle import select
from bench.render.report import render_html
from bench.runner import run_benchmark
from bench.synth.control import SynthServer

NS = 1_000_000_000


def test_a_client_stall_is_reported_with_its_time(tmp_path):
    cfg = RunConfig.model_validate(dict(
        model="tiny-llama", workload=dict(input_tokens=8, output_tokens=32),
        load=dict(kind="concurrency", concurrency=4), num_requests=160, warmup_requests=0,
        output_dir=str(tmp_path / "run"), energy=dict(meter="none")))  # fmt: skip
    blocked: list[int] = []

    def on_record(rec):
        if len(blocked) == 0 and rec.index == 80:
            blocked.append(time.perf_counter_ns())
            time.sleep(0.3)

    with SynthServer(ttft_s=0.003, itl_s=0.002) as server:
        report = run_benchmark(cfg, served=Served("synth", server.base_url),
                               on_record=on_record)  # fmt: skip
    s = report.summary
    assert s.stalls is not None and s.stalls.window == "steady_state"
    assert s.stalls.bin_s == pytest.approx(0.1)  # 10 x ITL p50 (~2 ms) < 0.1 s
    at = (blocked[0] - s.steady_state.start_ns) / NS
    client = [e for e in s.stalls.events if e.kind == "client_loop"]
    assert [e for e in client if e.duration_s > 0.29 and abs(e.start_s - at) < 0.02]
    idle = [e for e in s.stalls.events if e.kind == "zero_output"]
    # the 300 ms hold-up empties at least two whole 0.1 s bins around it
    assert any(e.duration_s >= 0.2 - 1e-9 and at - 0.1 <= e.start_s <= at + 0.1 for e in idle)
    text = (cfg.output_dir / "summary.md").read_text()
    assert "stalls in the steady-state window (times from its start)" in text
    assert f"at {client[0].start_s:.2f} s" in text
    page = render_html(select([cfg.output_dir]))
    assert "the client&#x27;s event loop was held up" in page
    assert "Red bands:" in page  # the throughput-over-time plot shades them


def test_a_stalled_client_worker_process_is_reported(tmp_path):
    """With --workers 2 the probes run in the worker processes: both are stopped (SIGSTOP,
    as a process the scheduler does not run) for 300 ms mid-run, and their lags come back
    to the parent as stalls with their times."""
    import os
    import signal
    import threading
    from pathlib import Path

    cfg = RunConfig.model_validate(dict(
        model="tiny-llama", workload=dict(input_tokens=8, output_tokens=32),
        load=dict(kind="concurrency", concurrency=4), num_requests=160, warmup_requests=0,
        workers=2, output_dir=str(tmp_path / "run"), energy=dict(meter="none")))  # fmt: skip
    stopped: list[int] = []

    def freeze() -> None:
        tasks = Path(f"/proc/{os.getpid()}/task").glob("*/children")
        children = [int(pid) for t in tasks for pid in t.read_text().split()]
        workers = [p for p in children if "spawn_main" in _cmdline(p)]  # not the resource tracker
        assert len(workers) == 2, [_cmdline(p) for p in children]
        stopped.append(time.perf_counter_ns())
        for pid in workers:
            os.kill(pid, signal.SIGSTOP)
        time.sleep(0.3)
        for pid in workers:
            os.kill(pid, signal.SIGCONT)

    def on_record(rec):
        if rec.index == 60 and not stopped:
            threading.Thread(target=freeze).start()

    with SynthServer(mode="thread", ttft_s=0.003, itl_s=0.002) as server:
        report = run_benchmark(cfg, served=Served("synth", server.base_url),
                               on_record=on_record)  # fmt: skip
    s = report.summary
    at = (stopped[0] - s.steady_state.start_ns) / NS
    client = [e for e in s.stalls.events if e.kind == "client_loop"]
    assert [e for e in client if e.duration_s > 0.25 and abs(e.start_s - at) < 0.05], (at, client)


def _cmdline(pid: int) -> str:
    from pathlib import Path

    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""
