"""What a reader must know before trusting a run's figures, as text for every output.

`trust_warnings` gives the prominent warnings (terminal, summary.md, HTML), `trust_notes`
the informational lines beside the figures. Both read a `RunSummary` alone.
"""

from __future__ import annotations

from bench.records import Coalescing, RunSummary, ServerCounters, Stall, Stalls, Validity

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


TOO_SHORT = "too short to trust"


def validity_label(summary: RunSummary | None) -> str | None:
    """ "too short to trust" for a run judged too short, else None."""
    v = summary.validity if summary is not None else None
    return TOO_SHORT if v is not None and v.verdict == "too_short" else None


def status_text(status: str, summary: RunSummary | None) -> str:
    """A run's status as shown: "complete", or "complete, too short to trust"."""
    label = validity_label(summary)
    return f"{status}, {label}" if label else status


def validity_warning(v: Validity) -> str | None:
    """The warning for a run too short to trust (with the limits), else None."""
    if v.verdict == "ok":
        return None
    return (
        f"{TOO_SHORT}: " + "; ".join(v.reasons) + ". Its figures may not repeat: run longer "
        "(--duration-s), or change the limits in the run's validity rules if you mean to"
    )


def validity_note(summary: RunSummary) -> str | None:
    """ "validity: ok|too short (limits …)" for a summary that was judged, else None."""
    v = summary.validity
    if v is None:
        return None
    return (
        f"validity: {v.verdict.replace('_', ' ')} (limits: steady-state window ≥ "
        f"{v.min_window_s:g} s and ≥ {v.min_requests} completed requests, {v.min_requests_rule})"
    )


def server_counter_line(summary: RunSummary) -> str | None:
    """The client's steady-state output tok/s against the server's own counter over the same
    window, with the counter's uncertainty from scrape timing; None when not measured."""
    server: ServerCounters | None = summary.server
    if server is None or server.window_output_tok_per_s is None:
        return None
    ours = (summary.steady_state or summary.whole_run).output_tok_per_s
    theirs = server.window_output_tok_per_s
    text = (
        f"server's own counter (vllm:generation_tokens_total) over the same window: "
        f"{theirs:,.1f} output tok/s; the client's figure differs by "
    )
    if not theirs:
        return text + "not measured (the counter did not move)"
    diff = (ours - theirs) / theirs
    text += f"{diff * 100:+.1f} %"
    u = server.uncertainty_fraction
    if u is None:
        return text + " (uncertainty from scrape timing not known)"
    where = "within" if abs(diff) <= u else "outside"
    period = f" every {server.period_s:g} s" if server.period_s else ""
    return text + (
        f" ± {u * 100:.1f} % from scrape timing ({server.scrapes} scrapes{period}; {where} it)"
    )


def trust_warnings(summary: RunSummary | None) -> list[str]:
    """Prominent warnings about the run's figures (empty when there is nothing to say)."""
    if summary is None:
        return []
    found = [
        validity_warning(summary.validity) if summary.validity else None,
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
