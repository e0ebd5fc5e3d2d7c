"""Calibration logic on literal numbers: matching, error arithmetic, offered load, verdict."""

import pytest

from bench.calibrate.compare import fidelity
from bench.calibrate.run import CalibrationPlan, client_cores, server_cpus
from bench.calibrate.verdict import Figures, verdict
from bench.config.run import ConcurrencyLoad, RateLoad
from bench.loadgen.assess import LIMITS
from bench.records import RequestRecord
from bench.synth.records import SynthRequestRecord

MS = 1_000_000


def client(rid, sent, chunks, status="ok"):
    return RequestRecord(request_id=rid, index=0, status=status, sent_ns=sent,
                         done_ns=chunks[-1] if chunks else sent, chunk_ns=chunks,
                         first_chunk_ns=chunks[0] if chunks else None,
                         last_chunk_ns=chunks[-1] if chunks else None)  # fmt: skip


def server(rid, received, sent):
    return SynthRequestRecord(
        request_id=rid, seq=0, endpoint="completions", stream=True, prompt_tokens=1,
        max_tokens=len(sent), completion_tokens=len(sent), outcome="ok", received_ns=received,
        chunk_due_ns=sent, chunk_sent_ns=sent, chunk_tokens=[1] * len(sent),
    )  # fmt: skip


def test_fidelity_arithmetic_by_hand():
    # client sent at 0 ms; server read it at 1 ms, sent chunks at 51, 56, 61 ms;
    # client got them at 52, 57.5, 62 ms.
    c = client("a", 0, [52 * MS, 57 * MS + MS // 2, 62 * MS])
    s = server("cmpl-a", 1 * MS, [51 * MS, 56 * MS, 61 * MS])
    f = fidelity([c], [s])
    assert f.matched == 1 and f.unmatched == 0
    assert f.send_delay_s.p50 == pytest.approx(0.001)
    # client TTFT 52 ms − server TTFT (51 − 1 = 50 ms) = 2 ms
    assert f.ttft_error_s.p50 == pytest.approx(0.002)
    assert f.receive_delay_s.min == pytest.approx(0.001)
    assert f.receive_delay_s.max == pytest.approx(0.0015)
    # gaps: client 5.5 and 4.5 ms, server 5 and 5 ms -> errors +0.5 and -0.5 ms
    assert sorted([f.itl_error_s.min, f.itl_error_s.max]) == pytest.approx([-0.0005, 0.0005])
    assert f.server_itl_p99_s == pytest.approx(0.005)
    assert f.itl_p99_error_s == pytest.approx(abs(f.client_itl_p99_s - 0.005))


def test_fidelity_matches_chat_ids_counts_unmatched_and_mismatched_chunks():
    c1 = client("x", 0, [10 * MS, 20 * MS])
    c2 = client("y", 0, [10 * MS])
    c3 = client("z", 0, [10 * MS])
    failed = client("q", 0, [], status="error")
    s1 = server("chatcmpl-x", 0, [9 * MS, 19 * MS])
    s2 = server("cmpl-y", 0, [9 * MS, 19 * MS])  # the client saw only one of two chunks
    f = fidelity([c1, c2, c3, failed], [s1, s2])
    assert (f.matched, f.unmatched, f.chunk_count_mismatches) == (2, 1, 1)
    assert f.ttft_error_s.count == 2 and f.receive_delay_s.count == 2


def test_offered_load_and_request_count():
    closed = CalibrationPlan(load=ConcurrencyLoad(concurrency=512), duration_s=10)
    # 256 chunks per request in 0.05 + 255 × 0.005 = 1.325 s; 512 in flight
    assert closed.ideal_request_s == pytest.approx(1.325)
    assert closed.offered_chunks_per_s() == pytest.approx(512 * 256 / 1.325)
    assert closed.request_count() == int(512 / 1.325 * 10 * 1.5) + 512
    capped = CalibrationPlan(
        load=RateLoad(rate_per_s=1000, max_concurrency=10), output_tokens=10, itl_s=0.01,
        ttft_s=0.01, tokens_per_chunk=3, num_requests=5,
    )  # fmt: skip
    # 4 chunks (3+3+3+1) in 0.01 + 3 × 0.01 = 0.04 s; cap 10 -> 250 req/s < 1000
    assert capped.chunks_per_request == 4
    assert capped.offered_chunks_per_s() == pytest.approx(250 * 4)
    assert capped.request_count() == 5


def figures(**kw):
    base = dict(ttft_error_p50_s=0.0005, ttft_error_p99_s=0.002, itl_p99_error_s=0.0002,
                throughput_fraction=0.995, busiest_cpu_fraction=0.3, loop_lag_p99_s=0.001,
                server_late_p99_s=0.0002, cpu_pressure_pct=3.0)  # fmt: skip
    base.update(kw)
    return Figures(**base)


def test_verdict_pass_when_every_figure_is_inside_its_limit():
    v = verdict(figures())
    assert v.status == "pass" and v.reasons == [] and all(c.ok for c in v.checks)


@pytest.mark.parametrize(
    ("field", "value", "check"),
    [
        ("ttft_error_p50_s", 0.0021, "ttft_error_p50"),
        ("ttft_error_p99_s", 0.0051, "ttft_error_p99"),
        ("itl_p99_error_s", 0.0011, "itl_p99_error"),
        ("throughput_fraction", 0.979, "throughput"),
        ("busiest_cpu_fraction", 0.81, "cpu_fraction"),
        ("loop_lag_p99_s", 0.0051, "loop_lag_p99"),
        ("send_lag_p99_s", 0.0051, "send_lag_p99"),
    ],
)
def test_verdict_fails_on_each_limit(field, value, check):
    v = verdict(figures(**{field: value}))
    assert v.status == "fail"
    assert [c.name for c in v.checks if not c.ok] == [check]


def test_limits_at_the_boundary_still_pass():
    v = verdict(figures(ttft_error_p50_s=0.002, ttft_error_p99_s=0.005, throughput_fraction=0.98,
                        busiest_cpu_fraction=0.8, send_lag_p99_s=0.005))  # fmt: skip
    assert v.status == "pass"


def test_busy_machine_makes_a_failure_inconclusive_not_a_pass():
    late = verdict(figures(ttft_error_p50_s=0.03, server_late_p99_s=0.004))
    assert late.status == "inconclusive" and "server itself sent late" in late.reasons[0]
    busy = verdict(figures(loop_lag_p99_s=0.05, cpu_pressure_pct=95.0))
    assert busy.status == "inconclusive" and "CPU pressure 95 %" in busy.reasons[0]
    # a busy machine never turns good figures bad, nor bad ones good
    assert verdict(figures(cpu_pressure_pct=95.0)).status == "pass"


def test_failed_or_unrecorded_requests_fail():
    assert verdict(figures(failed_requests=2)).status == "fail"
    assert verdict(figures(unmatched_requests=1)).status == "fail"
    assert verdict(figures(ttft_error_p50_s=None)).status == "fail"  # not measured


def test_bench_run_warns_with_the_calibration_limits():
    """`bench run`'s client warnings switch on exactly where calibration's checks fail."""
    from bench.loadgen.drive import DriveStats
    from bench.runner import client_load

    def stats(cpu_s, lag_s):
        return DriveStats(cpu_s=cpu_s, wall_s=1.0, loop_lag_s=[lag_s] * 10, worker_cpu_s=[cpu_s])

    assert client_load(stats(LIMITS.cpu_fraction - 0.01, 0.001)).warnings == []
    assert len(client_load(stats(LIMITS.cpu_fraction + 0.01, 0.001)).warnings) == 1
    assert client_load(stats(0.1, LIMITS.loop_lag_p99_s - 0.0005)).warnings == []
    assert len(client_load(stats(0.1, LIMITS.loop_lag_p99_s + 0.0005)).warnings) == 1


def test_a_machine_limit_is_named_as_such_and_outranks_inconclusive():
    """The bytes-only reader over 80 % of a core: the machine cannot drive the load, whatever
    the client (even when the server was late too: that only understates the reader)."""
    bad = dict(throughput_fraction=0.9, busiest_cpu_fraction=0.99, server_late_p99_s=0.01)
    v = verdict(figures(**bad, floor_cpu_fraction=0.81))
    assert v.status == "fail"
    assert v.reasons[0].startswith("the machine is the limit, not the client")
    assert "81% of a core" in v.reasons[0] and "--workers N" in v.reasons[0]
    # the reader had headroom: the old reading stands (here: the server was late)
    assert verdict(figures(**bad, floor_cpu_fraction=0.8)).status == "inconclusive"
    # a floor never turns a pass into anything else
    assert verdict(figures(floor_cpu_fraction=0.99)).status == "pass"


def test_floor_takes_one_client_cores_share_of_the_plan():
    from bench.calibrate.floor import floor_concurrency

    one = CalibrationPlan(load=ConcurrencyLoad(concurrency=512))
    assert floor_concurrency(one, cores=1) == 512
    assert floor_concurrency(CalibrationPlan(load=ConcurrencyLoad(concurrency=512),
                                             workers=3), cores=3) == 171  # fmt: skip
    # two workers confined to one core: that core's reader carries the whole load
    two_on_one = CalibrationPlan(load=ConcurrencyLoad(concurrency=512), workers=2)
    assert floor_concurrency(two_on_one, cores=client_cores([0], 2, set())) == 512
    # open loop: in flight = rate × request time = 200/s × 1.325 s = 265
    assert floor_concurrency(CalibrationPlan(load=RateLoad(rate_per_s=200)), cores=1) == 265
    capped = CalibrationPlan(load=RateLoad(rate_per_s=200, max_concurrency=100), workers=2)
    assert floor_concurrency(capped, cores=2) == 50


def test_client_cores_count_only_the_cores_the_client_may_use():
    assert client_cores([0], 2, set()) == 1  # --workers 2 under taskset -c 0
    assert client_cores([0, 1], 2, {1}) == 1  # the server pinned to the second one
    assert client_cores([0, 1, 2, 3], 2, {3}) == 2
    assert client_cores([0, 1, 2, 3], 8, {3}) == 3
    assert client_cores([0, 1, 2, 3, 4, 5], 8, {4, 5}) == 4  # two server processes
    assert client_cores([1], 1, {1}) == 1  # sharing the server's core still leaves one
    assert client_cores([], 2, set()) == 2  # mask unknown: one core per worker assumed
    two = CalibrationPlan(load=ConcurrencyLoad(concurrency=8), server_cpu=2, server_processes=2)
    assert server_cpus(two) == {2, 3}
    assert server_cpus(CalibrationPlan(load=ConcurrencyLoad(concurrency=8))) == set()


def test_the_ceiling_counts_the_cores_the_client_may_use():
    """Two workers on one allowed core: 5 CPU µs per chunk -> one core's 200k chunks/s,
    not 400k (nor headroom ×2)."""
    from bench.calibrate.run import ingest
    from bench.loadgen.drive import DriveStats

    plan = CalibrationPlan(load=ConcurrencyLoad(concurrency=100), output_tokens=10,
                           ttft_s=0.01, itl_s=0.01, workers=2)  # fmt: skip
    recs = [client(f"r{i}", 0, [(10 + 10 * j) * MS for j in range(10)]) for i in range(100)]
    stats = DriveStats(cpu_s=1000 * 5e-6, wall_s=0.1, workers=2, allowed_cpus=[0],
                       start_ns=0, end_ns=100 * MS)  # fmt: skip
    i = ingest(plan, recs, stats)
    assert i.chunks == 1000 and i.cpu_us_per_chunk == pytest.approx(5.0)
    assert i.client_cores == 1 and i.ceiling_chunks_per_s == pytest.approx(200_000)
    # offered: 100 × 10 chunks per (0.01 + 9 × 0.01) s = 10,000/s -> headroom ×20
    assert i.headroom == pytest.approx(20.0)
    two = DriveStats(cpu_s=5e-3, wall_s=0.1, workers=2, allowed_cpus=[0, 1], start_ns=0,
                     end_ns=100 * MS)  # fmt: skip
    spread = ingest(plan, recs, two)
    assert spread.client_cores == 2 and spread.ceiling_chunks_per_s == pytest.approx(400_000)


def test_the_calibrations_own_pressure_is_not_blamed_on_other_processes():
    """Pressure 35 % while other processes used 0.01 CPU-s in 25 s: the calibration's own
    workers and server competed; a failure is the client's setup (fail), not "others"."""
    own = verdict(figures(busiest_cpu_fraction=0.47, allowed_cpu_fraction=0.95,
                          cpu_pressure_pct=35.0, other_cpu_fraction=0.0004,
                          other_cpu_s=0.01, own_cpu_s=47.6, wall_s=25.0))  # fmt: skip
    assert own.status == "fail"
    assert own.reasons[0].startswith("CPU pressure 35 % came from this calibration's own")
    assert "other processes used 0.01 CPU-s in 25.0 s" in own.reasons[0]
    assert [c.name for c in own.checks if not c.ok] == ["cpu_allowed"]
    others = verdict(figures(ttft_error_p99_s=0.02, cpu_pressure_pct=35.0,
                             other_cpu_fraction=0.4, other_cpu_s=10.0, wall_s=25.0))  # fmt: skip
    assert others.status == "inconclusive"
    assert "they used 10.00 CPU-s in 25.0 s, 40% of a core" in others.reasons[0]
    # at the limit (10 % of a core) other processes are not blamed
    edge = verdict(figures(ttft_error_p99_s=0.02, cpu_pressure_pct=35.0,
                           other_cpu_fraction=0.1, other_cpu_s=2.5, wall_s=25.0))  # fmt: skip
    assert edge.status == "fail"


def test_a_server_at_its_cpu_limit_makes_a_failure_inconclusive():
    v = verdict(figures(ttft_error_p99_s=0.02, server_cpu_fraction=0.95))
    assert v.status == "inconclusive"
    assert "the synthetic server was the limit: it used 95% of its core" in v.reasons[0]
    assert verdict(figures(ttft_error_p99_s=0.02, server_cpu_fraction=0.8)).status == "fail"
    assert verdict(figures(server_cpu_fraction=0.95)).status == "pass"


def test_other_processes_cpu_by_hand():
    from bench.calibrate.machine import busy_cpu_s, other_cpu

    assert other_cpu(25.41, 25.40, 25.0) == pytest.approx((0.01, 0.0004))
    assert other_cpu(25.0, 25.02, 25.0) == (0.0, 0.0)  # two clocks: never below zero
    assert other_cpu(None, 1.0, 25.0) == (None, None)
    # /proc/stat: user nice system idle iowait irq softirq steal (ticks)
    line = "cpu  100 50 30 9999 7 2 3 11 0 0"
    ticks = 100 + 50 + 30 + 2 + 3  # idle, iowait and steal are nobody's work
    import os

    assert busy_cpu_s(line) == pytest.approx(ticks / os.sysconf("SC_CLK_TCK"))
    assert busy_cpu_s("intr 1 2") is None


def test_floor_ttft_error_by_hand():
    """Request 7 sent at 1 ms, its first event read at 53 ms; the server read it at 2 ms
    and sent the first chunk at 52 ms: (53 − 1) − (52 − 2) = 2 ms. Request 8 never matched."""
    from bench.calibrate.floor import FloorRun, floor_ttft_errors, request_bytes, with_id

    run = FloorRun(0, 100 * MS, 0, 0.0, [(7, 1 * MS, 53 * MS), (8, 1 * MS, 60 * MS)])
    srv = server("cmpl-floor-000000007", 2 * MS, [52 * MS, 57 * MS])
    assert floor_ttft_errors(run, [srv]) == pytest.approx([0.002])
    req = request_bytes(8000, 3, 2)
    assert b"x-request-id: floor-000000000\r\n" in req
    assert with_id(req, 7) == req.replace(b"floor-000000000", b"floor-000000007")
