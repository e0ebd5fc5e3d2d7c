"""A server that dies mid-run fails the run: partial report, reason, flushed records.

The built-in synthetic server stands in for vLLM here (the real-vLLM version of this test
is tests/integration/test_server_death.py). Once the server is gone the remaining
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


def test_a_named_workload_without_seed_keeps_one_arrival_schedule(tmp_path):
    """Open-loop arrivals follow the workload's own seed when no --seed is given, as its
    requests do: two runs send at the same offsets (they were random before)."""
    offsets = []
    with SynthServer(ttft_s=0.001, itl_s=0.0002) as server:
        for k in range(2):
            cfg = RunConfig.model_validate(dict(
                model="tiny-llama", workload=dict(kind="suite", name="chat"), warmup_requests=0,
                load=dict(kind="rate", rate_per_s=200.0, arrival="poisson"), num_requests=6,
                output_dir=str(tmp_path / f"run{k}"), energy=dict(meter="none")))  # fmt: skip
            run_benchmark(cfg, base_url=server.base_url, served_model="synth")
            sched = sorted(r.scheduled_ns for r in read_requests(cfg.output_dir))
            offsets.append([t - sched[0] for t in sched])
    assert len(offsets[0]) == 6 and offsets[0][-1] > 0
    assert offsets[0] == offsets[1]
