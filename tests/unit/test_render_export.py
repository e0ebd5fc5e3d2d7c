"""Markdown, CSV and Parquet exports: exact text for a literal table, records round-trip."""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bench.metrics.latency import tpot_s, ttft_s
from bench.render.bundle import load_bundle, select
from bench.render.export import table_markdown, write_csv, write_parquet
from bench.render.report import all_tables, write_report
from bench.render.tables import Column, Table

FIXTURES = Path(__file__).parents[1] / "fixtures" / "runs_two_skus"
H100_C8 = FIXTURES / "20260302T111500Z-h100-sxm-c8"

TABLE = Table(
    key="t",
    title="Latency <b>",
    columns=[Column(name="run"), Column(name="TTFT p50", unit="ms", basis="measured")],
    rows=[["a|b", 12.3456], ["<script>x</script>", None]],
    note="note",
)


def test_markdown_table_text() -> None:
    assert table_markdown(TABLE) == (
        "### Latency &lt;b&gt;\n\nnote\n\n"
        "| run | TTFT p50 (ms) [measured] |\n|---|---|\n"
        "| a\\|b | 12.35 |\n"
        "| &lt;script&gt;x&lt;/script&gt; | — |\n"
    )


def test_csv_keeps_raw_values(tmp_path: Path) -> None:
    path = write_csv(TABLE, tmp_path / "t.csv")
    assert path.read_bytes().decode() == (
        "run,TTFT p50 (ms)\r\na|b,12.3456\r\n<script>x</script>,\r\n"
    )


def test_parquet_holds_every_record_with_derived_latencies(tmp_path: Path) -> None:
    b = load_bundle(H100_C8)
    table = pq.read_table(write_parquet([b], tmp_path / "r.parquet"))
    assert table.num_rows == 17  # 16 measured + 1 warm-up
    assert table.schema.field("chunk_ns").type.value_type == pa.int64()
    assert str(table.schema.field("status").type) == "string"
    rows = table.to_pylist()
    by_id = {r["request_id"]: r for r in rows}
    first = b.records[1]
    assert by_id[first.request_id]["ttft_s"] == pytest.approx(ttft_s(first))
    assert by_id[first.request_id]["tpot_s"] == pytest.approx(tpot_s(first))
    assert by_id[first.request_id]["chunk_ns"] == first.chunk_ns
    failed = [r for r in rows if r["status"] == "error"]
    assert len(failed) == 1 and failed[0]["ttft_s"] is None and failed[0]["http_status"] == 500
    assert {r["sku"] for r in rows} == {"h100-sxm"}


def test_markdown_and_csv_carry_the_same_tables(tmp_path: Path) -> None:
    sel, written = write_report([FIXTURES], ["md", "csv", "parquet"], out_dir=tmp_path)
    tables = all_tables(sel)
    names = sorted(p.name for p in (tmp_path / "tables").iterdir())
    assert len(names) == len(tables) == 1 + 6 * 5 + 1  # runs; 5 per run; h100 c=8 errors
    md = (tmp_path / "report.md").read_text()
    for t in tables:
        with (tmp_path / "tables" / f"{t.key}.csv").open() as fh:
            assert len(list(csv.reader(fh))) == len(t.rows) + 1
        assert f"### {t.title}" in md
    runs_md = md.split("### Runs")[1].split("###")[0]
    assert runs_md.count("\n| 2026") == 6
    assert pq.read_table(tmp_path / "requests.parquet").num_rows == 6 * 17
    assert written[0] == tmp_path / "report.md"
    assert sel.kind == "comparison" and select([H100_C8]).kind == "run"
