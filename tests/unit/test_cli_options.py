"""Options declared once (the cost options of quote, compare and run) and renamed options:
the old names still work for one release, hidden from --help, with a note on stderr."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import pytest
import typer
from typer.main import get_command
from typer.testing import CliRunner

from bench.cli_options import Opt, renamed, with_options
from bench.errors import UserError

runner = CliRunner()


class Captured(Exception):
    """Raised by a stand-in for a command's work, carrying what the command built."""

    def __init__(self, **seen: Any) -> None:
        super().__init__("captured")
        self.seen = seen


def _bench() -> Any:
    from bench.cli import _register_groups, app

    _register_groups()
    return get_command(app)


def _options(command: Any) -> dict[str, bool]:
    """Every long option name of a click command → hidden?"""
    return {
        name: p.hidden
        for p in command.params
        if type(p).__name__.endswith("Option")
        for name in [*p.opts, *p.secondary_opts]
        if name.startswith("--")
    }


def test_a_block_of_options_reaches_the_command_as_one_value() -> None:
    app = typer.Typer(add_completion=False)
    block = {
        "width": Opt(Annotated[int, typer.Option(help="w")], 3),
        "height": Opt(Annotated[int, typer.Option(help="h")], 4),
    }

    @app.command()
    @with_options(block, into="area", build=lambda v: v["width"] * v["height"])
    def show(label: str = "x", *, area: int) -> None:
        typer.echo(f"{label}={area}")

    assert runner.invoke(app, []).output == "x=12\n"
    assert runner.invoke(app, ["--width", "5", "--label", "y"]).output == "y=20\n"
    with pytest.raises(TypeError, match="width"):
        with_options(block, into="area", build=sum)(lambda width, area: None)


def test_an_old_name_feeds_the_new_one_and_is_hidden() -> None:
    app = typer.Typer(add_completion=False)

    @app.command()
    @renamed({"timeout": "timeout_s"})
    def wait(timeout_s: Annotated[float, typer.Option(help="seconds")] = 600.0) -> None:
        typer.echo(f"{timeout_s:g}")

    assert runner.invoke(app, ["--timeout-s", "30"]).output == "30\n"
    old = runner.invoke(app, ["--timeout", "30"])
    assert (old.exit_code, old.stdout) == (0, "30\n")
    assert old.stderr == "note: --timeout is now --timeout-s\n"
    assert _options(get_command(app)) == {"--timeout-s": False, "--timeout": True}
    both = runner.invoke(app, ["--timeout-s", "20", "--timeout", "30"])
    assert isinstance(both.exception, UserError)
    assert both.exception.field == "--timeout-s"
    assert "--timeout is the old name of --timeout-s" in both.exception.message


def test_quote_compare_and_run_take_the_same_cost_options() -> None:
    from bench.cost.cli import COST_OPTIONS

    bench = _bench()
    panels = {
        name: {
            flag
            for p in bench.commands[name].params
            if getattr(p, "rich_help_panel", None) == "Cost"
            for flag in [*p.opts, *p.secondary_opts]
        }
        for name in ("quote", "compare", "run")
    }
    expected = {"--" + name.replace("_", "-") for name in COST_OPTIONS} | {"--rent-excludes-power"}
    assert panels == {"quote": expected, "compare": expected, "run": expected}
    assert len(expected) == 18  # 16 assumptions, the YAML they override, the power flag's "no"


def _run_with(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, *args: str) -> dict[str, Any]:
    """`bench run` against an endpoint up to the point the run would start: the config and
    cost assumptions it built (nothing is sent)."""

    def capture(config: Any, assumptions: Any, execute: Any) -> None:
        raise Captured(config=config, assumptions=assumptions)

    monkeypatch.setattr("bench.cli_progress.run_with_progress", capture)
    argv = ["run", "--endpoint", "http://127.0.0.1:9", "--out", str(tmp_path / "r"), *args]
    with pytest.raises(Captured) as got:
        _bench()(argv, standalone_mode=False)
    return got.value.seen


def test_bench_run_old_names_reach_the_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = _run_with(
        monkeypatch, tmp_path, "--duration", "5", "--timeout", "30",
        "--cost-basis", "rent", "--price-per-gpu-hour", "2.5",
    )  # fmt: skip
    new = _run_with(
        monkeypatch, tmp_path, "--duration-s", "5", "--timeout-s", "30",
        "--basis", "rent", "--rent-price-per-gpu-hour", "2.5",
    )  # fmt: skip
    for seen in (old, new):
        assert (seen["config"].duration_s, seen["config"].request_timeout_s) == (5.0, 30.0)
        a = seen["assumptions"]
        assert (a.basis, a.rent_price_per_gpu_hour) == ("rent", 2.5)
    notes = capsys.readouterr().err
    for old_flag, new_flag in [
        ("--duration", "--duration-s"),
        ("--timeout", "--timeout-s"),
        ("--cost-basis", "--basis"),
        ("--price-per-gpu-hour", "--rent-price-per-gpu-hour"),
    ]:
        assert f"note: {old_flag} is now {new_flag}" in notes
        assert _options(_bench().commands["run"])[old_flag] is True


def test_bench_run_takes_every_cost_option(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    seen = _run_with(monkeypatch, tmp_path, "--pue", "1.5", "--margin", "0.3", "--currency", "CNY",
                     "--fx-cny-per-usd", "7.2")  # fmt: skip
    a = seen["assumptions"]
    assert (a.pue, a.margin, a.currency, a.fx_cny_per_usd) == (1.5, 0.3, "CNY", 7.2)


def test_energy_measure_seconds_is_duration_s() -> None:
    from bench.energy.cli import app

    result = runner.invoke(app, ["measure", "--seconds", "0.1", "--meter", "none"])
    assert result.exit_code == 0, result.output
    assert result.stderr == "note: --seconds is now --duration-s\n"
    assert _options(get_command(app).commands["measure"])["--seconds"] is True


@pytest.mark.parametrize("command", ["run", "accept"])
def test_fleet_node_timeout_is_node_timeout_s(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, command: str
) -> None:
    from bench.fleet.cli import app

    def capture(job: Any, selection: Any, **kwargs: Any) -> None:
        raise Captured(**kwargs)

    monkeypatch.setattr("bench.fleet.cli_impl.fleet_command", capture)
    argv = [command, "--resume", str(tmp_path), "--node-timeout", "90"]
    with pytest.raises(Captured) as got:
        get_command(app)(argv, standalone_mode=False)
    assert got.value.seen["node_timeout_s"] == 90.0
    assert _options(get_command(app).commands[command])["--node-timeout"] is True


@pytest.mark.parametrize(
    ("command", "extra", "work"),
    [
        ("run", ["--loads", "1,2"], "bench.sweep.run.run_sweep"),
        ("search", ["--slo", "ttft_s:p90:2"], "bench.sweep.run.run_slo_search"),
    ],
)
def test_sweep_run_and_search_build_their_points_from_one_block(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, command: str, extra: list[str], work: str
) -> None:
    from bench.sweep.cli import POINT_OPTIONS, app

    def capture(base: Any, *args: Any, **kwargs: Any) -> None:
        raise Captured(base=base)

    monkeypatch.setattr(work, capture)
    cli = get_command(app)
    common = ["--out", str(tmp_path), "--model", "tiny-llama", "--input-tokens", "600",
              "--range-ratio", "0.5", "--warmup", "2", *extra]  # fmt: skip
    bases = []
    for bound in ([], ["--duration-s", "5"]):
        with pytest.raises(Captured) as got:
            cli([command, *common, *bound], standalone_mode=False)
        bases.append(got.value.seen["base"])
    counted, timed = bases
    assert (counted.workload.input_tokens, counted.workload.range_ratio) == (600, 0.5)
    assert (counted.warmup_requests, counted.num_requests, counted.duration_s) == (2, 100, None)
    assert (timed.num_requests, timed.duration_s) == (None, 5.0)
    block = {"--" + name.replace("_", "-") for name in POINT_OPTIONS}
    assert block <= set(_options(cli.commands[command]))
