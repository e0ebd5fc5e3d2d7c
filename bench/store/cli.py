"""`bench runs list|show|rm|import`: the results store from the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

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


@app.command("list")
def list_cmd(
    sku: Annotated[str | None, typer.Option(help="hardware SKU (glob * ? allowed)")] = None,
    model: Annotated[str | None, typer.Option(help="model id (glob allowed)")] = None,
    workload: Annotated[str | None, typer.Option(help="workload name (glob allowed)")] = None,
    status: Annotated[str | None, typer.Option(help="complete, partial or failed")] = None,
    sweep: Annotated[str | None, typer.Option(help="only the points of this sweep id")] = None,
    since: Annotated[str | None, typer.Option(help="created on/after (YYYY-MM-DD or ISO)")] = None,
    until: Annotated[str | None, typer.Option(help="created on/before (YYYY-MM-DD or ISO)")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, csv or json")] = "table",
    store: StoreOpt = None,
) -> None:
    """List registered runs, oldest first."""
    from bench.store.cli_impl import list_runs

    list_runs(
        store,
        fmt,
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
