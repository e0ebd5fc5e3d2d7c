"""Canonical latency metrics on literal timestamps (nanoseconds), checkable by hand."""

import pytest

from bench.metrics.latency import (
    distribution,
    e2e_s,
    interactivity_tok_per_s,
    itl_s,
    tpot_s,
    ttft_s,
)
from bench.records import RequestRecord

MS = 1_000_000


def rec(**kw):
    base = dict(request_id="r", index=0, status="ok", sent_ns=0, done_ns=0)
    base.update(kw)
    return RequestRecord(**base)


def test_ttft_e2e_tpot_itl_from_chunk_times():
    # sent at 0; chunks at 100, 120, 150, 190 ms; 4 output tokens (server usage)
    r = rec(
        sent_ns=0,
        first_chunk_ns=100 * MS,
        last_chunk_ns=190 * MS,
        chunk_ns=[100 * MS, 120 * MS, 150 * MS, 190 * MS],
        chunk_tokens=[1, 1, 1, 1],
        output_tokens=4,
        done_ns=191 * MS,
    )
    assert ttft_s(r) == pytest.approx(0.100)
    assert e2e_s(r) == pytest.approx(0.190)
    # (190 - 100) ms / (4 - 1) = 30 ms
    assert tpot_s(r) == pytest.approx(0.030)
    assert interactivity_tok_per_s(r) == pytest.approx(1 / 0.030)
    assert itl_s(r) == pytest.approx([0.020, 0.030, 0.040])


def test_tpot_uses_server_tokens_not_chunks():
    # two chunks carrying 5 tokens in all (speculative decoding / batching): TPOT over 4 gaps
    r = rec(
        first_chunk_ns=10 * MS,
        last_chunk_ns=50 * MS,
        chunk_ns=[10 * MS, 50 * MS],
        chunk_tokens=[1, 4],
        output_tokens=5,
        client_output_tokens=5,
        done_ns=50 * MS,
    )
    assert tpot_s(r) == pytest.approx(0.010)


def test_single_token_request_has_no_tpot():
    r = rec(
        first_chunk_ns=10 * MS,
        last_chunk_ns=10 * MS,
        chunk_ns=[10 * MS],
        chunk_tokens=[1],
        output_tokens=1,
        done_ns=10 * MS,
    )
    assert tpot_s(r) is None
    assert interactivity_tok_per_s(r) is None


def test_failed_request_without_chunks_has_no_latency():
    r = rec(status="error", error_class="http_500")
    assert ttft_s(r) is None and e2e_s(r) is None and tpot_s(r) is None


def test_distribution_percentiles_linear_interpolation():
    d = distribution([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0])
    assert d.count == 10
    assert d.mean == pytest.approx(5.5)
    assert d.min == 1.0 and d.max == 10.0
    assert d.p50 == pytest.approx(5.5)
    # rank 0.9 * 9 = 8.1 -> 9 + 0.1 * (10 - 9)
    assert d.p90 == pytest.approx(9.1)
    assert d.p99 == pytest.approx(9.91)


def test_empty_distribution_has_count_zero_and_no_numbers():
    d = distribution([])
    assert d.count == 0 and d.p50 is None and d.mean is None
