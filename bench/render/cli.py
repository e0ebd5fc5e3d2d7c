"""`bench report PATH... [--html] [--format md,csv,parquet]`: re-render stored runs.

Register the function, not a group, so the paths stay positional:
`app.command("report")(bench.render.cli.report)` in `bench/cli.py`. `app` here holds the
same command for standalone use and tests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Render stored runs to HTML, Markdown, CSV and Parquet.")


@app.command("report")
def report(
    paths: Annotated[
        list[Path], typer.Argument(help="a run directory, a sweep directory, or several runs")
    ],
    html: Annotated[
        bool, typer.Option("--html", help="write report.html (self-contained, plots inline)")
    ] = False,
    fmt: Annotated[
        str | None,
        typer.Option("--format", help="comma-separated: html, md, csv, parquet"),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="output folder (default: the run or sweep folder; "
            "reports/compare-<time> for several runs)"
        ),
    ] = None,
) -> None:
    """Re-render stored runs; needs no GPU and no server.

    One run directory: always rewrites its summary.md; --html and --format add the rest.
    A sweep directory or several runs: an HTML comparison unless --format says otherwise.
    """
    from bench.errors import UserError
    from bench.render.report import FORMATS, write_report
    from bench.store.rundir import is_run_dir

    formats = {f.strip() for f in (fmt or "").split(",") if f.strip()}
    unknown = formats - set(FORMATS)
    if unknown:
        raise UserError(
            f"unknown format(s) {', '.join(sorted(unknown))}",
            field="--format",
            fix=f"choose from {', '.join(FORMATS)}",
        )
    if html:
        formats.add("html")
    single_run = len(paths) == 1 and is_run_dir(paths[0])
    if not single_run and not formats:
        formats = {"html"}
    _require_extras(formats)
    if single_run:
        from bench.report.io import REPORT, SUMMARY, read_report_file, write_atomic
        from bench.report.summary import render_summary

        run, migrated_from = read_report_file(paths[0] / REPORT)
        _say_migrated(paths[0], migrated_from)
        write_atomic(paths[0] / SUMMARY, render_summary(run))
        typer.echo(f"wrote {paths[0] / SUMMARY}")
    if not formats:
        return
    selection, written = write_report(paths, [f for f in FORMATS if f in formats], out)
    if not single_run:
        for bundle in selection.runs:
            _say_migrated(bundle.run_dir, bundle.migrated_from)
    for problem in selection.skipped:
        typer.secho(f"skipped: {problem}", fg=typer.colors.YELLOW, err=True)
    for path in written:
        typer.echo(f"wrote {path}")


def _say_migrated(run_dir: Path, migrated_from: int | None) -> None:
    """Tell the person a run's report was read from an older schema (stderr)."""
    from bench.report.io import migrated_note

    note = migrated_note(migrated_from)
    if note is not None:
        typer.secho(f"note: {run_dir}: report {note}", fg=typer.colors.YELLOW, err=True)


def _require_extras(formats: set[str]) -> None:
    """The optional packages the formats need (the `reports` extra), before any work."""
    from bench.extras import require

    if "html" in formats:
        require("plotly", "the HTML report")
    if "parquet" in formats:
        require("pyarrow", "--format parquet")
