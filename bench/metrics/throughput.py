"""Throughput over the steady-state window and over the whole run; goodput; errors.

Tokens are counted by arrival time: a request's output tokens (server usage count, spread
over its content chunks in proportion to the client's tokens per chunk) count in a window
when their chunk arrived inside it; its input tokens count at its first chunk (prefill
done); a request counts as completed when its last chunk arrived inside the window.
"""

from __future__ import annotations

from collections import Counter
from typing import Literal

from bench.metrics.latency import (
    NS_PER_S,
    coalesced,
    e2e_s,
    output_token_count,
    tpot_s,
    ttft_s,
)
from bench.records import SLO, Goodput, RequestRecord, Throughput

Window = tuple[int, int]


def steady_state_window_closed(records: list[RequestRecord], concurrency: int) -> Window | None:
    """Closed loop: from the moment `concurrency` requests are first in flight (the send of
    the concurrency-th measured request) to the first completion after the last send (the
    moment in-flight drops below target for good). None when the run never reached target.
    """
    sends = sorted(r.sent_ns for r in records)
    if len(sends) < concurrency:
        return None
    start = sends[concurrency - 1]
    last_send = sends[-1]
    after = [r.done_ns for r in records if r.done_ns > last_send]
    end = min(after) if after else last_send
    return (start, end) if end > start else None


def steady_state_window_open(records: list[RequestRecord]) -> Window | None:
    """Open loop: from the first measured arrival to the last one (then the load drains)."""
    sends = sorted(r.scheduled_ns if r.scheduled_ns is not None else r.sent_ns for r in records)
    if len(sends) < 2:
        return None
    return (sends[0], sends[-1]) if sends[-1] > sends[0] else None


def whole_run_window(records: list[RequestRecord]) -> Window:
    """First send to last completion."""
    return (min(r.sent_ns for r in records), max(r.done_ns for r in records))


def output_tokens_in_window(rec: RequestRecord, window: Window) -> float:
    """Server-counted output tokens of `rec` whose chunks arrived within [start, end]."""
    total = output_token_count(rec)
    if not total or not rec.chunk_ns:
        return 0.0
    start, end = window
    weights = rec.chunk_tokens if len(rec.chunk_tokens) == len(rec.chunk_ns) else None
    weight_sum = sum(weights) if weights else len(rec.chunk_ns)
    if weight_sum == 0:
        return 0.0
    inside = 0.0
    for i, t in enumerate(rec.chunk_ns):
        if start <= t <= end:
            inside += weights[i] if weights else 1
    return total * inside / weight_sum


def prefill_done_ns(rec: RequestRecord) -> int:
    """When a request's input tokens count: its first chunk (prefill done), else completion
    (offline runs, which have no chunks until the end)."""
    return rec.first_chunk_ns if rec.first_chunk_ns is not None else rec.done_ns


def throughput(
    records: list[RequestRecord],
    window: Window,
    label: Literal["steady_state", "whole_run"],
) -> Throughput:
    """Requests, input and output tokens per second of `window` (successful requests only)."""
    start, end = window
    duration_s = (end - start) / NS_PER_S
    ok = [r for r in records if r.status == "ok"]
    completed = sum(1 for r in ok if start <= r.done_ns <= end)
    input_tokens = float(sum(r.input_tokens or 0 for r in ok if start <= prefill_done_ns(r) <= end))
    output_tokens = sum(output_tokens_in_window(r, window) for r in ok)

    def rate(x: float) -> float:
        return x / duration_s if duration_s > 0 else 0.0

    return Throughput(
        label=label,
        start_ns=start,
        end_ns=end,
        duration_s=duration_s,
        requests_completed=completed,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        request_per_s=rate(completed),
        input_tok_per_s=rate(input_tokens),
        output_tok_per_s=rate(output_tokens),
        total_tok_per_s=rate(input_tokens + output_tokens),
    )


def meets_slo(rec: RequestRecord, slo: SLO) -> bool:
    """A successful request meets the SLO when each given target holds (missing = not met).

    A one-token request has no TPOT and cannot violate a TPOT target; a coalesced request's
    TPOT was not measured, so it is not known to meet one (it does not count as good).
    """
    if rec.status != "ok":
        return False
    checks = ((slo.ttft_s, ttft_s(rec)), (slo.tpot_s, tpot_s(rec)), (slo.e2e_s, e2e_s(rec)))
    for target, value in checks:
        if target is None:
            continue
        if value is None and target is slo.tpot_s and not coalesced(rec):
            continue
        if value is None or value > target:
            return False
    return True


def goodput(records: list[RequestRecord], window: Window, slo: SLO) -> Goodput:
    """Requests (and their output tokens) that meet every SLO, per second of `window`.

    Counted like `throughput`: a request counts when it completed inside the window.
    """
    start, end = window
    duration_s = (end - start) / NS_PER_S
    in_window = [r for r in records if start <= r.done_ns <= end]
    good = [r for r in in_window if meets_slo(r, slo)]
    good_tokens = sum(output_tokens_in_window(r, window) for r in good)
    unchecked = 0
    if slo.tpot_s is not None:
        unchecked = sum(1 for r in in_window if r.status == "ok" and coalesced(r))
    return Goodput(
        slo=slo,
        requests_meeting_slo=len(good),
        requests_measured=len(in_window),
        requests_tpot_not_measured=unchecked,
        fraction=len(good) / len(in_window) if in_window else 0.0,
        request_per_s=len(good) / duration_s if duration_s > 0 else 0.0,
        output_tok_per_s=good_tokens / duration_s if duration_s > 0 else 0.0,
    )


def errors_by_class(records: list[RequestRecord]) -> dict[str, int]:
    """Failed, timed-out and cancelled requests counted by error class."""
    return dict(Counter(r.error_class or r.status for r in records if r.status != "ok"))


def token_count_mismatches(records: list[RequestRecord], tolerance: float = 0.01) -> list[str]:
    """Ids of successful requests whose client token count differs from the server's by > 1 %."""
    out = []
    for r in records:
        if r.status != "ok" or r.output_tokens is None or r.client_output_tokens is None:
            continue
        if abs(r.client_output_tokens - r.output_tokens) > tolerance * max(r.output_tokens, 1):
            out.append(r.request_id)
    return out
