"""Bodies of the `bench runs` commands (imported only when a command runs)."""

from __future__ import annotations

import csv
import json
import shutil
import sys
from collections import Counter
from pathlib import Path

import typer

from bench.errors import UserError
from bench.store.db import Store
from bench.store.ingest import import_dirs
from bench.store.query import list_table, make_filter
from bench.store.rundir import CorruptRun, is_run_dir, read_report

LIST_FORMATS = ("table", "md", "csv", "json", "xlsx")


def list_runs(
    store: Path | None,
    fmt: str,
    *,
    wide: bool = False,
    output: Path | None = None,
    **filters: str | None,
) -> None:
    """Print the filtered listing: a table that fits the terminal (every column with
    `wide`), or every field of each entry as Markdown, CSV, JSON or XLSX (to `output`).
    Unreadable rows go to stderr.

    Raises:
        UserError: an unknown format, xlsx without `output`, or a missing reports extra.
    """
    if fmt not in LIST_FORMATS:
        raise UserError(
            f"unknown format {fmt!r}", field="--format", fix=f"use {', '.join(LIST_FORMATS)}"
        )
    if fmt == "xlsx":
        from bench.extras import require

        if output is None:
            raise UserError("xlsx needs a file", field="--output", fix="give --output FILE.xlsx")
        require("openpyxl", "--format xlsx")
    with Store(store) as db:
        listing = db.list_runs(make_filter(**filters))
    for problem in listing.problems:
        typer.secho(f"warning: {problem}", fg=typer.colors.YELLOW, err=True)
    if fmt == "table":
        from bench.render.terminal import print_table

        columns, rows = list_table(listing.runs)
        more = "--wide shows them all; --format md|csv|json|xlsx has every field"
        print_table(f"{len(rows)} run(s)", columns, rows, wide=wide, more=more)
        return
    from bench.store.entry import RunEntry

    fields = list(RunEntry.model_fields)
    records = [e.model_dump(mode="json") for e in listing.runs]
    if fmt == "json":
        typer.echo(json.dumps(records, indent=1))
    elif fmt == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(fields)
        for r in records:
            writer.writerow(["" if r[f] is None else r[f] for f in fields])
    elif fmt == "md":
        typer.echo(_markdown(fields, records))
    else:
        assert output is not None
        _xlsx(fields, records, output)
        typer.echo(f"wrote {output}", err=True)


def _markdown(fields: list[str], records: list[dict[str, object]]) -> str:
    def cell(value: object) -> str:
        return "-" if value is None else str(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(fields) + " |", "|" + "---|" * len(fields)]
    lines += ["| " + " | ".join(cell(r[f]) for f in fields) + " |" for r in records]
    return "\n".join(lines)


def _xlsx(fields: list[str], records: list[dict[str, object]], path: Path) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "runs"
    ws.append(fields)
    for r in records:
        ws.append([r[f] for f in fields])
    wb.save(path)


def show_run(store: Path | None, run_id: str) -> None:
    """Print every field of a run's entry, then check its run directory."""
    with Store(store) as db:
        entry = db.get_run(run_id)
    if entry is None:
        raise UserError(
            f"no run {run_id!r} in the store",
            field="RUN_ID",
            fix="see `bench runs list` for registered ids",
        )
    width = max(len(k) for k in type(entry).model_fields)
    for key, value in entry.model_dump().items():
        typer.echo(f"{key:<{width}}  {'-' if value is None else value}")
    run_dir = Path(entry.run_dir)
    try:
        read_report(run_dir)
        typer.echo(f"{'run directory':<{width}}  ok")
    except CorruptRun as exc:
        typer.secho(
            f"{'run directory':<{width}}  unreadable: {exc.render()}", fg=typer.colors.YELLOW
        )


def list_sweeps(store: Path | None) -> None:
    """Print one line per registered sweep."""
    with Store(store) as db:
        sweeps = db.list_sweeps()
    for sw in sweeps:
        typer.echo(
            f"{sw.sweep_id}  {sw.created_utc}  {sw.sku}  {sw.model}  {sw.workload}  "
            f"{sw.points} point(s)  {sw.status}  {sw.sweep_dir}"
        )
    typer.echo(f"{len(sweeps)} sweep(s)")


def remove_run(store: Path | None, run_id: str, *, delete_files: bool) -> None:
    """Remove a run's entry, or a sweep's and its points'; with `delete_files`, also the
    directory (only when it is a run directory or a sweep directory)."""
    from bench.sweep.manifest import SWEEP_MANIFEST

    with Store(store) as db:
        entry = db.remove_run(run_id)
        sweep = db.remove_sweep(run_id) if entry is None else None
    if entry is not None:
        typer.echo(f"removed run {run_id} from the store")
        target, is_ours = Path(entry.run_dir), is_run_dir(Path(entry.run_dir))
    elif sweep is not None:
        typer.echo(f"removed sweep {run_id} and its {len(sweep[1])} point(s) from the store")
        target = Path(sweep[0].sweep_dir)
        is_ours = SWEEP_MANIFEST.exists(target)
    else:
        raise UserError(
            f"no run or sweep {run_id!r} in the store",
            field="RUN_ID",
            fix="see `bench runs list` and `bench runs sweeps` for registered ids",
        )
    if not delete_files:
        typer.echo(f"files kept: {target}")
    elif is_ours:
        shutil.rmtree(target)
        typer.echo(f"deleted {target}")
    else:
        typer.echo(f"not deleted: {target} is not a run or sweep directory")


def import_runs(store: Path | None, dirs: list[Path], *, copy: bool, replace: bool) -> None:
    """Import and print one line per directory plus a count per outcome."""
    outcomes = import_dirs(dirs, store, copy=copy, replace=replace)
    bad = {"corrupt", "conflict", "duplicate", "empty"}
    for o in outcomes:
        line = f"{o.outcome:<9} {o.run_id or '-'}  {o.path}: {o.message}"
        typer.secho(
            line, err=o.outcome in bad, fg=typer.colors.YELLOW if o.outcome in bad else None
        )
    counts = Counter(o.outcome for o in outcomes)
    typer.echo(", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "nothing to import")
