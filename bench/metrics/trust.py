"""Can the run's numbers be trusted? Coalesced streams (pure functions over records).

`coalescing` counts the requests whose content arrived in too few network reads to time
their tokens (`bench.metrics.latency.coalesced`); their TPOT, ITL and interactivity are
left out of the distributions and counted here instead.
"""

from __future__ import annotations

from bench.metrics.latency import (
    COALESCE_TOLERANCE,
    can_have_tpot,
    coalesced,
    content_reads,
    distribution,
)
from bench.metrics.reads import read_counts
from bench.records import Coalescing, RequestRecord

COALESCED_WARN_FRACTION = 0.05
"""A run with more than 5 % of its requests coalesced warns everywhere it is shown: its
TPOT and ITL then describe a minority-biased sample (the coalesced requests are the ones
delivered late, so leaving them out favours the fast ones)."""


def max_tokens_per_read(rec: RequestRecord) -> int:
    """The recorded most tokens in one read, else counted from the chunks' time stamps."""
    if rec.max_tokens_per_read is not None:
        return rec.max_tokens_per_read
    return read_counts(rec.chunk_ns, rec.chunk_tokens)[1]


def coalescing(ok: list[RequestRecord], tolerance: float = COALESCE_TOLERANCE) -> Coalescing:
    """How many of the successful requests `ok` that could have a TPOT were coalesced.

    fraction = coalesced / checked (None when no request could have a TPOT).
    """
    checked = [r for r in ok if can_have_tpot(r)]
    bad = [r.request_id for r in checked if coalesced(r, tolerance)]
    shared = sum(1 for r in checked if content_reads(r) < len(r.chunk_ns))
    return Coalescing(
        requests_checked=len(checked),
        requests_coalesced=len(bad),
        fraction=len(bad) / len(checked) if checked else None,
        tolerance=tolerance,
        warn_above=COALESCED_WARN_FRACTION,
        requests_with_shared_reads=shared,
        max_tokens_per_read=distribution([float(max_tokens_per_read(r)) for r in checked]),
        request_ids=bad[:50],
    )
