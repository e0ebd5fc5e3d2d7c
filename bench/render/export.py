"""Exports of the same tables as the HTML page (Markdown, CSV) and of per-request records
(Parquet: the `bench.analysis` request columns, with the per-chunk lists kept)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from bench.render.bundle import RunBundle
from bench.render.html import number_text
from bench.render.tables import Cell, Table


def _md_cell(value: Cell) -> str:
    if value is None:
        return "—"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return number_text(value)
    text = str(value).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")
    # Markdown viewers render inline HTML: neutralise tags that come from run data
    return text.replace("<", "&lt;").replace(">", "&gt;")


def table_markdown(table: Table) -> str:
    """One table as GitHub-flavoured Markdown, with its title and note."""
    head = [c.header + (f" [{c.basis}]" if c.basis else "") for c in table.columns]
    lines = [f"### {_md_cell(table.title)}", ""]
    if table.note:
        lines += [_md_cell(table.note), ""]
    lines.append("| " + " | ".join(_md_cell(h) for h in head) + " |")
    lines.append("|" + "---|" * len(head))
    lines += ["| " + " | ".join(_md_cell(v) for v in row) + " |" for row in table.rows]
    return "\n".join(lines) + "\n"


def report_markdown(title: str, tables: list[Table]) -> str:
    """All tables of a report in one Markdown document."""
    return f"# {_md_cell(title)}\n\n" + "\n".join(table_markdown(t) for t in tables)


def write_csv(table: Table, path: Path) -> Path:
    """One table as CSV: header row `name (unit)`, raw values (no rounding), empty = none."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow([c.header for c in table.columns])
        for row in table.rows:
            writer.writerow(["" if v is None else v for v in row])
    return path


_ARROW = {"Int64": "int64", "Float64": "float64", "boolean": "bool_", "string": "string"}


def requests_schema() -> Any:
    """Arrow schema: the columns of `bench.analysis` `load_requests` (run identity, every
    scalar `RequestRecord` field, derived latencies in s) plus the per-chunk lists."""
    import pyarrow as pa

    from bench.analysis.frames import CHUNK_FIELDS, request_columns

    fields = [pa.field(n, getattr(pa, _ARROW[t])()) for n, t in request_columns().items()]
    fields += [pa.field(n, pa.list_(pa.int64())) for n in CHUNK_FIELDS]
    return pa.schema(fields)


def write_parquet(runs: list[RunBundle], path: Path) -> Path:
    """Every request record of `runs` in one Parquet file (see `requests_schema`)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from bench.analysis.frames import request_row

    rows = [
        {**request_row(b.report, r), "chunk_ns": r.chunk_ns, "chunk_tokens": r.chunk_tokens}
        for b in runs
        for r in b.records
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=requests_schema()), path)
    return path
