"""`bench report`: summary.md for a run, HTML and exports on request, comparisons."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.main import get_command

from bench.errors import UserError
from bench.render.cli import app

FIXTURES = Path(__file__).parents[1] / "fixtures" / "runs_two_skus"
RUN = "20260305T101500Z-h200-sxm-c4"


def bench_report(*args: str) -> None:
    get_command(app)(list(args), standalone_mode=False)


@pytest.fixture
def run(tmp_path: Path) -> Path:
    dest = tmp_path / RUN
    shutil.copytree(FIXTURES / RUN, dest)
    return dest


def test_a_run_gets_summary_md_and_only_what_was_asked(
    run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bench_report(str(run))
    assert sorted(p.name for p in run.iterdir()) == ["report.json", "requests.jsonl", "summary.md"]
    assert "# tokenbench run 20260305T101500Z-h200-sxm-c4" in (run / "summary.md").read_text()
    bench_report(str(run), "--format", "csv,parquet")
    assert (run / "requests.parquet").is_file() and (run / "tables" / "runs.csv").is_file()
    assert not (run / "report.html").exists()
    bench_report(str(run), "--html")
    html = (run / "report.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and "Run 20260305T101500Z-h200-sxm-c4" in html
    assert f"wrote {run / 'report.html'}" in capsys.readouterr().out


def test_several_runs_make_an_html_comparison(tmp_path: Path) -> None:
    fleet = tmp_path / "fleet"
    shutil.copytree(FIXTURES, fleet, ignore=shutil.ignore_patterns("*.py"))
    (fleet / RUN / "report.json").write_text("{}")
    out = tmp_path / "out"
    bench_report(str(fleet), "--out", str(out))
    assert sorted(p.name for p in out.iterdir()) == ["report.html"]
    html = (out / "report.html").read_text()
    assert "Comparison of 5 runs" in html
    assert "skipped (unreadable):" in html and RUN in html


def test_unknown_format_and_missing_path_are_user_errors(run: Path, tmp_path: Path) -> None:
    with pytest.raises(UserError) as err:
        bench_report(str(run), "--format", "pdf")
    assert err.value.field == "--format" and "html, md, csv, parquet" in (err.value.fix or "")
    with pytest.raises(UserError, match="not found"):
        bench_report(str(tmp_path / "nope"), "--html")
