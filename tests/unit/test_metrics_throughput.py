"""Steady-state windows, token attribution by arrival time, goodput, error classes."""

import pytest

from bench.config.run import ConcurrencyLoad, RateLoad
from bench.metrics.summary import summarize
from bench.metrics.throughput import (
    errors_by_class,
    goodput,
    output_tokens_in_window,
    steady_state_window_closed,
    steady_state_window_open,
    throughput,
    token_count_mismatches,
)
from bench.records import SLO, RequestRecord

S = 1_000_000_000


def rec(i, sent, done, chunks=None, out=None, inp=10, status="ok", **kw):
    chunks = chunks if chunks is not None else ([done] if status == "ok" else [])
    return RequestRecord(
        request_id=f"r{i}",
        index=i,
        status=status,
        sent_ns=sent,
        done_ns=done,
        chunk_ns=chunks,
        chunk_tokens=[1] * len(chunks),
        first_chunk_ns=chunks[0] if chunks else None,
        last_chunk_ns=chunks[-1] if chunks else None,
        output_tokens=out if out is not None else (len(chunks) if status == "ok" else None),
        client_output_tokens=len(chunks),
        input_tokens=inp if status == "ok" else None,
        **kw,
    )


def test_closed_loop_window_starts_at_full_load_and_ends_at_drain():
    # concurrency 2: sends at 0, 0, then 3 (after r0 done at 3), 4 (after r1 done at 4)
    records = [rec(0, 0, 3 * S), rec(1, 0, 4 * S), rec(2, 3 * S, 6 * S), rec(3, 4 * S, 8 * S)]
    # target reached at the 2nd send (t=0); last send t=4; first completion after it t=6
    assert steady_state_window_closed(records, 2) == (0, 6 * S)
    # never reached 5 in flight
    assert steady_state_window_closed(records, 5) is None


def test_open_loop_window_first_to_last_arrival():
    records = [
        rec(0, 1 * S, 2 * S, scheduled_ns=1 * S),
        rec(1, 3 * S, 5 * S, scheduled_ns=3 * S),
        rec(2, 4 * S, 9 * S, scheduled_ns=4 * S),
    ]
    assert steady_state_window_open(records) == (1 * S, 4 * S)


def test_tokens_counted_by_arrival_time_inside_window():
    # 4 chunks at 1, 2, 3, 4 s; server says 8 tokens -> each chunk carries 2
    r = rec(0, 0, 4 * S, chunks=[1 * S, 2 * S, 3 * S, 4 * S], out=8)
    assert output_tokens_in_window(r, (int(1.5 * S), int(3.5 * S))) == pytest.approx(4.0)
    assert output_tokens_in_window(r, (0, 10 * S)) == pytest.approx(8.0)


def test_throughput_over_window_by_hand():
    # window 0..10 s; two requests of 5 output tokens each, input 10 each, both inside
    a = rec(0, 0, 4 * S, chunks=[1 * S, 2 * S, 2 * S, 3 * S, 4 * S])
    b = rec(1, 0, 9 * S, chunks=[5 * S, 6 * S, 7 * S, 8 * S, 9 * S])
    failed = rec(2, 0, 5 * S, status="error", error_class="http_500")
    tp = throughput([a, b, failed], (0, 10 * S), "steady_state")
    assert tp.duration_s == 10.0
    assert tp.requests_completed == 2
    assert tp.output_tok_per_s == pytest.approx(1.0)  # 10 tokens / 10 s
    assert tp.input_tok_per_s == pytest.approx(2.0)  # 20 tokens / 10 s
    assert tp.total_tok_per_s == pytest.approx(3.0)
    assert tp.request_per_s == pytest.approx(0.2)


def test_goodput_counts_only_requests_meeting_every_target():
    fast = rec(0, 0, 2 * S, chunks=[1 * S, 2 * S])  # ttft 1 s, tpot 1 s
    slow = rec(1, 0, 6 * S, chunks=[5 * S, 6 * S])  # ttft 5 s
    g = goodput([fast, slow], (0, 10 * S), SLO(ttft_s=2.0))
    assert g.requests_meeting_slo == 1 and g.requests_measured == 2
    assert g.fraction == 0.5
    assert g.request_per_s == pytest.approx(0.1)
    assert g.output_tok_per_s == pytest.approx(0.2)


def test_failures_are_classified_not_averaged():
    records = [
        rec(0, 0, 1 * S, chunks=[1 * S]),
        rec(1, 0, 2 * S, status="timeout", error_class="timeout"),
        rec(2, 0, 2 * S, status="error", error_class="http_503"),
        rec(3, 0, 2 * S, status="error", error_class="http_503"),
    ]
    assert errors_by_class(records) == {"timeout": 1, "http_503": 2}
    summary = summarize(records, ConcurrencyLoad(concurrency=1))
    assert summary.requests_ok == 1 and summary.requests_failed == 3
    assert summary.ttft_s.count == 1  # failures not averaged in


def test_mismatch_flag_over_one_percent():
    ok = rec(0, 0, 1 * S, chunks=[S] * 100, out=100)
    off = rec(1, 0, 1 * S, chunks=[S] * 98, out=100)
    assert token_count_mismatches([ok, off]) == ["r1"]


def test_summary_without_steady_state_says_why():
    records = [rec(0, 0, 1 * S)]
    s = summarize(records, ConcurrencyLoad(concurrency=4))
    assert s.steady_state is None
    assert "never reached 4" in s.steady_state_note
    s2 = summarize(records, RateLoad(rate_per_s=1.0))
    assert s2.steady_state is None and "fewer than two" in s2.steady_state_note
