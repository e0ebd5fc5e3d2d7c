"""Stalls inside the throughput window: the client held up, or no output arriving.

Two signs that a window's figures describe scheduling luck rather than the engine:

- a client stall: the load generator's 10 ms event-loop probe woke late by more than
  CLIENT_STALL_ITLS × the measured ITL p50 (every chunk due meanwhile was stamped late);
- zero-output bins: consecutive bins of the window in which no output token arrived at
  all, while the load was at its target.

Bin width: max(MIN_BIN_S, CLIENT_STALL_ITLS × ITL p50, TTFT p50). 100 ms at least, so a
bin of a healthy engine holds many tokens; 10 ITLs, so one late chunk cannot empty a bin;
one TTFT, so a moment when every request in flight is in prefill (one-at-a-time loads,
long prompts) is not called a stall. Only whole bins inside the window count.
"""

from __future__ import annotations

from collections.abc import Sequence

from bench.metrics.latency import NS_PER_S
from bench.records import Stall, Stalls

CLIENT_STALL_ITLS = 10
MIN_BIN_S = 0.1
FALLBACK_ITL_S = 0.01  # when no ITL was measured: the 10 ms probe period itself
Window = tuple[int, int]


def bin_width_s(itl_p50_s: float | None, ttft_p50_s: float | None) -> float:
    """max(MIN_BIN_S, CLIENT_STALL_ITLS × ITL p50, TTFT p50), missing values left out.

    Example: ITL p50 2.2 ms, TTFT p50 63 ms → max(0.1, 0.022, 0.063) = 0.1 s.
    """
    parts = [MIN_BIN_S, CLIENT_STALL_ITLS * (itl_p50_s or 0.0), ttft_p50_s or 0.0]
    return max(parts)


def zero_output_stalls(chunk_ns: Sequence[int], window: Window, bin_s: float) -> list[Stall]:
    """Runs of whole bins of `bin_s` from the window's start in which no content chunk
    (of any measured request) arrived; times relative to the window start.

    Example: window 0-1 s, 0.1 s bins, chunks at 0.05 s and 0.45 s → bins 1-3 and 5-9
    are empty: stalls (0.1 s, 0.3 s long) and (0.5 s, 0.5 s long).
    """
    start, end = window
    width = int(bin_s * NS_PER_S)
    bins = (end - start) // width if width > 0 else 0
    filled = [False] * bins
    for t in chunk_ns:
        k = (t - start) // width if width > 0 else -1
        if 0 <= k < bins:
            filled[k] = True
    out: list[Stall] = []
    k = 0
    while k < bins:
        if filled[k]:
            k += 1
            continue
        first = k
        while k < bins and not filled[k]:
            k += 1
        out.append(Stall(kind="zero_output", start_s=first * bin_s, duration_s=(k - first) * bin_s))
    return out


def client_stalls(
    loop_stalls: Sequence[tuple[int, float]], window: Window, limit_s: float
) -> list[Stall]:
    """Event-loop stalls longer than `limit_s` that overlap the window; times relative to
    the window start (clipped to it)."""
    start, end = window
    out = []
    for began_ns, lag_s in loop_stalls:
        ended_ns = began_ns + int(lag_s * NS_PER_S)
        if lag_s <= limit_s or ended_ns < start or began_ns > end:
            continue
        out.append(
            Stall(
                kind="client_loop",
                start_s=max(0, began_ns - start) / NS_PER_S,
                duration_s=lag_s,
            )
        )
    return out


def find_stalls(
    chunk_ns: Sequence[int],
    window: Window,
    label: str,
    *,
    itl_p50_s: float | None,
    ttft_p50_s: float | None,
    loop_stalls: Sequence[tuple[int, float]] | None,
) -> Stalls:
    """Client and zero-output stalls in `window` (label: steady_state or whole_run).

    `chunk_ns`: arrival times of every measured content chunk; `loop_stalls`: the client
    probe's large lags as (start ns, duration s), None when the client did not record them.
    """
    expected = itl_p50_s if itl_p50_s else None
    limit = CLIENT_STALL_ITLS * (expected or FALLBACK_ITL_S)
    bin_s = bin_width_s(expected, ttft_p50_s)
    rule = f"max({MIN_BIN_S:g} s, {CLIENT_STALL_ITLS} × ITL p50, TTFT p50)"
    events = zero_output_stalls(chunk_ns, window, bin_s)
    events += client_stalls(loop_stalls or (), window, limit)
    events.sort(key=lambda e: (e.start_s, e.kind))
    return Stalls(
        window="steady_state" if label == "steady_state" else "whole_run",
        expected_itl_s=expected,
        client_limit_s=limit,
        bin_s=bin_s,
        bin_rule=rule,
        events=events,
    )
