"""Plot series from records: hand-checkable numbers."""

from __future__ import annotations

import pytest

from bench.energy.records import ChannelTrace, EnergyTrace
from bench.records import RequestRecord
from bench.render.series import (
    cdf,
    choose_bin_s,
    latency_values,
    over_time,
    power_timelines,
    token_rate,
)

S = 1_000_000_000


def rec(i: int, sent_s: float, chunks_s: list[float], tokens: list[int] | None = None,
        **kw: object) -> RequestRecord:  # fmt: skip
    chunk_ns = [int(t * S) for t in chunks_s]
    tokens = tokens or [1] * len(chunks_s)
    return RequestRecord(
        request_id=f"r{i}", index=i, status=kw.pop("status", "ok"), sent_ns=int(sent_s * S),
        first_chunk_ns=chunk_ns[0] if chunk_ns else None,
        last_chunk_ns=chunk_ns[-1] if chunk_ns else None,
        done_ns=chunk_ns[-1] if chunk_ns else int(sent_s * S), chunk_ns=chunk_ns,
        chunk_tokens=tokens, output_tokens=sum(tokens) if chunk_ns else None, **kw,
    )  # fmt: skip


def test_cdf_of_three_values() -> None:
    assert cdf([3.0, 1.0, 2.0]) == ([1.0, 2.0, 3.0], [1 / 3, 2 / 3, 1.0])
    assert cdf([]) == ([], [])


@pytest.mark.parametrize(
    ("duration_s", "expected"), [(20.0, 0.5), (600.0, 15.0), (0.1, 0.05), (1e6, 300.0), (40, 1.0)]
)
def test_bin_width_gives_about_forty_bins(duration_s: float, expected: float) -> None:
    assert choose_bin_s(duration_s) == expected


def test_token_rate_counts_tokens_by_arrival_bin() -> None:
    records = [
        rec(0, 0.0, [0.1, 0.2]),
        rec(1, 0.5, [1.5], tokens=[2]),  # one chunk carrying 2 tokens
        rec(2, 0.0, [0.3, 0.4], warmup=True),  # warm-up: not counted
        rec(3, 0.0, [9.0 - 10.0 + 0.5]),  # before the origin (t = -0.5 s): ignored
    ]
    assert token_rate(records, origin_ns=0, bin_s=1.0) == ([0.0, 1.0], [2.0, 2.0])
    assert token_rate(records, origin_ns=0, bin_s=0.5) == ([0.0, 0.5, 1.0, 1.5], [4, 0, 0, 4])
    assert token_rate([], origin_ns=0, bin_s=1.0) == ([], [])


def test_latency_values_use_the_canonical_metrics() -> None:
    # sent at 0, chunks at 100, 200, 400 ms, 3 tokens: TTFT 0.1, E2E 0.4, TPOT 0.3 / 2
    ok = rec(0, 0.0, [0.1, 0.2, 0.4])
    failed = rec(1, 0.0, [], status="error", error_class="http_500")
    warm = rec(2, 0.0, [0.05, 0.06], warmup=True)
    records = [ok, failed, warm]
    assert latency_values(records, "ttft") == pytest.approx([0.1])
    assert latency_values(records, "e2e") == pytest.approx([0.4])
    assert latency_values(records, "tpot") == pytest.approx([0.15])
    assert latency_values(records, "itl") == pytest.approx([0.1, 0.2])


def test_over_time_is_in_send_order_relative_to_origin() -> None:
    records = [rec(0, 2.0, [2.3, 2.4]), rec(1, 1.0, [1.1, 1.2])]
    ts, vs = over_time(records, "ttft", origin_ns=int(0.5 * S))
    assert ts == pytest.approx([0.5, 1.5])
    assert vs == pytest.approx([0.1, 0.3])


def test_power_timelines_shift_to_the_origin() -> None:
    trace = EnergyTrace(
        channels=[
            ChannelTrace(channel="gpu0", domain="gpu", meter="nvml", nominal_period_s=0.1,
                         sample_ns=[1 * S, 2 * S], power_w=[300.0, 310.0]),
            ChannelTrace(channel="node", domain="node", meter="ipmi", nominal_period_s=1.0),
        ]
    )  # fmt: skip
    assert power_timelines(trace, origin_ns=S) == [("gpu0", [0.0, 1.0], [300.0, 310.0])]
