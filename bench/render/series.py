"""Plot series from request records: pure functions, SI in, SI out (seconds, tok/s, W).

Latency values come from the canonical per-request metrics in `bench.metrics.latency`;
only measured requests (not warm-up, status ok) are plotted. Times on the x axis are
seconds since the run's origin (its whole-run window start, else its first send).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from bench.energy.records import EnergyTrace
from bench.metrics.latency import NS_PER_S, coalesced, e2e_s, itl_s, tpot_s, ttft_s
from bench.records import RequestRecord
from bench.report.records import Report

METRICS: dict[str, Callable[[RequestRecord], float | None]] = {
    "ttft": ttft_s,
    "tpot": tpot_s,
    "e2e": e2e_s,
}
BIN_CHOICES_S = (0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0)


def measured(records: Sequence[RequestRecord]) -> list[RequestRecord]:
    """Requests that count: not warm-up, completed ok."""
    return [r for r in records if not r.warmup and r.status == "ok"]


def latency_values(records: Sequence[RequestRecord], metric: str) -> list[float]:
    """Per-request values (s) of `metric` (ttft, tpot, e2e), or every chunk gap for itl."""
    ok = measured(records)
    if metric == "itl":
        return [gap for r in ok for gap in itl_s(r)]
    fn = METRICS[metric]
    return [v for v in (fn(r) for r in ok) if v is not None]


def cdf(values: Sequence[float]) -> tuple[list[float], list[float]]:
    """Empirical CDF: values sorted ascending, and the fraction ≤ each, i / n for i = 1..n.

    Example: [3, 1, 2] → ([1, 2, 3], [1/3, 2/3, 1]).
    """
    xs = sorted(values)
    n = len(xs)
    return xs, [(i + 1) / n for i in range(n)]


def time_origin_ns(report: Report, records: Sequence[RequestRecord]) -> int | None:
    """t = 0 of the time axes: the whole-run window start, else the earliest send."""
    if report.summary is not None:
        return report.summary.whole_run.start_ns
    sends = [r.sent_ns for r in records]
    return min(sends) if sends else None


def over_time(
    records: Sequence[RequestRecord], metric: str, origin_ns: int
) -> tuple[list[float], list[float]]:
    """(send time s since origin, metric value s) per measured request, in send order."""
    fn = METRICS[metric]
    points: list[tuple[float, float]] = []
    for r in measured(records):
        value = fn(r)
        if value is not None:
            points.append(((r.sent_ns - origin_ns) / NS_PER_S, value))
    points.sort()
    return [t for t, _ in points], [v for _, v in points]


def coalesced_sends(records: Sequence[RequestRecord], origin_ns: int) -> list[float]:
    """Send times (s since origin) of the measured requests that were coalesced (their TPOT
    and ITL are not measured), in send order."""
    return sorted((r.sent_ns - origin_ns) / NS_PER_S for r in measured(records) if coalesced(r))


def choose_bin_s(duration_s: float, target_bins: int = 40) -> float:
    """A round bin width giving about `target_bins` bins over `duration_s` (at least 1 bin).

    Picks the smallest of BIN_CHOICES_S that is ≥ duration / target_bins.
    Example: 20 s → 0.5 s (40 bins); 600 s → 15 s.
    """
    want = duration_s / target_bins
    return next((b for b in BIN_CHOICES_S if b >= want), BIN_CHOICES_S[-1])


def token_rate(
    records: Sequence[RequestRecord], origin_ns: int, bin_s: float
) -> tuple[list[float], list[float]]:
    """Output throughput over time: tokens whose chunk arrived in each bin ÷ bin width.

    Bin k covers [origin + k·bin_s, origin + (k+1)·bin_s); returns (bin start s, tok/s)
    from bin 0 through the last bin holding a chunk. Warm-up requests are left out;
    chunks that arrived before the origin are ignored.
    Example: chunks of 1 token at 0.1 s, 0.2 s, 1.5 s with 1 s bins → ([0, 1], [2, 1]).
    """
    counts: dict[int, int] = {}
    for r in records:
        if r.warmup:
            continue
        for t_ns, tokens in zip(r.chunk_ns, r.chunk_tokens, strict=False):
            if t_ns < origin_ns:
                continue
            k = int((t_ns - origin_ns) / NS_PER_S // bin_s)
            counts[k] = counts.get(k, 0) + tokens
    if not counts:
        return [], []
    last = max(counts)
    return [k * bin_s for k in range(last + 1)], [counts.get(k, 0) / bin_s for k in range(last + 1)]


def power_timelines(
    trace: EnergyTrace, origin_ns: int
) -> list[tuple[str, list[float], list[float]]]:
    """(channel, seconds since origin, W) for every channel with power samples."""
    out = []
    for ch in trace.channels:
        if ch.sample_ns:
            ts = [(t - origin_ns) / NS_PER_S for t in ch.sample_ns]
            out.append((ch.channel, ts, list(ch.power_w)))
    return out
