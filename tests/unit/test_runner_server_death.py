"""A server that dies mid-run fails the run: partial report, reason, flushed records.

The built-in synthetic server stands in for vLLM here (the real-vLLM version of this test
is tests/integration/test_zz_server_death.py). Once the server is gone the remaining
requests fail within microseconds, faster than the periodic watchdog check, so the run
must still be marked partial rather than complete-with-errors.
"""

import pytest

from bench.config.run import RunConfig
from bench.errors import RunFailed
from bench.report.io import load_report, read_requests
from bench.runner import run_benchmark
from bench.synth.control import SynthServer


def test_server_dying_mid_run_marks_the_run_partial(tmp_path):
    server = SynthServer(ttft_s=0.005, itl_s=0.001)
    server.start()
    cfg = RunConfig.model_validate(dict(
        model="tiny-llama", workload=dict(input_tokens=16, output_tokens=20),
        load=dict(kind="concurrency", concurrency=4), num_requests=200,
        output_dir=str(tmp_path / "run"), energy=dict(meter="none")))
    seen, dead = [], []

    def on_record(rec):
        seen.append(rec)
        if len(seen) == 8:
            server.stop()
            dead.append(True)

    with pytest.raises(RunFailed, match="synthetic server stopped") as err:
        run_benchmark(cfg, base_url=server.base_url, served_model="synth",
                      watchdog=lambda: "synthetic server stopped" if dead else None,
                      on_record=on_record)
    assert err.value.run_dir == cfg.output_dir
    records = read_requests(cfg.output_dir)
    assert sum(r.status == "ok" for r in records) >= 8
    assert all(r.output_tokens == 20 for r in records if r.status == "ok")
    report = load_report(cfg.output_dir)
    assert report.status == "partial"
    assert report.failure == "synthetic server stopped"
    assert report.summary.requests_ok == sum(r.status == "ok" for r in records)
