"""`bench runs list|show|rm|import|export`: the results store from the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

app = typer.Typer(
    help="The results store (reports/index.sqlite): list, show, remove and import runs.",
    no_args_is_help=True,
)

StoreOpt = Annotated[
    Path | None,
    typer.Option(
        "--store",
        help="store file (default: $TOKENBENCH_STORE, else reports/index.sqlite)",
        show_default=False,
    ),
]


SkuOpt = Annotated[str | None, typer.Option(help="hardware SKU (glob * ? allowed)")]
ModelOpt = Annotated[str | None, typer.Option(help="model id (glob allowed)")]
WorkloadOpt = Annotated[str | None, typer.Option(help="workload name (glob allowed)")]
StatusOpt = Annotated[str | None, typer.Option(help="complete, partial or failed")]
SweepOpt = Annotated[str | None, typer.Option(help="only the points of this sweep id")]
SinceOpt = Annotated[str | None, typer.Option(help="created on/after (YYYY-MM-DD or ISO)")]
UntilOpt = Annotated[str | None, typer.Option(help="created on/before (YYYY-MM-DD or ISO)")]


@app.command("list")
def list_cmd(
    sku: SkuOpt = None,
    model: ModelOpt = None,
    workload: WorkloadOpt = None,
    status: StatusOpt = None,
    sweep: SweepOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    fmt: Annotated[
        str, typer.Option("--format", help="table (fits the terminal), md, csv, json or xlsx")
    ] = "table",
    wide: Annotated[bool, typer.Option("--wide", help="every column of the table")] = False,
    output: Annotated[Path | None, typer.Option(help="write here (required for xlsx)")] = None,
    store: StoreOpt = None,
) -> None:
    """List registered runs, oldest first: the columns that fit the terminal, --wide for
    all, --format md|csv|json|xlsx for every field."""
    from bench.store.cli_impl import list_runs

    list_runs(
        store,
        fmt,
        wide=wide,
        output=output,
        sku=sku,
        model=model,
        workload=workload,
        status=status,
        sweep=sweep,
        since=since,
        until=until,
    )


@app.command("sweeps")
def sweeps_cmd(store: StoreOpt = None) -> None:
    """List registered sweeps (see their points with `bench runs list --sweep ID`)."""
    from bench.store.cli_impl import list_sweeps

    list_sweeps(store)


@app.command("show")
def show_cmd(run_id: str, store: StoreOpt = None) -> None:
    """Show one run's entry and whether its run directory is still readable."""
    from bench.store.cli_impl import show_run

    show_run(store, run_id)


@app.command("rm")
def rm_cmd(
    run_id: str,
    delete_files: Annotated[
        bool, typer.Option("--delete-files", help="also delete the run (or sweep) directory")
    ] = False,
    store: StoreOpt = None,
) -> None:
    """Remove a run's (or a sweep's, with its points) entry; files stay unless --delete-files."""
    from bench.store.cli_impl import remove_run

    remove_run(store, run_id, delete_files=delete_files)


@app.command("import")
def import_cmd(
    dirs: Annotated[list[Path], typer.Argument(help="run directories, or folders holding them")],
    copy: Annotated[
        bool, typer.Option("--copy", help="copy runs into <store dir>/runs/ (default: reference)")
    ] = False,
    replace: Annotated[
        bool, typer.Option("--replace", help="take these runs over different ones with the same id")
    ] = False,
    store: StoreOpt = None,
) -> None:
    """Register run directories made elsewhere; corrupt ones are reported and skipped."""
    from bench.store.cli_impl import import_runs

    import_runs(store, dirs, copy=copy, replace=replace)


@app.command("export")
def export_cmd(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="run directories or folders of them (default: the store's runs)"),
    ] = None,
    fmt: Annotated[
        Literal["parquet", "csv"], typer.Option("--format", help="parquet or csv")
    ] = "parquet",
    out: Annotated[
        Path, typer.Option(help="folder for runs.<format> and requests.<format>")
    ] = Path("reports/export"),
    sku: SkuOpt = None,
    model: ModelOpt = None,
    workload: WorkloadOpt = None,
    status: StatusOpt = None,
    sweep: SweepOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    store: StoreOpt = None,
) -> None:
    """Export runs (one row each) and their requests (one row each) as Parquet or CSV, from
    run directories or from the store (filters apply to the store's runs)."""
    from bench.analysis.export import export_frames
    from bench.errors import UserError
    from bench.store.db import Store
    from bench.store.query import make_filter

    if fmt == "parquet":
        from bench.extras import require

        require("pyarrow", "--format parquet")
    given = dict(sku=sku, model=model, workload=workload, status=status, sweep=sweep,
                 since=since, until=until)  # fmt: skip
    filters = make_filter(**given)
    if paths:
        used = [f"--{name}" for name, value in given.items() if value is not None]
        if used:
            raise UserError(
                f"{', '.join(used)} select runs of the store, not of the paths given",
                field=used[0],
                fix="give only the run directories you want, or leave out the paths",
            )
        written = export_frames(paths, out, fmt)
    else:
        with Store(store) as db:
            written = export_frames(db, out, fmt, filters)
    for path in written:
        typer.echo(f"wrote {path}")
