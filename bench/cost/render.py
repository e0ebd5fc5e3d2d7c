"""Quote and comparison as sheets, rendered to a terminal table, Markdown, CSV or XLSX.

A `Sheet` is a titled table plus notes; `quote_sheets` / `compare_sheets` build them from the
records, and each renderer only lays sheets out. Numbers stay numbers until rendering. Money
is stored in USD and converted here, to the record's display currency.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from pydantic import Field

from bench.cost.compare import Comparison
from bench.cost.quote import Quote
from bench.records import DisplayCurrency, Record

Cell = str | float | int | None
Format = Literal["table", "md", "csv", "xlsx"]


class Sheet(Record):
    """A titled table; `name` is its short tab name in a workbook (≤ 31 characters)."""

    name: str = Field(max_length=31)
    title: str
    columns: list[str]
    rows: list[list[Cell]]
    notes: list[str] = Field(default_factory=list)


def fmt(value: Cell) -> str:
    """Cell text: '—' for missing, 4 significant digits for fractions, grouped thousands."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if abs(value) < 1e-12:
            return "0"
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"
    return value


def fx_note(display: DisplayCurrency) -> list[str]:
    """The exchange-rate note of a sheet shown in a currency other than USD (none for USD)."""
    if display.currency == "USD":
        return []
    return [
        f"money computed in USD, shown in {display.currency} at {display.per_usd:g} "
        f"{display.currency}/USD ({display.fx_source})"
    ]


def quote_sheets(q: Quote) -> list[Sheet]:
    """Price sheet, revenue share, additive fit and cost working of one quote."""
    d = q.display
    cur, money = d.currency, d.amount
    head = (
        f"{q.model} on {q.hardware_name} ({q.hardware_sku}) — {cur}, {q.cost_basis} basis, "
        f"utilization {q.utilization:.0%}, margin {q.margin:.0%}"
    )
    price_rows: list[list[Cell]] = []
    for t in q.tiers:
        p = t.point
        price_rows.append(
            [
                p.tier,
                p.constraint,
                p.status,
                p.total_tok_per_s_per_gpu,
                p.output_tok_per_s_per_gpu,
                p.interactivity_tok_per_s,
                money(t.price_usd_per_m_input),
                money(t.price_usd_per_m_output),
                money(t.price_usd_per_m_cached_input),
                money(t.price_usd_per_m_total),
                money(t.price_usd_per_image),
                money(t.price_usd_per_video_s),
                money(t.cost_usd_per_m_total),
                p.note,
            ]
        )
    notes = [
        f"GPU-hour cost {d.amount(q.gpu_hour_cost_usd):.4g} {cur}, effective (÷ utilization) "
        f"{d.amount(q.effective_gpu_hour_cost_usd):.4g} {cur}"
        + (" — includes estimated power" if q.estimated else ""),
        "input / output / cached prices are additive: in·p_in + out·p_out + cached·p_cached "
        "= the cost at the tier's operating point (× (1 + margin))",
        *q.notes,
        *fx_note(d),
    ]
    if q.fit is not None:
        notes.append(
            f"additive fit over {len(q.fit.residuals)} probe runs: rms error "
            f"{q.fit.rms_rel_error:.1%}, max {q.fit.max_abs_rel_error:.1%}"
        )
    if q.holdout is not None:
        notes.append(
            f"held-out run {q.holdout.run_id}: measured "
            f"{d.amount(q.holdout.measured_cost_usd_per_request):.4g} vs additive "
            f"{d.amount(q.holdout.additive_cost_usd_per_request):.4g} {cur} per request "
            f"({q.holdout.rel_error:+.1%})"
        )
    sheets = [
        Sheet(
            name="Prices",
            title=f"Price sheet: {head}",
            columns=[
                "tier",
                "SLO",
                "status",
                "tok/s/GPU",
                "out tok/s/GPU",
                "tok/s/user",
                f"{cur}/M input",
                f"{cur}/M output",
                f"{cur}/M cached",
                f"{cur}/M total",
                f"{cur}/image",
                f"{cur}/video-s",
                f"cost {cur}/M total",
                "note",
            ],
            rows=price_rows,
            notes=notes,
        )
    ]
    revenue = [(t.point.tier, t.revenue) for t in q.tiers if t.revenue is not None]
    if revenue:
        sheets.append(
            Sheet(
                name="Revenue share",
                title=f"Token revenue share vs rent ({cur} per GPU-hour)",
                columns=[
                    "tier",
                    "token revenue",
                    "share",
                    "lessor income (share)",
                    "rent",
                    "break-even share",
                ],
                rows=[
                    [
                        tier,
                        money(r.revenue_usd_per_gpu_hour),
                        r.share,
                        money(r.share_income_usd_per_gpu_hour),
                        money(r.rent_usd_per_gpu_hour),
                        r.breakeven_share,
                    ]
                    for tier, r in revenue
                ],
                notes=[
                    "revenue = Σ market price per M × tokens per GPU-hour × utilization; "
                    "break-even share = rent / revenue"
                ],
            )
        )
    if q.fit is not None:
        rows: list[list[Cell]] = [
            [r.run_id, "fit", r.measured_gpu_s, r.predicted_gpu_s, r.rel_error]
            for r in q.fit.residuals
        ]
        if q.holdout is not None:
            h = q.holdout
            rows.append(
                [
                    h.run_id,
                    "held out",
                    money(h.measured_cost_usd_per_request),
                    money(h.additive_cost_usd_per_request),
                    h.rel_error,
                ]
            )
        c = q.fit.gpu_s_per_cached_input_token
        sheets.append(
            Sheet(
                name="Additive fit",
                title=f"Additive fit: GPU-seconds per request (held-out row: {cur} per request)",
                columns=["run", "role", "measured", "additive", "relative error"],
                rows=rows,
                notes=[
                    f"GPU-s per token: input {q.fit.gpu_s_per_input_token:.4g}, output "
                    f"{q.fit.gpu_s_per_output_token:.4g}, cached "
                    + ("not measured" if c is None else f"{c:.4g}")
                ],
            )
        )
    sheets.append(
        Sheet(
            name="Cost working",
            title="Cost working (per GPU-hour)",
            columns=["line", "value", "unit", "basis", "note"],
            rows=[[ln.name, *d.line(ln), ln.basis, ln.note] for ln in q.cost_lines],
        )
    )
    return sheets


def compare_sheets(c: Comparison) -> list[Sheet]:
    """The ranked SKU table per tier and the verdicts."""
    cur, money = c.display.currency, c.display.amount
    rows: list[list[Cell]] = [
        [
            r.tier,
            r.rank,
            r.sku,
            "projected" if r.projected else r.status,
            r.total_tok_per_s_per_gpu,
            r.output_tok_per_s_per_gpu,
            money(r.rent_usd_per_m_total),
            money(r.owned_usd_per_m_total),
            r.tokens_per_kwh,
            r.power_basis,
            r.tok_per_s_per_kusd_capex,
            r.owned_method,
            r.note,
        ]
        for r in c.rows
    ]
    return [
        Sheet(
            name="Comparison",
            title=f"SKU comparison: {c.model} — {cur}, utilization {c.utilization:.0%}",
            columns=[
                "tier",
                "rank",
                "SKU",
                "status",
                "tok/s/GPU",
                "out tok/s/GPU",
                f"rent {cur}/M total",
                f"owned {cur}/M total",
                "tokens/kWh",
                "power",
                "tok/s per k$ capex",
                "owned method",
                "note",
            ],
            rows=rows,
            notes=[
                *c.notes,
                "tokens/kWh use device power (measured, else board power: estimated)",
                *fx_note(c.display),
            ],
        ),
        Sheet(
            name="Verdicts", title="Verdicts", columns=["verdict"], rows=[[v] for v in c.verdicts]
        ),
    ]


def render_terminal(sheets: Sequence[Sheet]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    for sheet in sheets:
        table = Table(title=sheet.title, title_justify="left")
        for column in sheet.columns:
            table.add_column(column, overflow="fold")
        for row in sheet.rows:
            table.add_row(*(fmt(v) for v in row))
        console.print(table)
        for note in sheet.notes:
            console.print(f"  note: {note}", markup=False)


def _md_cell(value: Cell) -> str:
    return fmt(value).replace("|", "\\|").replace("\n", " ")


def render_markdown(sheets: Sequence[Sheet]) -> str:
    out: list[str] = []
    for sheet in sheets:
        out += [
            f"## {sheet.title}",
            "",
            "| " + " | ".join(sheet.columns) + " |",
            "|" + "---|" * len(sheet.columns),
        ]
        out += ["| " + " | ".join(_md_cell(v) for v in row) + " |" for row in sheet.rows]
        out += [""] + [f"- {n}" for n in sheet.notes] + ([""] if sheet.notes else [])
    return "\n".join(out)


def render_csv(sheets: Sequence[Sheet]) -> str:
    """All sheets in one CSV: a `# title` row, the header, the rows, notes, a blank row."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    for sheet in sheets:
        writer.writerow([f"# {sheet.title}"])
        writer.writerow(sheet.columns)
        writer.writerows([["" if v is None else v for v in row] for row in sheet.rows])
        writer.writerows([[f"# {n}"] for n in sheet.notes])
        writer.writerow([])
    return buf.getvalue()


def render_xlsx(sheets: Sequence[Sheet], path: Path) -> None:
    """One worksheet per sheet: bold title and header, numbers as numbers, notes below."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    wb.remove(wb.active)  # type: ignore[arg-type]
    for sheet in sheets:
        ws = wb.create_sheet(sheet.name)
        ws.append([sheet.title])
        ws["A1"].font = Font(bold=True)
        ws.append(sheet.columns)
        for cell in ws[2]:
            cell.font = Font(bold=True)
        for row in sheet.rows:
            ws.append(list(row))
        for note in sheet.notes:
            ws.append([note])
        for i, column in enumerate(sheet.columns, start=1):
            letter = ws.cell(row=2, column=i).column_letter
            ws.column_dimensions[letter].width = min(max(12, len(column) + 2), 40)
    wb.save(path)


def render(sheets: Sequence[Sheet], fmt_name: Format, output: Path | None) -> str | None:
    """Render `sheets` as asked: to `output` when given (required for xlsx), else returned.

    Returns the text for md/csv without an output path; None otherwise (terminal prints).
    """
    if fmt_name == "table":
        render_terminal(sheets)
        return None
    if fmt_name == "xlsx":
        if output is None:
            from bench.errors import UserError

            raise UserError("xlsx needs a file", field="--output", fix="give --output FILE.xlsx")
        render_xlsx(sheets, output)
        return None
    text = render_markdown(sheets) if fmt_name == "md" else render_csv(sheets)
    if output is not None:
        output.write_text(text, encoding="utf-8")
        return None
    return text
