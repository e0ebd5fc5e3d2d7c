"""What a reader must know before trusting a run's figures, as text for every output.

`trust_warnings` gives the prominent warnings (terminal, summary.md, HTML), `trust_notes`
the informational lines beside the figures. Both read a `RunSummary` alone.
"""

from __future__ import annotations

from bench.records import Coalescing, RunSummary


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


def trust_warnings(summary: RunSummary | None) -> list[str]:
    """Prominent warnings about the run's figures (empty when there is nothing to say)."""
    if summary is None:
        return []
    out = []
    if summary.coalescing is not None:
        warning = coalescing_warning(summary.coalescing)
        if warning:
            out.append(warning)
    return out


def trust_notes(summary: RunSummary | None) -> list[str]:
    """Informational lines shown beside the figures."""
    if summary is None or summary.coalescing is None:
        return []
    return [coalescing_note(summary.coalescing)]
