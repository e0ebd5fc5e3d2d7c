"""How a stream's content arrived: network reads, from the chunks' time stamps.

Kept apart from `bench.metrics.latency` (which needs numpy) so that the load generator can
record these counts per request without importing more than this.
"""

from __future__ import annotations


def read_counts(chunk_ns: list[int], chunk_tokens: list[int]) -> tuple[int, int]:
    """(content reads, most tokens in one read) of a stream's content chunks.

    Chunks of one network read carry that read's time stamp (`perf_counter_ns`), so the
    reads are the runs of equal stamps. Example: stamps [5, 7, 7, 9] with one token each
    → (3, 2). No chunks → (0, 0).
    """
    reads = best = in_read = 0
    last = None
    for t, n in zip(chunk_ns, chunk_tokens, strict=False):
        if t != last:
            reads, last, in_read = reads + 1, t, n
        else:
            in_read += n
        if in_read > best:
            best = in_read
    return reads, best
