"""`bench calibrate` end to end: the real client against the synthetic server, moderate load.

Loose bounds (causality, nothing lost, the load roughly delivered) hold on any machine.
The tight ones (the targets of docs/client-fidelity.md) are asserted only when the machine
has CPU to give: with other processes keeping runnable tasks waiting (/proc/pressure/cpu
"some avg10" above 20 %), a late timestamp says nothing about the client, so those tests skip.
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from bench.calibrate.cli import app
from bench.calibrate.machine import cpu_pressure_pct
from bench.calibrate.run import CalibrationReport
from bench.config.run import ConcurrencyLoad
from bench.errors import UserError

MAX_CPU_PRESSURE_PCT = 20.0
ARGS = ["--concurrency", "16", "--ttft-ms", "20", "--itl-ms", "2", "--input-tokens", "16",
        "--output-tokens", "32", "--duration", "2"]  # fmt: skip


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory):
    out = tmp_path_factory.mktemp("cal") / "calibration.json"
    before = cpu_pressure_pct() or 0.0
    result = CliRunner().invoke(app, [*ARGS, "--out", str(out)])
    report = CalibrationReport.model_validate(json.loads(out.read_text()))
    pressure = max(before, report.cpu_pressure_pct or 0.0)
    return result, report, pressure


def test_cli_prints_the_verdict_and_writes_the_report(calibrated):
    result, report, _ = calibrated
    assert result.exit_code == (0 if report.verdict.status == "pass" else 1)
    assert f"verdict: {report.verdict.status.upper()}" in result.output
    assert "TTFT error (client − server)" in result.output
    assert report.plan.load == ConcurrencyLoad(concurrency=16)


def test_every_request_matched_with_the_servers_record(calibrated):
    _, report, _ = calibrated
    f = report.fidelity
    assert report.requests_failed == 0
    assert f.matched > 16 and f.unmatched == 0 and f.chunk_count_mismatches == 0
    assert f.receive_delay_s.count == 32 * f.matched


def test_causality_and_loose_bounds(calibrated):
    _, report, _ = calibrated
    f, i = report.fidelity, report.ingest
    assert f.send_delay_s.min >= 0 and f.receive_delay_s.min >= 0  # one clock, both sides
    assert f.ttft_error_s.p50 < 0.1
    assert 0.5 < i.throughput_fraction < 1.05
    # offered: 16 × 32 chunks per (0.02 + 31 × 0.002) s
    assert i.offered_chunks_per_s == pytest.approx(16 * 32 / 0.082)
    assert i.cpu_us_per_chunk is not None and i.cpu_us_per_chunk > 0


def test_tight_bounds_on_a_quiet_machine(calibrated):
    _, report, pressure = calibrated
    if pressure > MAX_CPU_PRESSURE_PCT:
        pytest.skip(
            f"CPU pressure {pressure:.0f} % > {MAX_CPU_PRESSURE_PCT:.0f} %: other processes "
            "keep this machine's CPUs busy, so ms timing cannot be judged"
        )
    f = report.fidelity
    assert f.ttft_error_s.p50 <= 0.002
    assert f.itl_p99_error_s is not None and f.itl_p99_error_s <= 0.001
    assert report.ingest.throughput_fraction >= 0.95


def test_both_loads_is_a_user_error():
    result = CliRunner().invoke(app, ["--concurrency", "4", "--rate", "3"])
    assert isinstance(result.exception, UserError)
    assert result.exception.field == "--concurrency"


def test_the_bytes_only_floor_reads_what_the_server_sends():
    from bench.calibrate.floor import measure_floor
    from bench.calibrate.run import CalibrationPlan
    from bench.config.run import ConcurrencyLoad

    plan = CalibrationPlan(load=ConcurrencyLoad(concurrency=8), input_tokens=16,
                           output_tokens=32, ttft_s=0.01, itl_s=0.002)  # fmt: skip
    floor = measure_floor(plan, seconds=1.0)
    assert floor.concurrency == 8 and floor.seconds == pytest.approx(1.0)
    # offered: 8 × 32 chunks per (0.01 + 31 × 0.002) s = 3,556 chunks/s
    assert 0.5 * 3556 < floor.chunks_per_s < 1.05 * 3556
    assert floor.cpu_us_per_chunk is not None and floor.cpu_us_per_chunk > 0
    assert 0 < floor.cpu_fraction < 1.5
    # its TTFT error, matched by request id: one clock, so never below zero
    assert floor.ttft_error_s is not None and floor.ttft_error_s.count > 8
    assert floor.ttft_error_s.min >= 0 and floor.ttft_error_s.p50 < 0.1
