"""Sheets rendered to a terminal table, Markdown, CSV or XLSX.

A `Sheet` is a titled table plus notes (bench.cost.sheets builds them from quotes and
comparisons, converting money from USD to the record's display currency); each renderer
only lays sheets out. Numbers stay numbers until rendering. CSV is one table per file; a
quote's XLSX has live formulas (bench.cost.xlsx).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from bench.records import DisplayCurrency, Record

Cell = str | bool | float | int | None
Format = Literal["table", "md", "csv", "xlsx"]


class Sheet(Record):
    """A titled table; `name` is its short tab name in a workbook (≤ 31 characters)."""

    name: str = Field(max_length=31)
    title: str
    columns: list[str]
    rows: list[list[Cell]]
    notes: list[str] = Field(default_factory=list)
    priorities: list[int] = Field(
        default_factory=list,
        description="per column, which the terminal keeps first when it is narrow (0 = always "
        "shown); empty: the first column always, the others from left to right",
    )

    @model_validator(mode="after")
    def _one_priority_per_column(self) -> Sheet:
        if self.priorities and len(self.priorities) != len(self.columns):
            raise ValueError("give one priority per column, or none")
        return self

    def priority(self, i: int) -> int:
        """Priority of column `i` (see `priorities`)."""
        return self.priorities[i] if self.priorities else i


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


def render_terminal(sheets: Sequence[Sheet], wide: bool = False) -> None:
    """Each sheet as a table that fits the terminal (every column with `wide`; the others are
    named), cells never wrapped; a one-column sheet of sentences (verdicts) as lines."""
    from rich.console import Console

    from bench.render.terminal import TermColumn, print_table

    console = Console(soft_wrap=False)
    more = "--wide shows them all; --format md|csv|xlsx|json has everything"
    for sheet in sheets:
        if len(sheet.columns) == 1:
            console.print(sheet.title, style="italic", markup=False)
            for row in sheet.rows:
                console.print(f"- {fmt(row[0])}", markup=False)
        else:
            columns = [
                TermColumn(header=c, priority=sheet.priority(i), right=_numeric(sheet, i))
                for i, c in enumerate(sheet.columns)
            ]
            rows = [[fmt(v) for v in row] for row in sheet.rows]
            print_table(sheet.title, columns, rows, wide=wide, more=more)
        for note in sheet.notes:
            console.print(f"  note: {note}", markup=False)


def _numeric(sheet: Sheet, i: int) -> bool:
    """True when column `i` holds numbers (right-aligned)."""
    values = [row[i] for row in sheet.rows if row[i] is not None]
    return bool(values) and all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in values
    )


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


def csv_text(sheet: Sheet) -> str:
    """One table as CSV: the header row, then the rows (empty cell for missing)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(sheet.columns)
    writer.writerows([["" if v is None else v for v in row] for row in sheet.rows])
    return buf.getvalue()


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")


def write_csv(sheets: Sequence[Sheet], output: Path) -> list[Path]:
    """One CSV file per table: `output` holds the first sheet, `<stem>-<name>.csv` each
    other, `<stem>-notes.csv` every sheet's notes (columns: sheet, note). Returns the paths."""
    paths = [output] + [output.with_name(f"{output.stem}-{_slug(s.name)}.csv") for s in sheets[1:]]
    for path, sheet in zip(paths, sheets, strict=True):
        path.write_text(csv_text(sheet), encoding="utf-8")
    notes = Sheet(
        name="notes",
        title="notes",
        columns=["sheet", "note"],
        rows=[[s.name, n] for s in sheets for n in [s.title, *s.notes]],
    )
    paths.append(output.with_name(f"{output.stem}-notes.csv"))
    paths[-1].write_text(csv_text(notes), encoding="utf-8")
    return paths


MONEY_FORMATS = {"USD": '"$"#,##0.000000', "CNY": '"¥"#,##0.000000'}


def add_sheet(wb: Any, sheet: Sheet, currency: str | None = None) -> None:
    """Append `sheet` to an openpyxl workbook: bold title and header, numbers as numbers
    (in `currency`'s number format where the column's unit is that currency), notes below."""
    from openpyxl.styles import Font

    ws = wb.create_sheet(sheet.name)
    ws.append([sheet.title])
    ws["A1"].font = Font(bold=True)
    ws.append(sheet.columns)
    for cell in ws[2]:
        cell.font = Font(bold=True)
    for row in sheet.rows:
        ws.append(list(row))
    money = MONEY_FORMATS.get(currency or "")
    for i, column in enumerate(sheet.columns, start=1):
        letter = ws.cell(row=2, column=i).column_letter
        ws.column_dimensions[letter].width = min(max(12, len(column) + 2), 40)
        if money and currency and column.split("/")[0].split(" ")[-1] == currency:
            for r in range(3, len(sheet.rows) + 3):
                ws[f"{letter}{r}"].number_format = money
    for note in sheet.notes:
        ws.append([note])


def render_xlsx(sheets: Sequence[Sheet], path: Path, currency: str | None = None) -> None:
    """One worksheet per sheet (see `add_sheet`)."""
    from openpyxl import Workbook

    wb = Workbook()
    wb.remove(wb.active)  # type: ignore[arg-type]
    for sheet in sheets:
        add_sheet(wb, sheet, currency)
    wb.save(path)


def render(
    sheets: Sequence[Sheet], fmt_name: Format, output: Path | None, wide: bool = False
) -> str | None:
    """Render `sheets` as asked: to `output` when given (required for xlsx), else returned.

    Returns the text for md, and for csv the first table, without an output path; None
    otherwise (the terminal table prints itself, every column with `wide`).
    """
    if fmt_name == "table":
        render_terminal(sheets, wide)
        return None
    if fmt_name == "xlsx":
        if output is None:
            from bench.errors import UserError

            raise UserError("xlsx needs a file", field="--output", fix="give --output FILE.xlsx")
        render_xlsx(sheets, output)
        return None
    if fmt_name == "csv":
        if output is None:
            return csv_text(sheets[0])
        write_csv(sheets, output)
        return None
    text = render_markdown(sheets)
    if output is not None:
        output.write_text(text, encoding="utf-8")
        return None
    return text
