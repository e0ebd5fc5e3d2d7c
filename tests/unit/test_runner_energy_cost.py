"""A run's measured energy flows into its report and its cost (replayed trace, by hand)."""

import pytest

from bench.config.plan import plan_run
from bench.config.run import RunConfig
from bench.cost.assumptions import CostAssumptions
from bench.energy.records import ChannelTrace, EnergyTrace
from bench.records import RequestRecord
from bench.report.provenance import collect_provenance
from bench.runner import assemble_report

S = 1_000_000_000


def records():
    # concurrency 1, two requests back to back: window = send of the 1st (0 s) to the first
    # completion after the last send (20 s); 100 output tokens each, one chunk per 0.1 s
    out = []
    for i, t0 in enumerate((0, 10 * S)):
        chunks = [t0 + k * S // 10 for k in range(1, 101)]
        out.append(RequestRecord(
            request_id=f"r{i}", index=i, status="ok", sent_ns=t0, done_ns=chunks[-1],
            chunk_ns=chunks, chunk_tokens=[1] * 100, first_chunk_ns=chunks[0],
            last_chunk_ns=chunks[-1], input_tokens=50, output_tokens=100,
            client_output_tokens=100,
        ))
    return out


def trace(power_w: float):
    # a node meter sampled every second from -5 s to 25 s at constant power
    times = [k * S for k in range(-5, 26)]
    channel = ChannelTrace(channel="cpu0-package", domain="cpu_package", meter="rapl",
                           nominal_period_s=1.0, sample_ns=times, power_w=[power_w] * len(times))
    return EnergyTrace(started_ns=times[0], stopped_ns=times[-1], channels=[channel],
                       meters=["rapl: test trace"])


def test_measured_power_reaches_energy_and_cost(tmp_path):
    cfg = RunConfig.model_validate(dict(
        model="tiny-llama", workload=dict(input_tokens=50, output_tokens=100),
        load=dict(kind="concurrency", concurrency=1), num_requests=2, output_dir=str(tmp_path)))
    plan = plan_run(cfg, CostAssumptions(electricity_price_per_kwh=0.10, pue=1.5))
    report = assemble_report(plan, records(), run_id="t", created="now",
                             provenance=collect_provenance(), stats=None, scraper=None,
                             failure=None, trace=trace(36.0))
    window = report.summary.steady_state
    assert (window.start_ns, window.end_ns) == (0, 20 * S)
    assert window.output_tokens == pytest.approx(200)
    energy = report.energy
    assert energy.measured and energy.primary == "cpu"
    total = energy.total("cpu")
    # 36 W for 20 s = 720 J; 720 J / 200 output tokens = 3.6 J per token
    assert total.energy_j == pytest.approx(720.0)
    assert total.j_per_output_token == pytest.approx(3.6)
    # tokens per kWh: 200 output tokens / (720 J / 3.6e6 J per kWh) = 1,000,000
    assert total.output_tokens_per_kwh == pytest.approx(1.0e6)
    power = [line for line in report.cost.lines if line.unit == "W"]
    assert power and power[0].basis == "measured" and power[0].value == pytest.approx(36.0)
