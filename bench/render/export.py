"""Exports of the same tables as the HTML page (Markdown, CSV) and of per-request records
(Parquet, with the canonical per-request latencies added as columns)."""

from __future__ import annotations

import csv
import types
import typing
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


def _arrow_type(annotation: Any) -> Any:
    import pyarrow as pa

    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType) and len(args) == 1:
        return _arrow_type(args[0])
    if origin is list:
        return pa.list_(_arrow_type(args[0]))
    if origin is typing.Literal:
        return pa.string()
    return {int: pa.int64(), float: pa.float64(), bool: pa.bool_(), str: pa.string()}.get(
        annotation, pa.string()
    )


def requests_schema() -> Any:
    """Arrow schema: run and SKU columns, every `RequestRecord` field, derived latencies (s)."""
    import pyarrow as pa

    from bench.records import RequestRecord

    fields = [pa.field("run_id", pa.string()), pa.field("sku", pa.string())]
    fields += [
        pa.field(n, _arrow_type(f.annotation)) for n, f in RequestRecord.model_fields.items()
    ]
    fields += [pa.field(n, pa.float64()) for n in ("ttft_s", "tpot_s", "e2e_s")]
    return pa.schema(fields)


def write_parquet(runs: list[RunBundle], path: Path) -> Path:
    """Every request record of `runs` in one Parquet file (see `requests_schema`)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from bench.metrics.latency import e2e_s, tpot_s, ttft_s

    rows = []
    for b in runs:
        sku = b.report.config.hardware
        for r in b.records:
            row = {"run_id": b.report.run_id, "sku": sku, **r.model_dump()}
            row.update(ttft_s=ttft_s(r), tpot_s=tpot_s(r), e2e_s=e2e_s(r))
            rows.append(row)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=requests_schema()), path)
    return path
