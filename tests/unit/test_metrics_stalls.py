"""Stalls in the throughput window: the client held up, or bins with no output at all.

Literal times in milliseconds from the window's start unless said otherwise.
"""

import asyncio
import time

import pytest

from bench.config.run import ConcurrencyLoad
from bench.loadgen.drive import _loop_lag_probe
from bench.metrics.stalls import bin_width_s, client_stalls, zero_output_stalls
from bench.metrics.summary import summarize
from bench.records import RequestRecord
from bench.report.trust import stalls_warning, trust_warnings

MS = 1_000_000
S = 1_000_000_000


def test_bin_width_by_hand():
    # the demo: ITL p50 2.2 ms, TTFT p50 63 ms -> max(0.1, 0.022, 0.063)
    assert bin_width_s(0.0022, 0.063) == pytest.approx(0.1)
    assert bin_width_s(0.02, 0.05) == pytest.approx(0.2)  # 10 x 20 ms
    assert bin_width_s(0.002, 1.5) == pytest.approx(1.5)  # long prefill at low load
    assert bin_width_s(None, None) == pytest.approx(0.1)


def test_zero_output_runs_of_whole_bins():
    # window 0-1 s, 0.1 s bins, chunks at 50 and 450 ms: bins 1-3 and 5-9 are empty
    stalls = zero_output_stalls([50 * MS, 450 * MS], (0, S), 0.1)
    assert [(e.start_s, e.duration_s) for e in stalls] == [
        pytest.approx((0.1, 0.3)),
        pytest.approx((0.5, 0.5)),
    ]
    # a partial last bin (1.0-1.05 s of a 1.05 s window) is not judged
    every_bin = [50 * MS + k * 100 * MS for k in range(10)]
    assert zero_output_stalls(every_bin, (0, 1050 * MS), 0.1) == []
    # times are relative to the window's start
    [late] = zero_output_stalls([2050 * MS, 2150 * MS, 2450 * MS], (2 * S, 2500 * MS), 0.1)
    assert (late.start_s, late.duration_s) == pytest.approx((0.2, 0.2))


def test_client_stalls_over_the_limit_inside_the_window():
    window = (10 * S, 20 * S)
    lags = [
        (9 * S, 0.5),  # ends at 9.5 s: before the window
        (12 * S, 0.015),  # under the 22 ms limit
        (12 * S + 300 * MS, 0.306),  # the p99 lag: at 2.3 s into the window
        (9900 * MS, 0.2),  # began before the window, ended inside: clipped to its start
    ]
    found = client_stalls(lags, window, 0.022)
    assert [(e.start_s, e.duration_s) for e in found] == [
        pytest.approx((2.3, 0.306)),
        pytest.approx((0.0, 0.2)),
    ]


def rec(i, chunks_ms):
    chunk_ns = [int(t * MS) for t in chunks_ms]
    return RequestRecord(
        request_id=f"r{i}", index=i, status="ok", sent_ns=0, done_ns=chunk_ns[-1],
        chunk_ns=chunk_ns, chunk_tokens=[1] * len(chunk_ns), first_chunk_ns=chunk_ns[0],
        last_chunk_ns=chunk_ns[-1], output_tokens=len(chunk_ns), input_tokens=4,
    )  # fmt: skip


def test_summary_names_the_stalls_with_times_from_the_window_start():
    # one request streaming every 2 ms from 10 ms to 4 s, except nothing 1.5-2.5 s
    times = [10 + 2 * k for k in range(2000) if not 1500 <= 10 + 2 * k < 2500]
    records = [rec(0, times)]
    lags = [(1600 * MS, 0.4), (3000 * MS, 0.005)]
    s = summarize(records, ConcurrencyLoad(concurrency=1), loop_stalls=lags)
    st = s.stalls
    assert st.window == "steady_state" and s.steady_state.start_ns == 0
    assert st.expected_itl_s == pytest.approx(0.002)
    assert st.client_limit_s == pytest.approx(0.020) and st.bin_s == pytest.approx(0.1)
    # 0.1 s bins from 0: bins 15-24 (1.5-2.5 s) hold no chunk; one 400 ms client stall
    assert [(e.kind, e.start_s, e.duration_s) for e in st.events] == [
        ("zero_output", pytest.approx(1.5), pytest.approx(1.0)),
        ("client_loop", pytest.approx(1.6), pytest.approx(0.4)),
    ]
    warning = stalls_warning(st)
    assert warning in trust_warnings(s)
    assert "stalls in the steady-state window (times from its start)" in warning
    assert "the client's event loop was held up 400 ms at 1.60 s (limit 20.0 ms" in warning
    assert "no output token arrived for 1,000 ms at 1.50 s (0.1 s bins)" in warning


def test_a_steady_window_has_no_stalls_and_no_warning():
    s = summarize([rec(0, [10 + 2 * k for k in range(1000)])], ConcurrencyLoad(concurrency=1),
                  loop_stalls=[(500 * MS, 0.004)])  # fmt: skip
    assert s.stalls.events == [] and stalls_warning(s.stalls) is None


def test_offline_runs_are_not_judged_for_stalls():
    offline = RequestRecord(request_id="o", index=0, status="ok", sent_ns=0, done_ns=5 * S,
                            chunk_ns=[5 * S], chunk_tokens=[64], last_chunk_ns=5 * S,
                            output_tokens=64)  # fmt: skip
    assert summarize([offline], ConcurrencyLoad(concurrency=1)).stalls is None


def test_loop_lag_probe_keeps_the_time_of_a_large_lag():
    async def main():
        lags: list[float] = []
        stalls: list[tuple[int, float]] = []
        stop = asyncio.Event()
        probe = asyncio.create_task(_loop_lag_probe(lags, stop, stalls))
        await asyncio.sleep(0.03)
        blocked = time.perf_counter_ns()
        time.sleep(0.2)  # hold the loop up for 200 ms
        await asyncio.sleep(0.03)
        stop.set()
        await probe
        return blocked, lags, stalls

    blocked, lags, stalls = asyncio.run(main())
    big = [(t, lag) for t, lag in stalls if lag > 0.1]
    assert len(big) == 1
    began, lag = big[0]
    assert 0.19 < lag < 0.3
    # the stall began when the loop was blocked (within one 10 ms probe period)
    assert abs(began - blocked) < 15 * MS
    assert max(lags) == lag
