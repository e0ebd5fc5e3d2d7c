"""Coalesced streams: their TPOT, ITL and interactivity are "not measured", never 0.

Literal time stamps in milliseconds; a chunk's stamp is the time of the network read that
carried it, so chunks with equal stamps arrived in one read.
"""

import pytest

from bench.config.run import ConcurrencyLoad
from bench.metrics.latency import (
    coalesced,
    content_reads,
    interactivity_tok_per_s,
    itl_s,
    tpot_s,
    ttft_s,
)
from bench.metrics.reads import read_counts
from bench.metrics.summary import summarize
from bench.metrics.throughput import goodput
from bench.metrics.trust import coalescing
from bench.records import SLO, RequestRecord
from bench.report.trust import coalescing_warning, trust_warnings

MS = 1_000_000


def rec(i, chunks_ms, tokens=None, sent_ms=0, **kw):
    chunk_ns = [int(t * MS) for t in chunks_ms]
    tokens = tokens or [1] * len(chunk_ns)
    return RequestRecord(
        request_id=f"r{i}", index=i, status="ok", sent_ns=int(sent_ms * MS),
        done_ns=chunk_ns[-1], chunk_ns=chunk_ns, chunk_tokens=tokens,
        first_chunk_ns=chunk_ns[0], last_chunk_ns=chunk_ns[-1], output_tokens=sum(tokens),
        client_output_tokens=sum(tokens), input_tokens=8, **kw,
    )  # fmt: skip


def stream(n, merged_pairs=0, gap_ms=10.0, start_ms=100.0):
    """n one-token chunks every gap_ms from start_ms; the first `merged_pairs` odd chunks
    (1, 3, 5, ...) arrive in the read of the chunk after them."""
    times = [start_ms + i * gap_ms for i in range(n)]
    for k in range(merged_pairs):
        times[2 * k + 1] = times[2 * k + 2]
    return times


def test_read_counts_by_hand():
    assert read_counts([5, 7, 7, 9], [1, 1, 1, 1]) == (3, 2)
    assert read_counts([5, 7, 7, 9], [1, 2, 3, 1]) == (3, 5)
    assert read_counts([], []) == (0, 0)
    assert read_counts([4, 4, 4], [1, 1, 1]) == (1, 3)


def test_recorded_reads_win_over_counting_the_stamps():
    r = rec(0, [100, 110, 110, 130])
    assert content_reads(r) == 3
    assert content_reads(r.model_copy(update={"content_reads": 4})) == 4


def test_one_merged_pair_in_64_chunks_is_measured_and_its_zero_gap_skipped():
    # chunks at 100, 110, ... 730 ms; chunk 1 arrives with chunk 2 (at 120 ms)
    r = rec(0, stream(64, merged_pairs=1))
    assert content_reads(r) == 63
    assert not coalesced(r)  # 1 hidden gap of 63 = 1.6 % <= 5 %
    assert tpot_s(r) == pytest.approx(0.010)  # (730 - 100) ms / 63
    gaps = itl_s(r)
    assert len(gaps) == 62 and min(gaps) == pytest.approx(0.010)
    assert gaps[0] == pytest.approx(0.020)  # 100 -> 120 ms: the read that carried two


def test_more_than_five_percent_hidden_gaps_is_coalesced():
    three = rec(0, stream(64, merged_pairs=3))  # 3 of 63 = 4.8 %
    four = rec(1, stream(64, merged_pairs=4))  # 4 of 63 = 6.3 %
    assert not coalesced(three)
    assert coalesced(four)
    assert tpot_s(four) is None and interactivity_tok_per_s(four) is None
    assert itl_s(four) == []
    assert ttft_s(four) == pytest.approx(0.100)  # TTFT and E2E stay measured


def test_whole_output_in_one_read_is_coalesced_not_zero():
    # the symptom: 64 tokens in one read gave TPOT 0 and interactivity "infinite"
    r = rec(0, [250.0] * 64)
    assert coalesced(r)
    assert tpot_s(r) is None and itl_s(r) == [] and interactivity_tok_per_s(r) is None
    # one chunk carrying all 64 tokens: the same (no time span to divide)
    one_chunk = rec(1, [250.0], tokens=[64])
    assert coalesced(one_chunk) and tpot_s(one_chunk) is None


def test_tokens_per_chunk_are_not_coalescing():
    # speculative decoding: 5 tokens in 3 chunks of their own reads
    r = rec(0, [10.0, 30.0, 50.0], tokens=[1, 2, 2])
    assert not coalesced(r)
    assert tpot_s(r) == pytest.approx(0.010)  # (50 - 10) ms / 4


def test_one_token_and_unstreamed_requests_are_not_checked():
    assert not coalesced(rec(0, [10.0]))
    offline = RequestRecord(request_id="o", index=0, status="ok", sent_ns=0, done_ns=5,
                            chunk_ns=[5], chunk_tokens=[64], last_chunk_ns=5,
                            output_tokens=64)  # fmt: skip
    assert not coalesced(offline) and tpot_s(offline) is None


def test_summary_leaves_coalesced_requests_out_and_counts_them():
    # a healthy 2-core demo: 55 requests with every chunk in its own read, 11 with one
    # pair merged, 2 with two; plus 4 whose whole output came in one read
    records = (
        [rec(i, stream(64)) for i in range(55)]
        + [rec(55 + i, stream(64, merged_pairs=1)) for i in range(11)]
        + [rec(66 + i, stream(64, merged_pairs=2)) for i in range(2)]
        + [rec(68 + i, [900.0] * 64) for i in range(4)]
    )
    s = summarize(records, ConcurrencyLoad(concurrency=1))
    c = s.coalescing
    assert (c.requests_checked, c.requests_coalesced) == (72, 4)
    assert c.fraction == pytest.approx(4 / 72)
    assert c.requests_with_shared_reads == 17
    assert c.max_tokens_per_read.max == 64 and c.max_tokens_per_read.p50 == 1
    assert c.request_ids == ["r68", "r69", "r70", "r71"]
    assert s.tpot_s.count == 68 and s.tpot_s.min == pytest.approx(0.010)
    assert s.interactivity_tok_per_s.count == 68
    assert s.itl_s.count == 55 * 63 + 11 * 62 + 2 * 61 and s.itl_s.min == pytest.approx(0.010)
    assert s.ttft_s.count == 72  # TTFT is measured for every request
    # 4 / 72 = 5.6 % > 5 %: a warning naming the numbers
    warning = coalescing_warning(s.coalescing)
    assert warning in trust_warnings(s)
    assert "4 of 72 requests (5.6 %, limit 5.0 %)" in warning
    assert "describe the other 68 requests only" in warning


def test_warning_only_above_five_percent():
    base = coalescing([rec(i, stream(64)) for i in range(19)] + [rec(19, [5.0] * 64)])
    assert base.fraction == pytest.approx(0.05)
    assert coalescing_warning(base) is None  # exactly 5 %: no warning
    more = coalescing([rec(i, stream(64)) for i in range(18)] + [rec(18, [5.0] * 64)])
    assert coalescing_warning(more) is not None


def test_a_coalesced_request_does_not_count_as_meeting_a_tpot_target():
    fine = rec(0, stream(8, gap_ms=10.0))  # TPOT 10 ms
    lumped = rec(1, [200.0] * 8)  # TPOT not measured
    one = rec(2, [50.0])  # one token: no TPOT, cannot violate it
    g = goodput([fine, lumped, one], (0, 1000 * MS), SLO(tpot_s=0.020))
    assert g.requests_meeting_slo == 2 and g.requests_measured == 3
    assert g.requests_tpot_not_measured == 1
    # without a TPOT target nothing is unchecked
    g2 = goodput([fine, lumped, one], (0, 1000 * MS), SLO(ttft_s=1.0))
    assert g2.requests_meeting_slo == 3 and g2.requests_tpot_not_measured == 0
