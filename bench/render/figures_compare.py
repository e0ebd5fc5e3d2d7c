"""Figures across runs: throughput per GPU and cost against interactivity, SKU bars."""

from __future__ import annotations

from collections import defaultdict

from bench.errors import UserError
from bench.records import CostBreakdown
from bench.render.bundle import RunBundle
from bench.render.figures import FigureSpec, base_figure, esc
from bench.store.entry import gpu_count


def _group(b: RunBundle, multi_model: bool) -> str:
    sku = b.report.config.hardware
    return f"{sku} · {b.report.config.model}" if multi_model else sku


def _multi_model(runs: list[RunBundle]) -> bool:
    return len({b.report.config.model for b in runs}) > 1


def _common_currency(runs: list[RunBundle]) -> str:
    """The currency to plot money in: the runs' display currency when they all share one,
    else USD (what money is stored in)."""
    currencies = {b.report.cost.display.currency for b in runs if b.report.cost}
    return currencies.pop() if len(currencies) == 1 else "USD"


def _shown(usd: float, cost: CostBreakdown, currency: str) -> float:
    """A USD amount of `cost` in `currency` (its own display currency, or USD)."""
    return usd * cost.display.per_usd if currency == cost.display.currency else usd


def throughput_vs_interactivity(runs: list[RunBundle]) -> FigureSpec | None:
    """Output tok/s per GPU (steady state) against interactivity (1 / TPOT p50), per SKU,
    with each SKU's Pareto front (`bench.sweep.curve.pareto_front`) drawn through it."""
    import plotly.graph_objects as go

    from bench.sweep.curve import CurvePoint, pareto_front, point_from_report

    multi = _multi_model(runs)
    groups: dict[str, list[tuple[CurvePoint, RunBundle]]] = defaultdict(list)
    for b in runs:
        try:
            point = point_from_report(b.report, gpus=gpu_count(b.report) or 1)
        except UserError:
            continue  # no summary or no load level: not a point of any curve
        if point.interactivity_tok_per_s is not None:
            groups[_group(b, multi)].append((point, b))
    if sum(len(g) for g in groups.values()) < 2:
        return None
    title = "Output throughput per GPU vs interactivity, with Pareto front · measured"
    fig = base_figure(
        title,
        "interactivity (tok/s per user, 1 / TPOT p50)",
        "output tokens/s per GPU (steady state)",
    )
    for name, members in sorted(groups.items()):
        pts = [p for p, _ in members]
        labels = [esc(b.label) for _, b in members]
        fig.add_trace(
            go.Scatter(
                x=[p.interactivity_tok_per_s for p in pts],
                y=[p.output_tok_per_s_per_gpu for p in pts],
                mode="markers",
                name=esc(name),
                text=labels,
                marker={"size": 9},
                hovertemplate="%{text}<br>%{x:.1f} tok/s/user<br>%{y:.1f} tok/s/GPU<extra></extra>",
            )
        )
        front = pareto_front(pts, throughput="output")
        if len(front) >= 2:
            fig.add_trace(
                go.Scatter(
                    x=[p.interactivity_tok_per_s for p in front],
                    y=[p.output_tok_per_s_per_gpu for p in front],
                    mode="lines",
                    name=esc(f"{name} Pareto front"),
                    line={"dash": "dot"},
                )
            )
    caption = (
        "Each point is one run (load level). Up and right is better; the dotted line "
        "joins the points no other point of the same SKU beats on both axes."
    )
    return FigureSpec(key="pareto", title=title, basis="measured", caption=caption, figure=fig)


def cost_vs_interactivity(runs: list[RunBundle]) -> FigureSpec | None:
    """Cost per million output tokens against interactivity, per SKU; open markers where
    the cost used an estimated input. Mixed currencies are converted to USD."""
    import plotly.graph_objects as go

    costed = [
        b
        for b in runs
        if b.report.cost
        and b.report.cost.cost_usd_per_m_output_tokens is not None
        and b.report.summary
        and b.report.summary.tpot_s.p50
    ]
    if not costed:
        return None
    currency = _common_currency(costed)
    estimated = any(b.report.cost.estimated for b in costed if b.report.cost)
    basis = "derived, partly estimated" if estimated else "derived from measured"
    title = f"Cost per million output tokens ({currency}) vs interactivity · {basis}"
    fig = base_figure(
        title,
        "interactivity (tok/s per user, 1 / TPOT p50)",
        f"{currency} per million output tokens",
    )
    multi = _multi_model(costed)
    groups: dict[str, list[RunBundle]] = defaultdict(list)
    for b in costed:
        groups[_group(b, multi)].append(b)
    for name, members in sorted(groups.items()):
        xs, ys, symbols, labels = [], [], [], []
        for b in members:
            c, s = b.report.cost, b.report.summary
            assert c is not None and s is not None and s.tpot_s.p50
            value = _shown(c.cost_usd_per_m_output_tokens or 0.0, c, currency)
            xs.append(1.0 / s.tpot_s.p50)
            ys.append(value)
            symbols.append("circle-open" if c.estimated else "circle")
            labels.append(esc(f"{b.label} ({'estimated' if c.estimated else 'measured inputs'})"))
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="markers+lines",
                name=esc(name),
                text=labels,
                marker={"size": 9, "symbol": symbols},
                hovertemplate="%{text}<br>%{x:.1f} tok/s/user<br>%{y:.3f}"
                f" {currency}/Mtok<extra></extra>",
            )
        )
    caption = (
        "Configured GPU-hour price ÷ measured output throughput per GPU. Filled: every "
        "input measured or configured; open: an input estimated (e.g. power from TDP)."
    )
    return FigureSpec(key="cost", title=title, basis=basis, caption=caption, figure=fig)


def sku_bars(runs: list[RunBundle]) -> FigureSpec | None:
    """Per SKU: best output tok/s per GPU, lowest cost per M output tokens, best output
    tokens per kWh — each over the runs given (best measured point, not a matched SLO)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    skus = sorted({b.report.config.hardware for b in runs})
    if len(skus) < 2:
        return None
    best_tput: dict[str, float] = {}
    best_cost: dict[str, tuple[float, bool]] = {}
    best_kwh: dict[str, float] = {}
    currency = _common_currency(runs)
    for b in runs:
        sku, s, c = b.report.config.hardware, b.report.summary, b.report.cost
        if s is not None:
            w = s.steady_state or s.whole_run
            per_gpu = w.output_tok_per_s / (gpu_count(b.report) or 1)
            best_tput[sku] = max(best_tput.get(sku, 0.0), per_gpu)
        if c is not None and c.cost_usd_per_m_output_tokens is not None:
            v = _shown(c.cost_usd_per_m_output_tokens, c, currency)
            if sku not in best_cost or v < best_cost[sku][0]:
                best_cost[sku] = (v, c.estimated)
        e = b.energy
        t = e.total(e.primary) if e and e.primary else None
        if t is not None and t.valid and t.output_tokens_per_kwh is not None:
            best_kwh[sku] = max(best_kwh.get(sku, 0.0), t.output_tokens_per_kwh)
    panels = [("best output tok/s per GPU · measured", best_tput)]
    if best_cost:
        est = any(e for _, e in best_cost.values())
        panels.append(
            (
                f"lowest {currency}/M output tokens · derived"
                + (", partly estimated" if est else ""),
                {k: v for k, (v, _) in best_cost.items()},
            )
        )
    if best_kwh:
        panels.append(("best output tokens per kWh · measured", best_kwh))
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=[p[0] for p in panels])
    for col, (_, values) in enumerate(panels, start=1):
        names = [k for k in skus if k in values]
        fig.add_trace(
            go.Bar(
                x=[esc(k) for k in names],
                y=[values[k] for k in names],
                showlegend=False,
                text=[f"{values[k]:.3g}" for k in names],
                textposition="outside",
            ),
            row=1,
            col=col,
        )
    title = "SKU comparison (best point per SKU among these runs)"
    fig.update_layout(
        title={"text": title, "font": {"size": 15}},
        template="plotly_white",
        height=420,
        margin={"l": 60, "r": 20, "t": 80, "b": 60},
    )
    caption = (
        "Best value each SKU reached over the runs shown, whatever its latency; "
        "compare at a matched SLO with `bench compare`. SKUs without energy or cost "
        "data have no bar in that panel."
    )
    basis = "measured / derived" + (
        ", partly estimated" if best_cost and any(e for _, e in best_cost.values()) else ""
    )
    return FigureSpec(
        key="sku-bars", title=title + " · " + basis, basis=basis, caption=caption, figure=fig
    )
