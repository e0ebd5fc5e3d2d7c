"""Client self-assessment: warnings from numbers, and send-lag accounting on a real schedule."""

import asyncio
import time

import pytest

from bench.config.run import RateLoad
from bench.loadgen.assess import (
    LIMITS,
    allowed_cpu_fraction,
    busiest_cpu_fraction,
    client_load,
    client_warnings,
    loop_lag_bound_s,
    usable_cores,
)
from bench.loadgen.client import StreamTarget
from bench.loadgen.drive import DriveStats, drive
from bench.metrics.latency import distribution
from bench.records import RequestSpec
from bench.synth.control import SynthServer


def test_no_warning_inside_the_limits():
    lag = distribution([0.001, 0.002])
    assert client_warnings(0.5, lag, distribution([0.0001, 0.004])) == []


def test_each_limit_warns_with_its_number():
    quiet = distribution([0.001])
    [cpu] = client_warnings(0.85, quiet, None)
    assert "85% of a core" in cpu and "limit 80%" in cpu
    [lag] = client_warnings(0.1, distribution([0.006] * 10), None)
    assert "event-loop lag p99 6.0 ms" in lag and "late by up to 16.0 ms" in lag
    [late] = client_warnings(0.1, quiet, distribution([0.0, 0.012]))
    assert "could not keep the arrival schedule" in late and "max 12.0 ms" in late


def test_busiest_worker_decides_the_cpu_fraction():
    assert busiest_cpu_fraction([0.3, 0.9, 0.2], 1.0) == pytest.approx(0.9)
    assert busiest_cpu_fraction([], 1.0) == 0.0
    stats = DriveStats(cpu_s=1.4, wall_s=1.0, loop_lag_s=[0.001], workers=3,
                       worker_cpu_s=[0.3, 0.9, 0.2])  # fmt: skip
    load = client_load(stats)
    assert load.cpu_fraction == pytest.approx(0.9) and load.cpu_s == pytest.approx(1.4)
    assert load.warnings and "busiest of 3 client workers used 90%" in load.warnings[0]


def test_workers_confined_to_one_core_are_judged_on_that_core():
    """Two workers under `taskset -c 0`: 46 % and 47 % each, 95 % of the one core with
    their parent's 2 %; neither alone passes 80 %, together they do."""
    stats = DriveStats(cpu_s=0.95, wall_s=1.0, loop_lag_s=[0.001], workers=2,
                       worker_cpu_s=[0.46, 0.47], allowed_cpus=[0])  # fmt: skip
    load = client_load(stats)
    assert load.cpu_fraction == pytest.approx(0.47)
    assert load.allowed_cpu_fraction == pytest.approx(0.95) and load.allowed_cpus == [0]
    [warning] = load.warnings
    assert "together used 95% of the 1 core they may use (CPU 0)" in warning
    # the same work on two allowed cores: 0.95 / 2 = 47.5 %, no warning
    spread = client_load(DriveStats(cpu_s=0.95, wall_s=1.0, loop_lag_s=[0.001], workers=2,
                                    worker_cpu_s=[0.46, 0.47], allowed_cpus=[0, 1]))  # fmt: skip
    assert spread.allowed_cpu_fraction == pytest.approx(0.475) and spread.warnings == []


def test_cores_a_client_can_use_by_hand():
    assert usable_cores(1, 2) == 1  # two workers, one core
    assert usable_cores(4, 2) == 2  # two workers cannot use four cores
    assert usable_cores(0, 3) == 1
    # 1.2 CPU-s over 2 s: 2 workers on 8 cores -> 1.2 / (2 × 2) = 30 %
    assert allowed_cpu_fraction(1.2, 2.0, 8, 2) == pytest.approx(0.3)
    assert allowed_cpu_fraction(1.2, 2.0, 0, 2) is None  # mask unknown
    assert allowed_cpu_fraction(1.2, 0.0, 2, 2) is None


def test_one_busy_process_gives_one_cpu_warning_not_two():
    stats = DriveStats(cpu_s=0.9, wall_s=1.0, loop_lag_s=[0.001], worker_cpu_s=[0.9],
                       allowed_cpus=[0])  # fmt: skip
    [warning] = client_load(stats).warnings
    assert warning.startswith("client used 90% of a core")


def test_the_loop_lag_warning_bounds_the_lateness_by_the_largest_lag():
    """At C=512 the probes' p99 was 16.4 ms while TTFT was off by 47-51 ms and the largest
    lag 68-98 ms: the warning must give a bound, not the p99."""
    lag = distribution([0.001] * 98 + [0.0164, 0.098])
    assert lag.p99 > LIMITS.loop_lag_p99_s
    # a stall begins while a probe sleeps: it is at most max lag + one 10 ms period
    assert loop_lag_bound_s(lag) == pytest.approx(0.108)
    [warning] = client_warnings(0.1, lag, None)
    assert "max 98.0 ms" in warning and "late by up to 108.0 ms" in warning
    assert loop_lag_bound_s(distribution([])) is None


def _specs(n, tokens=4):
    return [RequestSpec(request_id=f"r{i}", body={"prompt": "a b", "max_tokens": tokens},
                        requested_output_tokens=tokens) for i in range(n)]  # fmt: skip


@pytest.fixture(scope="module")
def server():
    with SynthServer(mode="thread", ttft_s=0.003, itl_s=0.001) as srv:
        yield srv


def _run(server, rate, on_record):
    target = StreamTarget(server.base_url, "synth", token_ids=False)
    load = RateLoad(rate_per_s=rate, arrival="constant")
    return asyncio.run(drive(target, _specs(12), load, on_record=on_record))


def test_send_lag_is_sent_minus_scheduled_never_early(server):
    records = []
    stats = _run(server, 200.0, records.append)
    assert [r.status for r in records] == ["ok"] * 12
    scheduled = sorted(r.scheduled_ns for r in records)
    gaps = {b - a for a, b in zip(scheduled, scheduled[1:], strict=False)}
    assert gaps <= {4_999_999, 5_000_000, 5_000_001}  # constant 200/s: 5 ms apart
    lags = sorted((r.sent_ns - r.scheduled_ns) / 1e9 for r in records)
    assert sorted(stats.send_lag_s) == pytest.approx(lags, abs=1e-9)
    assert lags[0] >= 0  # the timer wheel never sends before the schedule


def test_a_schedule_the_client_cannot_keep_is_flagged(server):
    def slow_consumer(rec):
        time.sleep(0.03)  # blocks the event loop: later arrivals go out late

    stats = _run(server, 200.0, slow_consumer)
    load = client_load(stats)
    assert load.send_lag_s is not None and load.send_lag_s.p99 > LIMITS.send_lag_p99_s
    assert any("could not keep the arrival schedule" in w for w in load.warnings)
