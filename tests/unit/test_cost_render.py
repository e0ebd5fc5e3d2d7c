"""Quote and compare through the CLI in all four formats; the renderers' layout."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bench.cost.cli import app
from bench.cost.render import Sheet, fmt, render_csv, render_markdown
from bench.hardware.cli import app as hardware_app

RUNS = Path(__file__).resolve().parents[1] / "fixtures" / "runs"
H100 = RUNS / "h100-sxm"
SWEEP = [str(H100 / f"sweep-c{c}") for c in (1, 4, 16, 64)]
PROBES = ["--probe", str(H100 / "probe-prefill"), "--probe", str(H100 / "probe-decode")]
runner = CliRunner(env={"COLUMNS": "250"})  # rich tables wide enough to read back


def _invoke(*args: str):  # type: ignore[no-untyped-def]
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def test_fmt_cells() -> None:
    assert [fmt(None), fmt(20410.77), fmt(0.0176921), fmt(3), fmt(1e-16)] == [
        "—",
        "20,411",
        "0.01769",
        "3",
        "0",
    ]


def test_markdown_and_csv_layout() -> None:
    sheet = Sheet(name="t", title="T", columns=["a", "b|c"], rows=[[1.5, None]], notes=["n"])
    assert render_markdown([sheet]) == "## T\n\n| a | b|c |\n|---|---|\n| 1.5 | — |\n\n- n\n"
    rows = list(csv.reader(io.StringIO(render_csv([sheet]))))
    assert rows == [["# T"], ["a", "b|c"], ["1.5", ""], ["# n"], []]


def test_quote_markdown_and_json() -> None:
    md = _invoke("quote", *SWEEP, *PROBES, "--margin", "0.3", "--format", "md").output
    assert md.startswith("## Price sheet: meta-llama/Llama-3.1-8B-Instruct on NVIDIA H100 SXM")
    assert "| batch | no latency bound | measured | 20,411 |" in md
    assert "## Additive fit" in md and "## Cost working" in md
    data = json.loads(_invoke("quote", *SWEEP, "--json").output)
    batch = next(t for t in data["tiers"] if t["point"]["tier"] == "batch")
    assert batch["cost_usd_per_m_total"] == pytest.approx(0.017692, rel=1e-4)


def test_quote_csv_and_xlsx(tmp_path: Path) -> None:
    text = _invoke(
        "quote", *SWEEP, *PROBES, "--format", "csv", "--currency", "CNY", "--fx-cny-per-usd", "7.2"
    ).output
    rows = list(csv.reader(io.StringIO(text)))
    header = rows[1]
    assert header[:3] == ["tier", "SLO", "status"] and "CNY/M output" in header
    batch = next(r for r in rows if r and r[0] == "batch")
    total = float(batch[header.index("cost CNY/M total")])
    assert total == pytest.approx(0.017692 * 7.2, rel=1e-4)
    out = tmp_path / "quote.xlsx"
    _invoke(
        "quote",
        *SWEEP,
        *PROBES,
        "--format",
        "xlsx",
        "--output",
        str(out),
        "--market-price-in",
        "0.02",
        "--market-price-out",
        "0.04",
        "--revenue-share",
        "0.5",
    )
    from openpyxl import load_workbook

    wb = load_workbook(out)
    assert wb.sheetnames == ["Prices", "Revenue share", "Additive fit", "Cost working"]
    ws = wb["Prices"]
    assert ws["A2"].value == "tier"
    values = {ws.cell(row=r, column=1).value: ws.cell(row=r, column=13).value for r in (3, 4, 5)}
    assert values["batch"] == pytest.approx(0.017692, rel=1e-4)  # a number, not text


def test_compare_all_formats(tmp_path: Path) -> None:
    runs = [str(RUNS / "h100-sxm"), str(RUNS / "l40s")]  # folders of run folders
    table = _invoke("compare", *runs, "--project", "b200").output
    assert "SKU comparison" in table and "projected" in table
    md = _invoke("compare", *runs, "--format", "md").output
    assert "## Verdicts" in md and "h100-sxm (high-end) is" in md
    text = _invoke("compare", *runs, "--format", "csv").output
    assert "rent USD/M total" in text
    out = tmp_path / "compare.xlsx"
    _invoke("compare", *runs, "--format", "xlsx", "--output", str(out))
    from openpyxl import load_workbook

    assert load_workbook(out).sheetnames == ["Comparison", "Verdicts"]


def test_cli_user_errors_name_the_field() -> None:
    from bench.errors import UserError

    for args, field in [
        (["quote", *SWEEP, "--utilization", "0"], "utilization"),
        (["quote", *SWEEP, "--utilization", "1.5"], "utilization"),
        (["quote", *SWEEP, "--currency", "EUR"], "currency"),
        (["quote", *SWEEP, "--currency", "CNY"], "fx_cny_per_usd"),
        (["quote", *SWEEP, "--rent-price-per-gpu-hour", "-2"], "rent_price_per_gpu_hour"),
        (["quote", *SWEEP, "--hardware", "h9000"], "hardware"),
        (["quote", *SWEEP, "--format", "xlsx"], "--output"),
    ]:
        result = runner.invoke(app, args)
        assert isinstance(result.exception, UserError), (args, result.output)
        assert result.exception.field == field, args


def test_hardware_cli_list_and_show() -> None:
    listing = runner.invoke(hardware_app, ["list"], terminal_width=250)
    assert listing.exit_code == 0
    assert "h100-sxm" in listing.output and "no public figure" in listing.output
    shown = runner.invoke(hardware_app, ["show", "h100-sxm", "--json"])
    data = json.loads(shown.output)
    assert data["bf16_dense_tflops"]["value"] == 989
    assert data["acceptance"]["gemm_bf16_tflops_min"]["value"] == 692
    table = runner.invoke(hardware_app, ["show", "l40s"], terminal_width=250)
    assert "runpod-secure*" in table.output and "verified" not in table.output.split("Price")[0]
