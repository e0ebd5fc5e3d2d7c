"""A quote as a workbook that recomputes: an Inputs sheet and price formulas that read it.

Inputs (money in USD; prices shown in the report currency through the FX cell):

    B2 utilization          B6 power included (1 = the price pays electricity, 0 = not)
    B3 margin               B7 node overhead factor
    B4 FX (shown per USD)   B8 PUE
    B5 GPU-hour price       B9 electricity price (USD/kWh)
       without power (USD)

Per tier (sheet "Prices"): the measured token rates, power and fit coefficients are values;
everything else is a formula, the same arithmetic as `bench.cost` (docs/cost-model.md):

    power cost   = IF(included, 0, W / 1000 × overhead × PUE × price per kWh)
    effective    = (GPU-hour price + power cost) / utilization
    $/M total    = effective / ((in + out + cached) × 3600 / 1e6) × (1 + margin) × FX
    scale        = 1 / (a·in + b·out + c·cached)
    $/M input    = a × scale × effective / 3600 × 1e6 × (1 + margin) × FX   (output: b, cached: c)

The other sheets (probes, held-out checks, lessor, scenarios, cost working) are values.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.cost.quote import Quote
from bench.cost.render import MONEY_FORMATS as MONEY_FORMAT
from bench.cost.render import Sheet, add_sheet

INPUTS = {
    "utilization": "Inputs!$B$2",
    "margin": "Inputs!$B$3",
    "fx": "Inputs!$B$4",
    "price": "Inputs!$B$5",
    "included": "Inputs!$B$6",
    "overhead": "Inputs!$B$7",
    "pue": "Inputs!$B$8",
    "kwh": "Inputs!$B$9",
}
PRICE_COLUMNS = (
    "tier", "status", "input tok/s/GPU (uncached)", "output tok/s/GPU", "cached tok/s/GPU",
    "power W/GPU", "power cost USD/GPU-hour", "effective USD/GPU-hour", "{cur}/M total",
    "a GPU-s/input token", "b GPU-s/output token", "c GPU-s/cached token", "scale",
    "{cur}/M input", "{cur}/M output", "{cur}/M cached", "note",
)  # fmt: skip


def _inputs(ws: Any, q: Quote) -> None:
    d = q.display
    rows = [
        ("input", "value", "unit", "note"),
        ("utilization", q.utilization, "fraction", "busy hours / billed hours, in (0, 1]"),
        ("margin", q.margin, "fraction", "markup on cost: 0.3 = 30 %"),
        ("FX", d.per_usd, f"{d.currency} per USD", f"prices are shown in {d.currency}"),
        ("GPU-hour price", q.gpu_hour_price_ex_power_usd, "USD/GPU-hour",
         f"{q.cost_basis} basis, without electricity"),
        ("power included", 1 if q.power_included else 0, "1 = yes, 0 = no",
         "does the price pay for electricity (cloud rent: yes)"),
        ("node overhead factor", q.node_overhead_factor, "x", "server power per GPU ÷ board power"),
        ("PUE", q.pue, "x", "facility power ÷ IT power"),
        ("electricity price", q.electricity_price_usd_per_kwh, "USD/kWh", ""),
    ]  # fmt: skip
    for row in rows:
        ws.append(list(row))
    ws["B5"].number_format = MONEY_FORMAT["USD"]
    ws["B9"].number_format = MONEY_FORMAT["USD"]
    ws.column_dimensions["A"].width = 22
    ws.column_dimensions["D"].width = 50


def _tier_row(q: Quote, i: int, r: int) -> list[Any]:
    """Values and formulas of tier `i` on row `r` of the Prices sheet."""
    t = q.tiers[i]
    p = t.point
    if not p.reached or p.total_tok_per_s_per_gpu is None:
        return [p.tier, p.status, *([None] * 14), p.note]
    share = q.cached_input_share
    inp = p.input_tok_per_s_per_gpu or 0.0
    x = INPUTS
    power = f"=IF({x['included']}=1,0,F{r}/1000*{x['overhead']}*{x['pue']}*{x['kwh']})"
    effective = f"=({x['price']}+G{r})/{x['utilization']}"
    sell = f"*(1+{x['margin']})*{x['fx']}"
    total = f"=H{r}/((C{r}+D{r}+E{r})*3600/1000000){sell}"
    row: list[Any] = [p.tier, p.status, inp * (1 - share), p.output_tok_per_s_per_gpu,
                      inp * share, t.power_w, power, effective, total]  # fmt: skip
    fit = q.fit
    if fit is None:
        return [*row, *([None] * 7), p.note]
    c = fit.gpu_s_per_cached_input_token
    cached_coef = fit.gpu_s_per_input_token if c is None else c
    scale = f"=1/(J{r}*C{r}+K{r}*D{r}+L{r}*E{r})"
    price = "={}{r}*M{r}*H{r}/3600*1000000" + sell
    return [
        *row,
        fit.gpu_s_per_input_token,
        fit.gpu_s_per_output_token,
        cached_coef,
        scale,
        price.format("J", r=r),
        price.format("K", r=r),
        None if c is None else price.format("L", r=r),
        p.note,
    ]


def write_quote_xlsx(q: Quote, sheets: Sequence[Sheet], path: Path) -> None:
    """The quote's workbook: Inputs, Prices (formulas), then `sheets` after the first
    (the price sheet, which the formula sheet replaces) as values."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    inputs = wb.active
    assert inputs is not None
    inputs.title = "Inputs"
    _inputs(inputs, q)
    ws = wb.create_sheet("Prices")
    ws.append([c.format(cur=q.display.currency) for c in PRICE_COLUMNS])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for i in range(len(q.tiers)):
        ws.append(_tier_row(q, i, i + 2))
    for col in ("I", "N", "O", "P"):
        for r in range(2, len(q.tiers) + 2):
            ws[f"{col}{r}"].number_format = MONEY_FORMAT[q.display.currency]
    for col in ("G", "H"):
        for r in range(2, len(q.tiers) + 2):
            ws[f"{col}{r}"].number_format = MONEY_FORMAT["USD"]
    for i, column in enumerate(PRICE_COLUMNS, start=1):
        ws.column_dimensions[ws.cell(row=1, column=i).column_letter].width = min(
            max(12, len(column) + 2), 30
        )
    ws.append([])
    for note in sheets[0].notes if sheets else []:
        ws.append([note])
    for sheet in sheets[1:]:
        add_sheet(wb, sheet, q.display.currency)
    wb.save(path)
