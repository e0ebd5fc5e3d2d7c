"""A server killed mid-run fails the run with a clear message and a readable partial log.

The test starts and kills a vLLM server of its own, so it runs in any order: the session's
shared server is never touched.
"""

from __future__ import annotations

import os
import signal
import threading

import pytest

from bench.config.run import RunConfig
from bench.errors import RunFailed
from bench.report.io import load_report, read_requests
from bench.runner import run_benchmark

pytestmark = pytest.mark.slow


def test_server_killed_mid_run(own_vllm, tmp_path):
    server = own_vllm.get()
    cfg = RunConfig.model_validate(
        dict(
            model="tiny-llama",
            workload=dict(input_tokens=64, output_tokens=256),
            load=dict(kind="concurrency", concurrency=4),
            num_requests=400,
            output_dir=str(tmp_path / "run"),
        )
    )
    done = []

    def on_record(rec):
        done.append(rec)
        if len(done) == 8:
            threading.Thread(target=lambda: os.killpg(server.process.pid, signal.SIGKILL)).start()

    with pytest.raises(RunFailed) as err:
        run_benchmark(
            cfg,
            base_url=server.base_url,
            served_model="tiny-llama",
            model_path=own_vllm.model_path,
            watchdog=server.dead_reason,
            on_record=on_record,
        )
    message = str(err.value)
    assert "vLLM server exited" in message or "server" in message
    records = read_requests(cfg.output_dir)
    assert len(records) >= 8
    assert sum(r.status == "ok" for r in records) >= 8
    assert any(r.status != "ok" for r in records)
    report = load_report(cfg.output_dir)
    assert report.status == "partial"
    assert report.failure and "exited" in report.failure
