"""Quote and compare through the CLI in every format; CSV one table per file; the quote's
XLSX recomputes its prices when an input cell changes (checked with a formula evaluator)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bench.cost.cli import app
from bench.cost.render import Sheet, csv_text, fmt, render_markdown, write_csv
from bench.hardware.cli import app as hardware_app

RUNS = Path(__file__).resolve().parents[1] / "fixtures" / "runs"
H100 = RUNS / "h100-sxm"
SWEEP = [str(H100 / f"sweep-c{c}") for c in (1, 4, 16, 64)]
PROBES = [
    arg
    for p in ("probe-prefill", "probe-decode")
    for r in ("", "-r2", "-r3")
    for arg in ("--probe", str(H100 / f"{p}{r}"))
]
C64_TOTAL = 1280 / ((1024 / 40_000 + 256 * (0.006 + 0.00005 * 64) / 64) * 1.005)
runner = CliRunner(env={"COLUMNS": "250"})  # rich tables wide enough to read back


def _invoke(*args: str):  # type: ignore[no-untyped-def]
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def test_fmt_cells() -> None:
    assert [fmt(None), fmt(20410.77), fmt(0.0176921), fmt(3), fmt(1e-16), fmt(True)] == [
        "—",
        "20,411",
        "0.01769",
        "3",
        "0",
        "yes",
    ]


def test_markdown_and_csv_layout(tmp_path: Path) -> None:
    sheet = Sheet(name="t", title="T", columns=["a", "b|c"], rows=[[1.5, None]], notes=["n"])
    assert render_markdown([sheet]) == "## T\n\n| a | b|c |\n|---|---|\n| 1.5 | — |\n\n- n\n"
    assert list(csv.reader(io.StringIO(csv_text(sheet)))) == [["a", "b|c"], ["1.5", ""]]
    other = Sheet(name="Lessor view", title="L", columns=["x"], rows=[[2]], notes=["m"])
    paths = write_csv([sheet, other], tmp_path / "quote.csv")
    assert [p.name for p in paths] == ["quote.csv", "quote-lessor-view.csv", "quote-notes.csv"]
    assert (tmp_path / "quote-lessor-view.csv").read_text() == "x\n2\n"
    notes = list(csv.reader(io.StringIO((tmp_path / "quote-notes.csv").read_text())))
    assert notes == [["sheet", "note"], ["t", "T"], ["t", "n"], ["Lessor view", "L"],
                     ["Lessor view", "m"]]  # fmt: skip


def test_quote_markdown_and_json() -> None:
    md = _invoke("quote", *SWEEP, *PROBES, "--margin", "0.3", "--format", "md").output
    assert md.startswith("## Price sheet: meta-llama/Llama-3.1-8B-Instruct on NVIDIA H100 SXM")
    assert "| batch | no latency bound | measured | 20,411 |" in md
    for section in ("## Repeated probes", "## Lessor's view per 8-GPU server", "## Scenario prices",
                    "## Cost working"):  # fmt: skip
        assert section in md
    data = json.loads(_invoke("quote", *SWEEP, "--json").output)
    batch = next(t for t in data["tiers"] if t["point"]["tier"] == "batch")
    assert batch["cost_usd_per_m_total"] == pytest.approx(0.017692, rel=1e-4)
    assert data["market"]["label"].startswith("llama-3.1-8b at deepinfra")


def test_quote_csv_is_one_table_per_file(tmp_path: Path) -> None:
    text = _invoke(
        "quote", *SWEEP, *PROBES, "--format", "csv", "--currency", "CNY", "--fx-cny-per-usd", "7.2"
    ).output
    rows = list(csv.reader(io.StringIO(text)))
    header = rows[0]
    assert header[:3] == ["tier", "SLO", "status"] and "CNY/M output" in header
    batch = next(r for r in rows if r and r[0] == "batch")
    assert float(batch[header.index("cost CNY/M total")]) == pytest.approx(0.017692 * 7.2, rel=1e-4)
    _invoke("quote", *SWEEP, *PROBES, "--format", "csv", "--output", str(tmp_path / "q.csv"))
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["q-cost-working.csv", "q-lessor.csv", "q-notes.csv", "q-probes.csv",
                     "q-scenarios.csv", "q.csv"]  # fmt: skip
    for name in names:
        first = (tmp_path / name).read_text().splitlines()[0]
        assert not first.startswith("#"), name  # a header row, no title rows


def _xlsx_values(path: Path, inputs: dict[str, float] | None = None) -> dict[str, object]:
    """Every cell of the workbook after recomputing its formulas (formulas package)."""
    import formulas

    model = formulas.ExcelModel().loads(str(path)).finish()
    book = path.name
    given = {f"'[{book}]INPUTS'!{cell}": v for cell, v in (inputs or {}).items()}
    solution = model.calculate(inputs=given) if given else model.calculate()
    out = {}
    for key, value in solution.items():
        sheet_cell = key.split("]")[-1].replace("'", "")
        out[sheet_cell] = value.value[0][0] if hasattr(value, "value") else value
    return out


def test_quote_xlsx_recomputes_when_an_input_changes(tmp_path: Path) -> None:
    out = tmp_path / "quote.xlsx"
    _invoke("quote", *SWEEP, *PROBES, "--margin", "0.3", "--format", "xlsx", "--output", str(out))
    from openpyxl import load_workbook

    wb = load_workbook(out)
    assert wb.sheetnames[:2] == ["Inputs", "Prices"]
    assert {"Probes", "Lessor", "Scenarios", "Cost working"} <= set(wb.sheetnames)
    prices = wb["Prices"]
    header = [c.value for c in prices[1]]
    assert "USD/M input" in header and "effective USD/GPU-hour" in header
    batch_row = next(r for r in range(2, 6) if prices.cell(row=r, column=1).value == "batch")
    assert str(prices[f"I{batch_row}"].value).startswith("=")  # a formula, not a number
    assert prices[f"I{batch_row}"].number_format.startswith('"$"')
    json_quote = json.loads(_invoke("quote", *SWEEP, *PROBES, "--margin", "0.3", "--json").output)
    batch = next(t for t in json_quote["tiers"] if t["point"]["tier"] == "batch")
    base = _xlsx_values(out)
    # as computed: the formulas reproduce the quote's own prices
    assert base[f"PRICES!I{batch_row}"] == pytest.approx(batch["price_usd_per_m_total"], rel=1e-9)
    assert base[f"PRICES!N{batch_row}"] == pytest.approx(batch["price_usd_per_m_input"], rel=1e-9)
    assert base[f"PRICES!O{batch_row}"] == pytest.approx(batch["price_usd_per_m_output"], rel=1e-9)
    # $1.30/GPU-hour, 100 % utilization, margin 30 %: 1.3 / (20,410.8 × 0.0036) × 1.3
    assert base[f"PRICES!I{batch_row}"] == pytest.approx(1.30 / (C64_TOTAL * 0.0036) * 1.3)
    # utilization 100 % → 50 %: every price doubles; the GPU-hour price $1.30 → $2.60 doubles
    # them again; FX 1 → 7.2 shows them in yuan
    half = _xlsx_values(out, {"B2": 0.5})
    for col in ("I", "N", "O"):
        key = f"PRICES!{col}{batch_row}"
        assert half[key] == pytest.approx(2 * base[key], rel=1e-9)
    changed = _xlsx_values(out, {"B2": 0.5, "B5": 2.6, "B4": 7.2, "B3": 0.0})
    assert changed[f"PRICES!I{batch_row}"] == pytest.approx(
        2.6 / 0.5 / (C64_TOTAL * 0.0036) * 7.2, rel=1e-9
    )
    # electricity counts only when the price excludes it: 620 W × 1.82 × 1.2 × $0.08
    excluded = _xlsx_values(out, {"B6": 0})
    assert excluded[f"PRICES!G{batch_row}"] == pytest.approx(0.62 * 1.82 * 1.2 * 0.08)


def test_compare_all_formats(tmp_path: Path) -> None:
    runs = [str(RUNS / "h100-sxm"), str(RUNS / "l40s")]  # folders of run folders
    on_demand = ["--price-tier", "on-demand"]
    table = _invoke("compare", *runs, *on_demand, "--project", "b200").output
    assert "SKU comparison" in table and "projected" in table
    md = _invoke("compare", *runs, *on_demand, "--format", "md").output
    assert "## Verdicts" in md and "h100-sxm (high-end) is" in md
    text = _invoke("compare", *runs, *on_demand, "--format", "csv").output
    assert text.splitlines()[0].startswith("workload,tier,rank,SKU,status,tok/s/GPU")
    assert "USD/M total" in text.splitlines()[0]
    out = tmp_path / "compare.xlsx"
    _invoke("compare", *runs, *on_demand, "--format", "xlsx", "--output", str(out))
    from openpyxl import load_workbook

    assert load_workbook(out).sheetnames == ["Comparison", "Verdicts"]


def test_quote_plan_lists_the_runs_to_make() -> None:
    md = _invoke("quote", "--plan", "--model", "tiny-llama", "--hardware", "cpu-local",
                 "--format", "md").output  # fmt: skip
    assert "| prefill-heavy probe | 1,024 | 16 | 0 | 4 | 3 | 25 |" in md
    assert "| decode-heavy probe | 32 | 256 | 0 | 4 | 3 | 25 |" in md
    assert "--range-ratio 0.5 --loads 4 --repeats 3 --duration-s 25" in md
    assert "then: bench quote reports/quote/sweep --probe reports/quote/probe-prefill" in md
    gpu = json.loads(
        _invoke(
            "quote",
            "--plan",
            "--model",
            "llama-3.1-8b",
            "--hardware",
            "h100-sxm",
            "--probe-repeats",
            "5",
            "--json",
        ).output  # fmt: skip
    )
    assert [(r["input_tokens"], r["output_tokens"], r["repeats"]) for r in gpu["runs"]] == [
        (4096, 32, 5),
        (128, 1024, 5),
        (1536, 384, 5),
        (1536, 384, 1),
    ]


def test_cli_user_errors_name_the_field() -> None:
    from bench.errors import UserError

    runs = [str(RUNS / "h100-sxm"), str(RUNS / "l40s")]
    for args, field in [
        (["quote", *SWEEP, "--utilization", "0"], "utilization"),
        (["quote", *SWEEP, "--utilization", "1.5"], "utilization"),
        (["quote", *SWEEP, "--currency", "EUR"], "currency"),
        (["quote", *SWEEP, "--currency", "CNY"], "fx_cny_per_usd"),
        (["quote", *SWEEP, "--rent-price-per-gpu-hour", "-2"], "rent_price_per_gpu_hour"),
        (["quote", *SWEEP, "--hardware", "h9000"], "hardware"),
        (["quote", *SWEEP, "--format", "xlsx"], "--output"),
        (["quote", *SWEEP, "--revenue-share", "1.5"], "--revenue-share"),
        (["quote", *SWEEP, "--market-price-in", "0.1"], "--market-price-in"),
        (["quote", *SWEEP, "--market", "nobody"], "--market"),
        (["quote", *SWEEP, "--probe", str(H100 / "probe-prefill")], "--probe-repeats"),
        (["quote", "--plan", "--model", "tiny-llama"], "--hardware"),
        (["quote"], "RUNS"),
        (["compare", *runs], "--price-tier"),
        (["compare", *runs, "--price-tier", "forever"], "--price-tier"),
        (["compare", *runs, "--price", "h20"], "--price"),
        (["compare", *runs, "--price", "h20=-1"], "--price"),
        (["compare", *runs, "--price-tier", "on-demand", "--price", "h9=1"], "--price"),
        (["compare", *runs, "--price-tier", "on-demand", "--project", "mi300x"], "--project"),
    ]:
        result = runner.invoke(app, args)
        assert isinstance(result.exception, UserError), (args, result.output)
        assert result.exception.field == field, (args, result.exception)


def test_hardware_cli_list_and_show() -> None:
    listing = runner.invoke(hardware_app, ["list"], terminal_width=250)
    assert listing.exit_code == 0
    assert "h100-sxm" in listing.output and "no public figure" in listing.output
    assert "semianalysis-3yr-rental: 3-year, 2026-04-03" in listing.output
    shown = runner.invoke(hardware_app, ["show", "h100-sxm", "--json"])
    data = json.loads(shown.output)
    assert data["bf16_dense_tflops"]["value"] == 989
    assert data["acceptance"]["gemm_bf16_tflops_min"]["value"] == 692
    table = runner.invoke(hardware_app, ["show", "l40s"], terminal_width=250)
    assert "runpod-secure*" in table.output and "verified" not in table.output.split("Price")[0]
    h20 = runner.invoke(hardware_app, ["show", "h20"], terminal_width=250)
    assert "no public figure" in h20.output and "§2d" in h20.output


def test_planned_held_out_command_builds_a_spread_workload(tmp_path: Path) -> None:
    from bench.sweep.cli import PointOptions, _base_config

    point = PointOptions(
        out=tmp_path, model="tiny-llama", input_tokens=600, output_tokens=48, range_ratio=0.5,
        load_kind="concurrency", num_requests=None, duration_s=25, warmup=2,
        hardware="cpu-local", gpus=None, endpoint=None, api_key_env=None, engine_arg=None,
        run_config=None, resume=False,
    )  # fmt: skip
    config = _base_config(point, None)
    assert (config.workload.kind, config.workload.range_ratio) == ("shape", 0.5)


def _table_rows_and_headers(out: str) -> tuple[list[str], list[list[str]]]:
    """Table lines of the first terminal table printed, and its header cells."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("┏"))
    end = next(i for i, line in enumerate(lines) if line.startswith("└") and i > start)
    table = lines[start : end + 1]
    header = [h.strip() for h in table[1].strip("┃").split("┃")]
    return table, [header]


@pytest.mark.parametrize(
    ("columns", "shown"),
    [
        (100, ["tier", "SLO", "USD/M input", "USD/M output", "USD/M total"]),
        (
            150,
            ["tier", "SLO", "status", "tok/s/GPU", "tok/s/user", "USD/M input", "USD/M output",
             "USD/M total"],
        ),
    ],
)  # fmt: skip
def test_quote_table_fits_the_terminal(columns: int, shown: list[str]) -> None:
    narrow = CliRunner(env={"COLUMNS": str(columns)})
    result = narrow.invoke(app, ["quote", *SWEEP, *PROBES], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    table, [header] = _table_rows_and_headers(result.output)
    assert header == shown
    assert max(len(line) for line in table) <= columns
    rows = [line for line in table if line.startswith("│")]
    assert [r.split("│")[1].strip() for r in rows] == ["interactive", "standard", "batch"]
    assert "0.01769" in rows[2]  # batch: $1.30 / (20,411 tok/s × 3600 / 1e6), one line
    assert "--wide shows them all" in result.output
    wide = narrow.invoke(app, ["quote", *SWEEP, *PROBES, "--wide"], catch_exceptions=False)
    assert _table_rows_and_headers(wide.output)[1][0][-1] == "note"  # all 20 columns


def test_compare_table_fits_and_verdicts_are_sentences() -> None:
    runs = [str(RUNS / "h100-sxm"), str(RUNS / "l40s")]
    narrow = CliRunner(env={"COLUMNS": "100"})
    result = narrow.invoke(
        app, ["compare", *runs, "--price-tier", "on-demand"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    table, [header] = _table_rows_and_headers(result.output)
    # four workloads (sweep, two probes, held-out mix): the workload column is kept
    assert header == ["workload", "tier", "rank", "SKU", "status", "USD/M total"]
    assert max(len(line) for line in table) <= 100
    assert len([line for line in table if line.startswith("│")]) == 4 * 3 * 2  # one line each
    one = narrow.invoke(app, ["compare", *SWEEP, *[r.replace("h100-sxm", "l40s") for r in SWEEP],
                              "--price-tier", "on-demand"], catch_exceptions=False)  # fmt: skip
    table, [header] = _table_rows_and_headers(one.output)
    assert header == ["tier", "rank", "SKU", "status", "price USD/GPU-hour", "USD/M total"]
    assert len([line for line in table if line.startswith("│")]) == 3 * 2
    verdicts = [line for line in result.output.splitlines() if line.startswith("- batch")]
    assert len(verdicts) == 4 and all("h100-sxm (high-end) is" in v for v in verdicts)
    as_json = narrow.invoke(
        app, ["compare", *runs, "--price-tier", "on-demand", "--format", "json"]
    )
    assert json.loads(as_json.output)["display"]["currency"] == "USD"
