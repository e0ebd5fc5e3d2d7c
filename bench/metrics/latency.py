"""Per-request latency metrics, all from `perf_counter_ns` readings of one host.

Definitions (DESIGN.md, "Canonical metric definitions"):
- TTFT  = first content chunk received − request sent
- E2E   = last content chunk received − request sent
- TPOT  = (E2E − TTFT) / (output_tokens − 1); none for requests with one output token
- ITL   = gaps between successive content chunks (tokens per chunk kept beside them);
          chunks that arrived in one network read have no gap of their own
- interactivity = 1 / TPOT, tokens per second seen by one user

A coalesced request (`coalesced`: its chunks arrived in too few network reads to time
them) has no TPOT, ITL or interactivity: "not measured", never 0.
"""

from __future__ import annotations

import numpy as np

from bench.metrics.reads import read_counts
from bench.records import Distribution, RequestRecord

NS_PER_S = 1_000_000_000
PERCENTILES = (50, 90, 95, 99)
COALESCE_TOLERANCE = 0.05
"""Share of a request's chunk gaps that may be hidden in shared reads before its timing is
not measured: each chunk that shared a read arrived about one chunk gap late, so at 5 % of
the gaps the TPOT and ITL median move by about 5 % at most (a healthy 2-core run of 64-token
requests hides 0-2 of 63 gaps, i.e. up to 3.2 %)."""


def ttft_s(rec: RequestRecord) -> float | None:
    """Time to first token in seconds: first_chunk_ns − sent_ns."""
    if rec.first_chunk_ns is None:
        return None
    return (rec.first_chunk_ns - rec.sent_ns) / NS_PER_S


def e2e_s(rec: RequestRecord) -> float | None:
    """End-to-end latency in seconds: last_chunk_ns − sent_ns."""
    if rec.last_chunk_ns is None:
        return None
    return (rec.last_chunk_ns - rec.sent_ns) / NS_PER_S


def output_token_count(rec: RequestRecord) -> int | None:
    """Output tokens: the server's usage count when present, else the client's own count."""
    if rec.output_tokens is not None:
        return rec.output_tokens
    return rec.client_output_tokens


def content_reads(rec: RequestRecord) -> int:
    """Network reads that carried content: the recorded count, else counted from the
    chunks' time stamps (records written before it was recorded)."""
    if rec.content_reads is not None:
        return rec.content_reads
    return read_counts(rec.chunk_ns, rec.chunk_tokens)[0]


def can_have_tpot(rec: RequestRecord) -> bool:
    """A streamed request (with first and last chunk times) of two or more output tokens."""
    n = output_token_count(rec)
    return (
        n is not None and n >= 2 and rec.first_chunk_ns is not None
        and rec.last_chunk_ns is not None
    )  # fmt: skip


def coalesced(rec: RequestRecord, tolerance: float = COALESCE_TOLERANCE) -> bool:
    """True when a request's content chunks arrived in too few network reads to time them.

    With E content chunks (server-sent events) in R reads, a request that could have a TPOT
    (`can_have_tpot`) is coalesced when

        R < 2                          (the whole output in one read: no time span), or
        E − R > tolerance · (E − 1)    (more of its E − 1 chunk gaps hidden in shared
                                        reads than the tolerance allows)

    Each hidden gap is a chunk that waited in a buffer (the server's or the client's socket)
    and was stamped late. Several tokens in one chunk (speculative decoding, a server's
    stream interval) are tokens per chunk, not coalescing.
    Example: 64 chunks in 63 reads → 1 > 0.05 · 63 is false: measured; in 60 reads → coalesced.
    """
    if not can_have_tpot(rec):
        return False
    reads = content_reads(rec)
    events = len(rec.chunk_ns)
    return reads < 2 or events - reads > tolerance * (events - 1)


def tpot_s(rec: RequestRecord) -> float | None:
    """Time per output token after the first: (E2E − TTFT) / (output_tokens − 1).

    None (not measured) for requests with fewer than two tokens and for coalesced ones.
    """
    if not can_have_tpot(rec) or coalesced(rec):
        return None
    n = output_token_count(rec)
    assert n is not None and rec.first_chunk_ns is not None and rec.last_chunk_ns is not None
    return (rec.last_chunk_ns - rec.first_chunk_ns) / NS_PER_S / (n - 1)


def interactivity_tok_per_s(rec: RequestRecord) -> float | None:
    """Tokens per second one user sees after the first token: 1 / TPOT."""
    tpot = tpot_s(rec)
    if tpot is None or tpot <= 0:
        return None
    return 1.0 / tpot


def itl_s(rec: RequestRecord) -> list[float]:
    """Gaps between successive content chunks, in seconds, skipping the zero gaps between
    chunks of one network read (len = content reads − 1); none for a coalesced request.

    Example: chunks at 100, 120, 120, 150 ms → [0.020, 0.030].
    """
    if coalesced(rec):
        return []
    ns = rec.chunk_ns
    return [(b - a) / NS_PER_S for a, b in zip(ns, ns[1:], strict=False) if b != a]


def distribution(values: list[float] | np.ndarray) -> Distribution:
    """count, mean, min, max and p50/p90/p95/p99 (linear interpolation between ranks).

    An empty input gives count 0 and no statistics (never zeros).
    """
    arr = np.asarray(values, dtype=float)
    if arr.size == 0:
        return Distribution(count=0)
    p50, p90, p95, p99 = np.percentile(arr, PERCENTILES)
    return Distribution(
        count=int(arr.size),
        mean=float(arr.mean()),
        min=float(arr.min()),
        max=float(arr.max()),
        p50=float(p50),
        p90=float(p90),
        p95=float(p95),
        p99=float(p99),
    )


def collect(records: list[RequestRecord], metric) -> list[float]:  # type: ignore[no-untyped-def]
    """Apply a per-request metric, dropping requests for which it is undefined."""
    out = []
    for rec in records:
        value = metric(rec)
        if value is not None:
            out.append(value)
    return out
