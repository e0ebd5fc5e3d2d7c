"""Quote and comparison records as sheets (titled tables with notes) for the renderers.

Money is stored in USD and converted here to the record's display currency (its rate is
noted); numbers stay numbers; units are in the column names; a sheet's `name` is its
workbook tab and CSV file name.
"""

from __future__ import annotations

from bench.cost.compare import Comparison
from bench.cost.quote import Quote
from bench.cost.render import Cell, Sheet, fx_note


def _head(q: Quote) -> str:
    return (
        f"{q.model} on {q.hardware_name} ({q.hardware_sku}), workload {q.workload} — "
        f"{q.display.currency}, {q.cost_basis} basis, utilization {q.utilization:.0%}, "
        f"margin {q.margin:.0%}"
    )


def price_sheet(q: Quote) -> Sheet:
    """The price sheet: one row per tier, prices with their low–high interval."""
    d = q.display
    cur, m = d.currency, d.amount
    rows: list[list[Cell]] = []
    for t in q.tiers:
        p = t.point
        usd = [
            t.price_usd_per_m_input, t.price_usd_per_m_input_low, t.price_usd_per_m_input_high,
            t.price_usd_per_m_output, t.price_usd_per_m_output_low,
            t.price_usd_per_m_output_high, t.price_usd_per_m_cached_input,
            t.price_usd_per_m_total, t.price_usd_per_m_total_low, t.price_usd_per_m_total_high,
            t.price_usd_per_image, t.price_usd_per_video_s, t.cost_usd_per_m_total,
        ]  # fmt: skip
        rows.append(
            [p.tier, p.constraint, p.status, p.total_tok_per_s_per_gpu,
             p.output_tok_per_s_per_gpu, p.interactivity_tok_per_s, *map(m, usd), p.note]
        )  # fmt: skip
    notes = [
        f"GPU-hour cost {m(q.gpu_hour_cost_usd):.4g} {cur}, effective (÷ utilization) "
        f"{m(q.effective_gpu_hour_cost_usd):.4g} {cur}"
        + (" — includes estimated power" if q.estimated else ""),
        "input / output / cached prices are additive: in·p_in + out·p_out + cached·p_cached "
        "= the cost at the tier's operating point (× (1 + margin))",
        "low / high: the spread of repeated probes (input/output split) and of repeated load "
        "points (level)",
        *q.notes,
        *fx_note(d),
    ]
    if q.fit is not None:
        notes.append(
            f"additive fit over {len(q.fit.residuals)} probe runs: rms error "
            f"{q.fit.rms_rel_error:.1%}, max {q.fit.max_abs_rel_error:.1%}"
        )
    money = [f"{cur}/M input", f"{cur}/M input low", f"{cur}/M input high", f"{cur}/M output",
             f"{cur}/M output low", f"{cur}/M output high", f"{cur}/M cached", f"{cur}/M total",
             f"{cur}/M total low", f"{cur}/M total high", f"{cur}/image", f"{cur}/video-s",
             f"cost {cur}/M total"]  # fmt: skip
    return Sheet(
        name="Prices",
        title=f"Price sheet: {_head(q)}",
        columns=[
            "tier",
            "SLO",
            "status",
            "tok/s/GPU",
            "out tok/s/GPU",
            "tok/s/user",
            *money,
            "note",
        ],  # fmt: skip
        rows=rows,
        notes=notes,
        # the terminal keeps tier and $/M input / output / total first, then status and SLO
        priorities=[0, 2, 2, 4, 7, 5, 1, 8, 8, 1, 8, 8, 6, 1, 8, 8, 9, 9, 6, 10],
    )


def uncertainty_sheets(q: Quote) -> list[Sheet]:
    """The probes' spread and the held-out checks against the prices' interval."""
    out: list[Sheet] = []
    if q.probe_fit is not None:
        f = q.probe_fit.central
        c = f.gpu_s_per_cached_input_token
        out.append(
            Sheet(
                name="Probes",
                title="Repeated probes: GPU-seconds per request (mean, 95 % interval, cv)",
                columns=[
                    "probe workload",
                    "repeats",
                    "GPU-s/request",
                    "low",
                    "high",
                    "cv",
                    "runs",
                ],  # fmt: skip
                rows=[
                    [
                        s.workload,
                        s.gpu_s_per_request.n,
                        s.gpu_s_per_request.mean,
                        s.gpu_s_per_request.low,
                        s.gpu_s_per_request.high,
                        s.gpu_s_per_request.cv,
                        ", ".join(s.run_ids),
                    ]  # fmt: skip
                    for s in q.probe_fit.probes
                ],
                notes=[
                    f"central fit, GPU-s per token: input {f.gpu_s_per_input_token:.4g}, output "
                    f"{f.gpu_s_per_output_token:.4g}, cached "
                    + ("not measured" if c is None else f"{c:.4g}"),
                    f"{len(q.probe_fit.combinations)} fits on one repeat per probe give the "
                    "price intervals",
                ],
            )
        )
    if q.holdouts:
        d = q.display
        cur, m = d.currency, d.amount
        out.append(
            Sheet(
                name="Held out",
                title=f"Held-out workloads: measured cost per request vs the additive prices "
                f"({cur}, at cost)",
                columns=[
                    "workload",
                    "repeats",
                    "measured",
                    "measured low",
                    "measured high",
                    "predicted",
                    "predicted low",
                    "predicted high",
                    "error",
                    "inside interval",
                ],  # fmt: skip
                rows=[
                    [
                        h.workload,
                        len(h.run_ids),
                        m(h.measured_usd_per_request),
                        m(h.measured_low_usd),
                        m(h.measured_high_usd),
                        m(h.predicted_usd.central),
                        m(h.predicted_usd.low),
                        m(h.predicted_usd.high),
                        h.rel_error,
                        h.inside,
                    ]  # fmt: skip
                    for h in q.holdouts
                ],
                notes=[
                    "predicted low–high: the additive prediction over every combination of "
                    "one repeat per probe; measured: mean of the held-out repeats"
                ],  # fmt: skip
            )
        )
    return out


def lessor_sheet(q: Quote) -> Sheet | None:
    """Per server per month: rent against a share of token revenue, per tier."""
    views = [(t.point.tier, t.lessor) for t in q.tiers if t.lessor is not None]
    if not views:
        return None
    d = q.display
    cur, m, gpus = d.currency, d.amount, views[0][1].inputs.gpus
    market = q.market.label if q.market else "—"
    return Sheet(
        name="Lessor",
        title=f"Lessor's view per {gpus}-GPU server per month ({cur}); market prices: {market}",
        columns=[
            "tier",
            "rent income",
            "power",
            "opex",
            "token revenue",
            "share",
            "share income",
            "share net of power & opex",
            "rent net",
            "break-even share",
            "break-even utilization",
        ],  # fmt: skip
        rows=[
            [
                tier,
                m(v.rent_income_usd),
                m(v.power_usd),
                m(v.opex_usd),
                m(v.token_revenue_usd),
                v.inputs.share,
                m(v.share_income_usd),
                m(v.share_net_usd),
                m(v.rent_net_usd),
                v.breakeven_share,
                v.breakeven_utilization,
            ]  # fmt: skip
            for tier, v in views
        ],
        notes=[
            "rent income = contract price only (power is its own line); under a revenue share "
            "the lessor runs the servers and pays power and opex",
            "break-even share = (rent + power the lease leaves to the lessee) / token revenue; "
            "break-even utilization: where the share's net equals rent's net",
            *views[0][1].notes,
            *([q.market.converted] if q.market and q.market.converted else []),
            *fx_note(d),
        ],
    )


def scenario_sheet(q: Quote) -> Sheet | None:
    m = q.display.amount
    rows: list[list[Cell]] = [
        [s.tier, s.scenario, m(s.price_usd), m(s.low_usd), m(s.high_usd), s.basis, s.note]
        for t in q.tiers
        for s in t.scenarios
    ]
    if not rows:
        return None
    cur = q.display.currency
    return Sheet(
        name="Scenarios",
        title=f"Scenario prices ({cur}, margin included)",
        columns=["tier", "scenario", f"{cur}", f"{cur} low", f"{cur} high", "basis", "note"],
        rows=rows,
    )


def quote_sheets(q: Quote) -> list[Sheet]:
    """Price sheet, uncertainty, lessor's view, scenarios and cost working of one quote."""
    sheets = [price_sheet(q), *uncertainty_sheets(q)]
    sheets += [s for s in (lessor_sheet(q), scenario_sheet(q)) if s is not None]
    sheets.append(
        Sheet(
            name="Cost working",
            title="Cost working (per GPU-hour)",
            columns=["line", "value", "unit", "basis", "note"],
            rows=[[ln.name, ln.value, ln.unit, ln.basis, ln.note] for ln in q.cost_lines],
        )
    )
    return sheets


_COMPARE_PRIORITIES = [0, 1, 0, 1, 3, 8, 8, 7, 2, 6, 4, 6, 1, 5, 5, 7, 9, 9, 10]
"""Terminal priorities of the comparison's columns after `workload` (see Sheet.priorities)."""


def compare_sheets(c: Comparison) -> list[Sheet]:
    """The ranked SKU table per workload and tier, and the verdicts."""
    cur, m = c.display.currency, c.display.amount
    rows: list[list[Cell]] = [
        [
            r.workload, r.tier, r.rank, r.sku, r.status, r.total_tok_per_s_per_gpu,
            r.total_tok_per_s_per_gpu_low, r.total_tok_per_s_per_gpu_high,
            r.output_tok_per_s_per_gpu, m(r.gpu_hour_price_usd), r.price, r.price_kind,
            r.price_date, m(r.usd_per_m_total), m(r.usd_per_m_total_low),
            m(r.usd_per_m_total_high), r.scenario, m(r.usd_per_scenario), r.tokens_per_kwh,
            r.power_basis, r.tok_per_s_per_kusd_capex, r.note,
        ]
        for r in c.rows
    ]  # fmt: skip
    basis = f"{c.basis} basis" + (f", price tier {c.price_tier}" if c.price_tier else "")
    several_workloads = len({r.workload for r in c.rows}) > 1
    return [
        Sheet(
            name="Comparison",
            title=f"SKU comparison: {c.model} — {cur}, {basis}, utilization {c.utilization:.0%}",
            columns=[
                "workload",
                "tier",
                "rank",
                "SKU",
                "status",
                "tok/s/GPU",
                "tok/s/GPU low",
                "tok/s/GPU high",
                "out tok/s/GPU",
                f"price {cur}/GPU-hour",
                "price tier",
                "price kind",
                "price date",
                f"{cur}/M total",
                f"{cur}/M total low",
                f"{cur}/M total high",
                "tokens/kWh",
                "power",
                "tok/s per k$ capex",
                "note",
            ],  # fmt: skip
            rows=rows,
            # the terminal keeps tier, SKU, rank, status and $/M total first (and the workload
            # when there are several), then the price
            priorities=[1 if several_workloads else 3, *_COMPARE_PRIORITIES],
            notes=[
                *c.notes,
                *fx_note(c.display),
                "tokens/kWh use device power (measured, else board power: estimated)",
                "projected rows: roofline projection with a low–high range (docs/cost-model.md)",
                "scenario: the cost of one request (one whole task for the agent) of a standard "
                "workload, from its measured tokens; other workloads have none",
            ],
        ),
        Sheet(
            name="Verdicts", title="Verdicts", columns=["verdict"], rows=[[v] for v in c.verdicts]
        ),
    ]
