"""Tables for the terminal that fit its width: the columns that matter first, no cell wraps.

Each column has a priority (0 = always shown). `fit` keeps the most important columns
whose natural widths add up to the terminal width, in their original order; the others
are named in a note that points to `--wide` and the file formats. `--wide` shows every
column at its natural width (the terminal may then wrap whole lines, never cells).

Width: `$COLUMNS` when set, else the terminal's, else 150 (output piped or captured).
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Sequence

from pydantic import Field

from bench.records import Record

FALLBACK_WIDTH = 150
BORDER = 3
"""Characters a column adds beyond its text in rich's default box: two of padding, one rule."""


class TermColumn(Record):
    """A column of a terminal table: header text, priority (0 = always shown), alignment."""

    header: str
    priority: int = Field(ge=0)
    right: bool = False


def terminal_width() -> int:
    """Characters per line: `$COLUMNS`, else the terminal's when stdout is one, else
    `FALLBACK_WIDTH` (piped or captured output)."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    if sys.stdout.isatty():
        return shutil.get_terminal_size((FALLBACK_WIDTH, 24)).columns
    return FALLBACK_WIDTH


def natural_widths(columns: Sequence[TermColumn], rows: Sequence[Sequence[str]]) -> list[int]:
    """Widest text of each column, header included."""
    return [max([len(c.header), *(len(row[i]) for row in rows)]) for i, c in enumerate(columns)]


def fit(columns: Sequence[TermColumn], rows: Sequence[Sequence[str]], width: int) -> list[int]:
    """Indices of the columns to show, in their original order: priority-0 columns always,
    then the others by priority (then position) up to the first that no longer fits `width`
    (so a less important column never stands in for a more important one).

    Table width = 1 + Σ (column width + BORDER).
    """
    widths = natural_widths(columns, rows)
    order = sorted(range(len(columns)), key=lambda i: (columns[i].priority, i))
    kept = [i for i in order if columns[i].priority == 0]
    used = 1 + sum(widths[i] + BORDER for i in kept)
    for i in order:
        if columns[i].priority == 0:
            continue
        used += widths[i] + BORDER
        if used > width:
            break
        kept.append(i)
    return sorted(kept)


def print_table(
    title: str,
    columns: Sequence[TermColumn],
    rows: Sequence[Sequence[str]],
    *,
    wide: bool = False,
    more: str = "--wide shows every column",
    width: int | None = None,
) -> list[str]:
    """Print the table to stdout fitted to the terminal (every column with `wide`); returns
    the headers left out. Cells are printed literally (no rich markup) and never wrap."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    width = width or terminal_width()
    shown = list(range(len(columns))) if wide else fit(columns, rows, width)
    table = Table(title=title, title_justify="left")
    for i in shown:
        c = columns[i]
        table.add_column(
            c.header, no_wrap=True, overflow="ellipsis", justify="right" if c.right else "left"
        )
    for row in rows:
        table.add_row(*[Text(row[i]) for i in shown])
    natural = 1 + sum(w + BORDER for w in natural_widths(columns, rows))
    console = Console(width=max(width, natural) if wide else width, soft_wrap=False)
    console.print(table)
    hidden = [c.header for i, c in enumerate(columns) if i not in shown]
    if hidden:
        console.print(
            Text(f"{len(hidden)} more column(s): {', '.join(hidden)} — {more}", style="dim")
        )
    return hidden
