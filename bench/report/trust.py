"""What a reader must know before trusting a run's figures, as text for every output.

`trust_warnings` gives the prominent warnings (terminal, summary.md, HTML), `trust_notes`
the informational lines beside the figures. Both read a `RunSummary` alone.
"""

from __future__ import annotations

from bench.records import Coalescing, RunSummary, Stall, Stalls

MAX_LISTED = 6  # stall events named one by one; the rest are counted


def _pct(x: float) -> str:
    return f"{x * 100:.1f} %"


def coalescing_warning(c: Coalescing) -> str | None:
    """The warning for a run whose coalesced share exceeds `c.warn_above`, else None."""
    if c.fraction is None or c.fraction <= c.warn_above:
        return None
    kept = c.requests_checked - c.requests_coalesced
    rest = (
        f"so those figures describe the other {kept} requests only"
        if kept
        else "so none of those figures was measured"
    )
    return (
        f"coalesced streams: {c.requests_coalesced} of {c.requests_checked} requests "
        f"({_pct(c.fraction)}, limit {_pct(c.warn_above)}) had their tokens arrive in too few "
        f"network reads to time them; their TPOT, ITL and interactivity are not measured "
        f"(left out, never 0), {rest}"
    )


def coalescing_note(c: Coalescing) -> str:
    """One line: coalesced count and share, shared reads, most tokens in one read."""
    most = c.max_tokens_per_read
    share = _pct(c.fraction) if c.fraction is not None else "not measured"
    text = (
        f"coalesced (TPOT/ITL not measured): {c.requests_coalesced} of {c.requests_checked} "
        f"requests ({share}; a request is coalesced when over {_pct(c.tolerance)} of its "
        f"chunk gaps were hidden in shared reads, or all its output came in one read); "
        f"{c.requests_with_shared_reads} had at least two chunks in one read"
    )
    if most.count:
        text += f"; most tokens in one read: p50 {most.p50:g}, max {most.max:g}"
    return text


def _window_name(stalls: Stalls) -> str:
    return stalls.window.replace("_", "-") + " window"


def _events(events: list[Stall], what: str) -> str:
    shown = [f"{e.duration_s * 1e3:,.0f} ms at {e.start_s:.2f} s" for e in events[:MAX_LISTED]]
    more = f" and {len(events) - MAX_LISTED} more" if len(events) > MAX_LISTED else ""
    return f"{what} " + ", ".join(shown) + more


def stalls_warning(stalls: Stalls) -> str | None:
    """The warning for a window with stalls (times from the window's start), else None."""
    if not stalls.events:
        return None
    client = [e for e in stalls.events if e.kind == "client_loop"]
    idle = [e for e in stalls.events if e.kind == "zero_output"]
    parts = []
    if client:
        parts.append(
            _events(client, "the client's event loop was held up")
            + f" (limit {stalls.client_limit_s * 1e3:.1f} ms = 10 × the expected ITL)"
        )
    if idle:
        parts.append(_events(idle, "no output token arrived for") + f" ({stalls.bin_s:g} s bins)")
    return (
        f"stalls in the {_window_name(stalls)} (times from its start): "
        + "; ".join(parts)
        + ". Its throughput and latency figures include them."
    )


def stalls_note(stalls: Stalls) -> str:
    """One line: how stalls were looked for, and how many were found."""
    expected = (
        f"ITL p50 {stalls.expected_itl_s * 1e3:.2f} ms"
        if stalls.expected_itl_s is not None
        else "10 ms: ITL not measured"
    )
    return (
        f"stalls: {len(stalls.events)} in the {_window_name(stalls)} (client held up over "
        f"{stalls.client_limit_s * 1e3:.1f} ms = 10 × {expected}; no output in a whole bin of "
        f"{stalls.bin_s:g} s = {stalls.bin_rule})"
    )


def trust_warnings(summary: RunSummary | None) -> list[str]:
    """Prominent warnings about the run's figures (empty when there is nothing to say)."""
    if summary is None:
        return []
    found = [
        coalescing_warning(summary.coalescing) if summary.coalescing else None,
        stalls_warning(summary.stalls) if summary.stalls else None,
    ]
    return [w for w in found if w]


def trust_notes(summary: RunSummary | None) -> list[str]:
    """Informational lines shown beside the figures."""
    if summary is None:
        return []
    out = []
    if summary.coalescing is not None:
        out.append(coalescing_note(summary.coalescing))
    if summary.stalls is not None:
        out.append(stalls_note(summary.stalls))
    return out
