"""The `bench` command line.

Keep imports here minimal: this module is read for every invocation, including `--help`.
Command bodies import their implementation lazily, so vLLM, torch and NVML are loaded only
by the commands that need them. Sub-command groups live beside their implementation
(`bench/<area>/cli.py`, each a `typer.Typer`) and are registered in `_GROUPS`.
"""

from __future__ import annotations

import importlib
import signal
import sys

import typer

from bench.errors import RunFailed, UserError

app = typer.Typer(
    name="bench",
    help="tokenbench: benchmark vLLM on a GPU SKU and turn it into cost per token.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# name -> (module path of a typer.Typer named `app`, help text); imported at start-up only
# for these light modules, which must not import vLLM, torch or NVML at module level.
_GROUPS: dict[str, str] = {
    "energy": "bench.energy.cli",
    "synth": "bench.synth.cli",
    "runs": "bench.store.cli",
    "sweep": "bench.sweep.cli",
    "hardware": "bench.hardware.cli",
    "fleet": "bench.fleet.cli",
    "workloads": "bench.workloads.cli",
}


def _register_foundation() -> None:
    from bench import cli_run

    app.command("run")(cli_run.run)
    app.command("validate")(cli_run.validate)
    from bench.accept import cli as accept_cli
    from bench.calibrate import cli as calibrate_cli
    from bench.render import cli as render_cli

    app.command("report")(render_cli.report)
    app.command("probe")(accept_cli.probe)
    app.command("accept")(accept_cli.accept)
    app.command("calibrate")(calibrate_cli.calibrate)
    # `bench quote` and `bench compare` are top-level commands of the cost group
    app.add_typer(importlib.import_module("bench.cost.cli").app)
    app.add_typer(cli_run.models_app, name="models")


def _register_groups() -> None:
    _register_foundation()
    for name, module_path in _GROUPS.items():
        module = importlib.import_module(module_path)
        app.add_typer(module.app, name=name)


def _terminate(signum: int, frame: object) -> None:
    """SIGTERM behaves like Ctrl-C: runs stop cleanly and managed servers are torn down."""
    raise KeyboardInterrupt


def main() -> None:
    """Console entry point: user errors print one message and exit 2, without traceback."""
    _register_groups()
    signal.signal(signal.SIGTERM, _terminate)
    try:
        app(standalone_mode=False)
    except UserError as exc:
        typer.secho(f"error: {exc.render()}", fg=typer.colors.RED, err=True)
        sys.exit(2)
    except RunFailed as exc:
        where = f" (partial results in {exc.run_dir})" if exc.run_dir else ""
        typer.secho(f"error: {exc}{where}", fg=typer.colors.RED, err=True)
        sys.exit(1)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        typer.secho("aborted", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        typer.secho("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # click usage errors arrive as ClickException subclasses
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise
