"""`bench runs ...` end to end through typer, on the imported two-SKU fixture set."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bench.errors import UserError
from bench.store.cli import app

FIXTURES = Path(__file__).parents[1] / "fixtures" / "runs_two_skus"
H100_C4 = "20260302T101500Z-h100-sxm-c4"
runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def store(tmp_path: Path) -> str:
    path = str(tmp_path / "index.sqlite")
    code, out, _ = run("import", str(FIXTURES), "--store", path)
    assert code == 0 and out.strip().endswith("6 added")
    return path


def _json_ids(out: str) -> list[str]:
    return [row["run_id"] for row in json.loads(out)]


def test_filtered_listings(store: str) -> None:
    _, out, _ = run("list", "--store", store, "--sku", "h200-sxm", "--format", "json")
    assert _json_ids(out) == [
        "20260305T091500Z-h200-sxm-c1",
        "20260305T101500Z-h200-sxm-c4",
        "20260305T111500Z-h200-sxm-c8",
    ]
    _, out, _ = run("list", "--store", store, "--until", "2026-03-02", "--format", "csv")
    lines = out.strip().splitlines()
    assert lines[0].startswith("run_id,status,sweep_id,created_utc,sku,model,workload")
    assert [line.split(",")[0] for line in lines[1:]] == [
        "20260302T091500Z-h100-sxm-c1",
        H100_C4,
        "20260302T111500Z-h100-sxm-c8",
    ]
    args = ("--model", "meta-llama/*", "--workload", "shape-1024x32", "--since", "2026-03-05")
    _, out, _ = run("list", "--store", store, *args)
    assert "3 run(s)" in out and "h200-sxm" in out and "h100-sxm" not in out
    assert "(est.)" in out  # the h200 costs used estimated power


def test_store_from_the_environment(
    store: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TOKENBENCH_STORE", store)
    monkeypatch.chdir(tmp_path)
    _, out, _ = run("list", "--format", "json")
    assert len(_json_ids(out)) == 6
    assert not (tmp_path / "reports").exists()  # the default path was not used


def test_show_reports_a_run_dir_that_went_bad(store: str, tmp_path: Path) -> None:
    fleet = tmp_path / "fleet"
    shutil.copytree(FIXTURES / H100_C4, fleet / H100_C4)
    other = str(tmp_path / "other.sqlite")
    run("import", str(fleet), "--store", other)
    _, out, _ = run("show", H100_C4, "--store", other)
    assert "sku" in out and "h100-sxm" in out and out.strip().endswith("ok")
    (fleet / H100_C4 / "report.json").write_text("{")
    _, out, _ = run("show", H100_C4, "--store", other)
    assert "unreadable" in out
    _, out, _ = run("list", "--store", other)  # listing never reads run dirs: still fine
    assert "1 run(s)" in out


def test_rm_keeps_files_unless_asked(tmp_path: Path) -> None:
    store = str(tmp_path / "s" / "index.sqlite")
    run("import", str(FIXTURES), "--store", store, "--copy")
    copied = tmp_path / "s" / "runs" / H100_C4
    _, out, _ = run("rm", H100_C4, "--store", store)
    assert "files kept" in out and copied.is_dir()
    run("import", str(copied), "--store", store)
    _, out, _ = run("rm", H100_C4, "--store", store, "--delete-files")
    assert f"deleted {copied}" in out and not copied.exists()
    with pytest.raises(UserError, match="no run or sweep"):
        run("rm", H100_C4, "--store", store)


def test_import_reports_corrupt_dirs_and_goes_on(tmp_path: Path) -> None:
    fleet = tmp_path / "fleet"
    shutil.copytree(FIXTURES, fleet, ignore=shutil.ignore_patterns("*.py"))
    (fleet / H100_C4 / "report.json").write_text("garbage")
    code, out, err = run("import", str(fleet), "--store", str(tmp_path / "i.sqlite"))
    assert code == 0
    assert out.strip().endswith("5 added, 1 corrupt")
    assert f"corrupt   -  {fleet / H100_C4}" in err


def test_bad_date_is_a_user_error(store: str) -> None:
    with pytest.raises(UserError) as err:
        run("list", "--store", store, "--since", "yesterday")
    assert err.value.field == "--since"


def _table_lines(out: str) -> list[str]:
    """The lines of the printed table (its borders and rows), not the title or note."""
    return [line for line in out.splitlines() if line[:1] in "┏┃┡│└"]


def _headers(out: str) -> list[str]:
    head = next(line for line in out.splitlines() if line.startswith("┃"))
    return [h.strip() for h in head.strip("┃").split("┃")]


@pytest.mark.parametrize(
    ("columns", "shown"),
    [
        (100, ["run id", "sku", "load", "status", "out tok/s/GPU", "cost/M out"]),
        (
            150,
            ["run id", "sku", "workload", "load", "status", "TPOT p50 (ms)", "out tok/s/GPU",
             "cost/M out"],
        ),
    ],
)  # fmt: skip
def test_list_fits_the_terminal_without_wrapping_a_cell(
    store: str, monkeypatch: pytest.MonkeyPatch, columns: int, shown: list[str]
) -> None:
    monkeypatch.setenv("COLUMNS", str(columns))
    _, out, _ = run("list", "--store", store)
    lines = _table_lines(out)
    assert lines and max(len(line) for line in lines) <= columns
    assert _headers(out) == shown
    rows = [line for line in lines if line.startswith("│")]
    assert len(rows) == 6  # one line per run: no cell wrapped onto a second line
    c8 = next(r for r in rows if "20260305T111500Z-h200-sxm-c8" in r)
    assert "2.732 USD (est.)" in c8 and "443.5" in c8
    from bench.store.query import LIST_COLUMNS

    hidden = [h for h, *_ in LIST_COLUMNS if h not in shown]
    assert f"more column(s): {', '.join(hidden)}" in " ".join(out.split())
    assert "--wide" in out


def test_list_wide_shows_every_column_and_files_every_field(
    store: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from openpyxl import load_workbook

    from bench.store.entry import RunEntry
    from bench.store.query import LIST_COLUMNS

    monkeypatch.setenv("COLUMNS", "100")
    _, out, _ = run("list", "--store", store, "--wide")
    assert _headers(out) == [h for h, *_ in LIST_COLUMNS] and "more column" not in out
    assert len([line for line in _table_lines(out) if line.startswith("│")]) == 6
    _, md, _ = run("list", "--store", store, "--format", "md")
    assert md.splitlines()[0] == "| " + " | ".join(RunEntry.model_fields) + " |"
    assert len(md.strip().splitlines()) == 2 + 6
    xlsx = tmp_path / "runs.xlsx"
    run("list", "--store", store, "--format", "xlsx", "--output", str(xlsx))
    sheet = load_workbook(xlsx)["runs"]
    assert [c.value for c in sheet[1]] == list(RunEntry.model_fields) and sheet.max_row == 7
    with pytest.raises(UserError) as err:
        run("list", "--store", store, "--format", "xlsx")
    assert err.value.field == "--output"
