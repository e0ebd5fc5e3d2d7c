"""Per-request latency metrics, all from `perf_counter_ns` readings of one host.

Definitions (DESIGN.md, "Canonical metric definitions"):
- TTFT  = first content chunk received − request sent
- E2E   = last content chunk received − request sent
- TPOT  = (E2E − TTFT) / (output_tokens − 1); none for requests with one output token
- ITL   = gaps between successive content chunks (tokens per chunk kept beside them)
- interactivity = 1 / TPOT, tokens per second seen by one user
"""

from __future__ import annotations

import numpy as np

from bench.records import Distribution, RequestRecord

NS_PER_S = 1_000_000_000
PERCENTILES = (50, 90, 95, 99)


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


def tpot_s(rec: RequestRecord) -> float | None:
    """Time per output token after the first: (E2E − TTFT) / (output_tokens − 1)."""
    n = output_token_count(rec)
    if n is None or n < 2 or rec.first_chunk_ns is None or rec.last_chunk_ns is None:
        return None
    return (rec.last_chunk_ns - rec.first_chunk_ns) / NS_PER_S / (n - 1)


def interactivity_tok_per_s(rec: RequestRecord) -> float | None:
    """Tokens per second one user sees after the first token: 1 / TPOT."""
    tpot = tpot_s(rec)
    if tpot is None or tpot <= 0:
        return None
    return 1.0 / tpot


def itl_s(rec: RequestRecord) -> list[float]:
    """Gaps between successive content chunks, in seconds (len = chunks − 1)."""
    ns = rec.chunk_ns
    return [(b - a) / NS_PER_S for a, b in zip(ns, ns[1:], strict=False)]


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
