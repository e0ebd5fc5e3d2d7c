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
from bench.store.query import list_rows, make_filter
from bench.store.rundir import CorruptRun, is_run_dir, read_report


def list_runs(store: Path | None, fmt: str, **filters: str | None) -> None:
    """Print the filtered listing as a table, CSV or JSON; unreadable rows go to stderr."""
    if fmt not in ("table", "csv", "json"):
        raise UserError(f"unknown format {fmt!r}", field="--format", fix="use table, csv or json")
    with Store(store) as db:
        listing = db.list_runs(make_filter(**filters))
    for problem in listing.problems:
        typer.secho(f"warning: {problem}", fg=typer.colors.YELLOW, err=True)
    if fmt == "json":
        typer.echo(json.dumps([e.model_dump(mode="json") for e in listing.runs], indent=1))
        return
    if fmt == "csv":
        from bench.store.entry import RunEntry

        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(list(RunEntry.model_fields))
        for e in listing.runs:
            writer.writerow(["" if v is None else v for v in e.model_dump().values()])
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    headers, rows = list_rows(listing.runs)
    table = Table(title=f"{len(rows)} run(s)")
    for header in headers:
        table.add_column(header, no_wrap=True)
    for row in rows:
        # Text cells print literally: rich markup such as [red] in a model name is not parsed
        table.add_row(*[Text(c) for c in row])
    # piped output is not cut to 80 columns
    Console(width=None if sys.stdout.isatty() else 250).print(table)


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
    from bench.sweep.manifest import MANIFEST_NAME

    with Store(store) as db:
        entry = db.remove_run(run_id)
        sweep = db.remove_sweep(run_id) if entry is None else None
    if entry is not None:
        typer.echo(f"removed run {run_id} from the store")
        target, is_ours = Path(entry.run_dir), is_run_dir(Path(entry.run_dir))
    elif sweep is not None:
        typer.echo(f"removed sweep {run_id} and its {len(sweep[1])} point(s) from the store")
        target = Path(sweep[0].sweep_dir)
        is_ours = (target / MANIFEST_NAME).is_file()
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
