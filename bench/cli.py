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
from typing import NoReturn

import typer

from bench.errors import Interrupted, RunFailed, UserError

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


def _interrupted(exc: BaseException) -> NoReturn:
    """Exit 128 + the signal's number (130 for Ctrl-C), saying where partial results are."""
    signum = getattr(exc, "signum", signal.SIGINT)
    run_dir = getattr(exc, "run_dir", None)
    where = f"; partial results in {run_dir}" if run_dir else ""
    typer.secho(f"interrupted ({signal.Signals(signum).name}){where}", err=True)
    sys.exit(128 + signum)


def main() -> None:
    """Console entry point. Exit codes: 0 done (a run complete), 1 a run partial or failed,
    2 bad input (one message naming file, field and fix, no traceback), 128 + signal
    number when SIGINT (130), SIGTERM (143) or SIGHUP (129) stopped it."""
    from bench import signals

    try:
        signals.install()
        _register_groups()
        code = app(standalone_mode=False)  # a command's typer.Exit(code) comes back here,
        if isinstance(code, int) and code:  # and so does an interrupt, as 130
            if code == 130 and Interrupted.last is not None:
                _interrupted(Interrupted.last)
            sys.exit(code)
    except UserError as exc:
        typer.secho(f"error: {exc.render()}", fg=typer.colors.RED, err=True)
        sys.exit(2)
    except RunFailed as exc:
        where = f" (partial results in {exc.run_dir})" if exc.run_dir else ""
        typer.secho(f"error: {exc}{where}", fg=typer.colors.RED, err=True)
        sys.exit(1)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort as exc:  # click turns a KeyboardInterrupt into Abort
        _interrupted(exc.__cause__ or exc.__context__ or exc)
    except KeyboardInterrupt as exc:
        _interrupted(exc)
    except Exception as exc:  # click usage errors arrive as ClickException subclasses
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise
