"""Plotly figures of stored runs; every title carries units and the basis of its numbers.

Strings that come from runs (SKU, model, run ids, channel names) are HTML-escaped before
they reach plotly, which renders a subset of HTML in labels; plotly shows the entities as
the literal characters. Each builder returns None when there is nothing to plot.
"""

from __future__ import annotations

import html
from typing import Any

from bench.records import Record
from bench.render.bundle import RunBundle
from bench.render.series import (
    cdf,
    choose_bin_s,
    coalesced_sends,
    latency_values,
    over_time,
    power_timelines,
    time_origin_ns,
    token_rate,
)

NAMES = {"ttft": "TTFT", "tpot": "TPOT", "e2e": "E2E", "itl": "ITL"}
LONG = {
    "ttft": "time to first token",
    "tpot": "time per output token",
    "e2e": "end-to-end latency",
    "itl": "inter-chunk latency",
}


class FigureSpec(Record):
    """A figure with its anchor key, title (units + basis) and a caption."""

    key: str
    title: str
    basis: str
    caption: str
    figure: Any  # plotly.graph_objects.Figure


def esc(text: object) -> str:
    """HTML-escape a run-supplied string for a plotly label."""
    return html.escape(str(text), quote=True)


def color(i: int) -> str:
    """The i-th colour of plotly's default palette (so a run keeps its colour)."""
    from plotly.colors import qualitative

    return str(qualitative.Plotly[i % len(qualitative.Plotly)])


def base_figure(title: str, x_title: str, y_title: str, **layout: Any) -> Any:
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.update_layout(
        title={"text": title, "font": {"size": 15}},
        xaxis_title=x_title,
        yaxis_title=y_title,
        template="plotly_white",
        height=400,
        margin={"l": 70, "r": 20, "t": 60, "b": 60},
        legend={"font": {"size": 11}},
        **layout,
    )
    return fig


def latency_cdf(runs: list[RunBundle], metric: str) -> FigureSpec | None:
    """Empirical CDF of a latency metric (ms), one line per run."""
    import plotly.graph_objects as go

    name = NAMES[metric]
    what = "chunk gaps" if metric == "itl" else "requests"
    title = f"{name} CDF ({LONG[metric]}, ms) · measured"
    fig = base_figure(title, f"{name} (ms)", f"fraction of {what}", yaxis_range=[0, 1.02])
    for b in runs:
        xs, ps = cdf(latency_values(b.records, metric))
        if xs:
            fig.add_trace(
                go.Scatter(
                    x=[x * 1e3 for x in xs],
                    y=ps,
                    mode="lines",
                    name=esc(b.label),
                    line={"shape": "hv"},
                )
            )
    if not fig.data:
        return None
    caption = f"Fraction of measured {what} (warm-up and failed excluded) with {name} ≤ x."
    if metric in ("tpot", "itl"):
        caption += _coalesced_caption(runs)
    return FigureSpec(
        key=f"cdf-{metric}", title=title, basis="measured", caption=caption, figure=fig
    )


def _coalesced_caption(runs: list[RunBundle]) -> str:
    """ " N coalesced requests ... left out" for the runs that had any, else ""."""
    counts = [
        (b.label, c.requests_coalesced)
        for b in runs
        if b.report.summary is not None
        and (c := b.report.summary.coalescing) is not None
        and c.requests_coalesced
    ]
    if not counts:
        return ""
    which = ", ".join(f"{n} in {label}" if len(runs) > 1 else str(n) for label, n in counts)
    return (
        f" Coalesced requests ({which}; their tokens arrived in too few network reads to time "
        "them) are left out: not measured, never plotted as 0."
    )


def _mark_coalesced(fig: Any, b: RunBundle, origin: int, i: int) -> None:
    """Mark the send times of a run's coalesced requests along the top of the plot (on an
    axis of their own: they have no value to plot)."""
    import plotly.graph_objects as go

    ts = coalesced_sends(b.records, origin)
    if not ts:
        return
    fig.add_trace(
        go.Scatter(
            x=ts,
            y=[0.97] * len(ts),
            yaxis="y2",
            mode="markers",
            name=esc(f"{b.label}: coalesced, not measured ({len(ts)})"),
            marker={"symbol": "x-thin-open", "size": 9, "color": color(i)},
            hovertemplate="sent %{x:.3f} s: coalesced, TPOT not measured<extra></extra>",
        )
    )
    fig.update_layout(yaxis2={"overlaying": "y", "range": [0, 1], "visible": False})


def latency_over_time(runs: list[RunBundle], metric: str) -> FigureSpec | None:
    """Per-request TTFT or TPOT (ms) against the time it was sent (s since run start); for
    TPOT, coalesced requests (not measured) are marked along the top instead."""
    import plotly.graph_objects as go

    name = NAMES[metric]
    title = f"{name} over time (ms) · measured"
    fig = base_figure(title, "request sent (s since start)", f"{name} (ms)")
    for i, b in enumerate(runs):
        origin = time_origin_ns(b.report, b.records)
        if origin is None:
            continue
        ts, vs = over_time(b.records, metric, origin)
        if ts:
            fig.add_trace(
                go.Scatter(
                    x=ts,
                    y=[v * 1e3 for v in vs],
                    mode="markers",
                    name=esc(b.label),
                    marker={"size": 5, "color": color(i)},
                )
            )
        if metric == "tpot":
            _mark_coalesced(fig, b, origin, i)
    if not fig.data:
        return None
    caption = f"Each point is one measured request: its {name} at its send time."
    if metric == "tpot" and _coalesced_caption(runs):
        caption += _coalesced_caption(runs) + " Crosses along the top: their send times."
    return FigureSpec(
        key=f"time-{metric}",
        title=title,
        basis="measured",
        caption=caption,
        figure=fig,
    )


def _shade_window(fig: Any, b: RunBundle, origin: int) -> None:
    """Shade one run's steady-state window (used when a figure shows a single run)."""
    s = b.report.summary
    if s is None or s.steady_state is None:
        return
    w = s.steady_state
    fig.add_vrect(
        x0=(w.start_ns - origin) / 1e9,
        x1=(w.end_ns - origin) / 1e9,
        fillcolor="#2ca02c",
        opacity=0.1,
        line_width=0,
        annotation_text="steady-state window",
        annotation_position="top left",
    )


def _shade_stalls(fig: Any, b: RunBundle, origin: int) -> int:
    """Shade the stalls found in a run's throughput window; returns how many."""
    s = b.report.summary
    if s is None or s.stalls is None or not s.stalls.events:
        return 0
    window = s.steady_state if s.stalls.window == "steady_state" else s.whole_run
    if window is None:
        return 0
    t0 = (window.start_ns - origin) / 1e9
    for e in s.stalls.events:
        fig.add_vrect(
            x0=t0 + e.start_s,
            x1=t0 + e.start_s + e.duration_s,
            fillcolor="#cf222e",
            opacity=0.25,
            line_width=0,
        )
    return len(s.stalls.events)


def throughput_over_time(runs: list[RunBundle]) -> FigureSpec | None:
    """Output tok/s in fixed bins over the run, and the steady-state window: shaded for a
    single run, and for every run a thick segment at the reported steady-state output
    throughput spanning its window."""
    import plotly.graph_objects as go

    origins = {b.report.run_id: time_origin_ns(b.report, b.records) for b in runs}
    spans = [
        (max(t for r in b.records for t in r.chunk_ns) - o) / 1e9
        for b in runs
        if (o := origins[b.report.run_id]) is not None and any(r.chunk_ns for r in b.records)
    ]
    if not spans:
        return None
    bin_s = choose_bin_s(max(spans))
    stalled = 0
    title = f"Output throughput over time (tok/s, {bin_s:g} s bins) · measured"
    fig = base_figure(title, "time (s since start)", "output tokens/s")
    for i, b in enumerate(runs):
        origin = origins[b.report.run_id]
        if origin is None:
            continue
        ts, rates = token_rate(b.records, origin, bin_s)
        if not ts:
            continue
        group = f"run{i}"
        fig.add_trace(
            go.Scatter(
                x=ts,
                y=rates,
                mode="lines",
                name=esc(b.label),
                legendgroup=group,
                line={"shape": "hv", "color": color(i)},
            )
        )
        s = b.report.summary
        if s is not None and s.steady_state is not None:
            w = s.steady_state
            fig.add_trace(
                go.Scatter(
                    x=[(w.start_ns - origin) / 1e9, (w.end_ns - origin) / 1e9],
                    y=[w.output_tok_per_s] * 2,
                    mode="lines+markers",
                    legendgroup=group,
                    name=esc(f"{b.label} steady state: {w.output_tok_per_s:.1f} tok/s"),
                    line={"width": 5, "color": color(i)},
                    opacity=0.45,
                )
            )
        if len(runs) == 1:
            _shade_window(fig, b, origin)
            stalled = _shade_stalls(fig, b, origin)
    caption = (
        "Tokens counted at their chunk's arrival time. Thick segment: the steady-state window "
        "(load at target, before draining) at the output throughput reported over it."
    )
    if len(runs) == 1 and stalled:
        caption += (
            f" Red bands: {stalled} stall(s) found in the window (client held up, or no "
            "output in a whole bin of the stall check)."
        )
    return FigureSpec(
        key="throughput-time", title=title, basis="measured", caption=caption, figure=fig
    )


def power_timeline(runs: list[RunBundle]) -> FigureSpec | None:
    """Power samples (W) of every measured channel over the run."""
    import plotly.graph_objects as go

    title = "Power over time (W) · measured"
    fig = base_figure(title, "time (s since start)", "power (W)")
    replayed = False
    for b in runs:
        origin = time_origin_ns(b.report, b.records)
        if b.trace is None or origin is None:
            continue
        replayed |= any(ch.replayed for ch in b.trace.channels)
        for channel, ts, watts in power_timelines(b.trace, origin):
            name = channel if len(runs) == 1 else f"{b.label} {channel}"
            fig.add_trace(go.Scatter(x=ts, y=watts, mode="lines", name=esc(name)))
        if len(runs) == 1:
            _shade_window(fig, b, origin)
    if not fig.data:
        return None
    caption = "Meter samples per channel (GPU board, CPU package, node); t = 0 at run start."
    if replayed:
        caption += " Some channels are replayed recordings, not live readings."
    return FigureSpec(key="power-time", title=title, basis="measured", caption=caption, figure=fig)
