"""`bench sweep run|search|show`: load ladders and SLO searches on one server start, and the
operating point read from a stored sweep.

Module-level imports stay light (typer, pathlib, typing); implementations load inside commands.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bench.cli_options import Opt, with_options

if TYPE_CHECKING:
    from bench.config.run import RunConfig
    from bench.sweep.run import SweepReport
    from bench.sweep.slo import SweepSLO

app = typer.Typer(
    help="Sweeps: throughput-vs-interactivity curves, SLO search, operating points.",
    no_args_is_help=True,
)

SLOOpt = Annotated[
    list[str] | None,
    typer.Option("--slo", help="bound METRIC:STAT:LIMIT, e.g. ttft_s:p90:2 (repeat)"),
]


def _point(kind: Any, help: str, default: Any = None, *names: str, **limits: Any) -> Opt:
    return Opt(Annotated[kind, typer.Option(*names, help=help, **limits)], default)


# what each point of a sweep or a search runs: one block for both commands
POINT_OPTIONS: dict[str, Opt] = {
    "out": _point(Path, "sweep folder (one run dir per point)", inspect.Parameter.empty),
    "model": _point(str | None, "model id from models.yaml"),
    "input_tokens": _point(int, "prompt tokens per request", 128, min=1),
    "output_tokens": _point(int, "output tokens per request (ignore_eos)", 64, min=1),
    "range_ratio": _point(float, "lengths uniform in L·(1±r)", 0.0, min=0, max=0.99),
    "load_kind": _point(str, "concurrency or rate (requests/s)", "concurrency"),
    "num_requests": _point(int | None, "requests per point (default 100)", None, min=1),
    "duration_s": _point(float | None, "seconds per point", None, min=0.001),
    "warmup": _point(int, "warm-up requests per point (not measured)", 0, min=0),
    "hardware": _point(str, "hardware profile (hardware/<sku>.yaml)", "cpu-local"),
    "gpus": _point(int | None, "GPUs used (default: tp × pp × dp)", None, min=1),
    "endpoint": _point(str | None, "benchmark this OpenAI-compatible URL"),
    "api_key_env": _point(str | None, "environment variable holding the API key"),
    "engine_arg": _point(
        list[str] | None, "extra `vllm serve` argument (repeat)", None, "--engine-arg"
    ),
    "run_config": _point(
        Path | None, "YAML RunConfig to start from (its output_dir is --out)", None, "--run-config"
    ),
    "resume": _point(bool, "resume the sweep in --out from its manifest", False),
}


@dataclass(frozen=True)
class PointOptions:
    """The values of `POINT_OPTIONS` as a command received them."""

    out: Path
    model: str | None
    input_tokens: int
    output_tokens: int
    range_ratio: float
    load_kind: str
    num_requests: int | None
    duration_s: float | None
    warmup: int
    hardware: str
    gpus: int | None
    endpoint: str | None
    api_key_env: str | None
    engine_arg: list[str] | None
    run_config: Path | None
    resume: bool


with_point_options = with_options(
    POINT_OPTIONS, into="point", build=lambda values: PointOptions(**values)
)


def _base_config(point: PointOptions, num_requests: int | None) -> RunConfig:
    """The run every point starts from: `--run-config` with its output folder set to
    `--out`, else one built from the options; `num_requests` replaces `--num-requests`."""
    from bench.config.loading import read_yaml, validate_data
    from bench.config.run import RunConfig
    from bench.errors import UserError

    out = point.out
    if point.run_config is not None:
        data = read_yaml(point.run_config)
        if not isinstance(data, dict):
            raise UserError("expected a mapping", file=point.run_config, fix="write a RunConfig")
        return validate_data(RunConfig, {**data, "output_dir": str(out)}, point.run_config)
    if point.model is None:
        raise UserError("no model", field="--model", fix="give --model or --run-config")
    if point.load_kind not in ("concurrency", "rate"):
        raise UserError(f"unknown load kind {point.load_kind!r}", field="--load-kind",
                        fix="concurrency or rate")  # fmt: skip
    load = {"kind": "concurrency", "concurrency": 1} if point.load_kind == "concurrency" else {
        "kind": "rate", "rate_per_s": 1.0}  # fmt: skip
    engine = (
        {"kind": "endpoint", "url": point.endpoint, "api_key_env": point.api_key_env}
        if point.endpoint
        else {"kind": "managed", "extra_args": list(point.engine_arg or [])}
    )
    data = {
        "model": point.model,
        "workload": {
            "kind": "shape",
            "input_tokens": point.input_tokens,
            "output_tokens": point.output_tokens,
            "range_ratio": point.range_ratio,
        },
        "load": load,
        "engine": engine,
        "num_requests": num_requests,
        "duration_s": point.duration_s,
        "warmup_requests": point.warmup,
        "hardware": point.hardware,
        "gpus": point.gpus,
        "output_dir": str(out),
    }
    return validate_data(RunConfig, data, "command line")


def _parse_loads(text: str) -> list[float]:
    from bench.errors import UserError

    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise UserError(f"cannot read load levels {text!r}", field="--loads",
                        fix="comma-separated numbers, e.g. 1,2,4,8") from None  # fmt: skip


def _default_requests(duration_s: float | None, per_c: int | None, load_kind: str) -> int | None:
    """100 requests per point unless a duration or K × C requests bound each point."""
    from bench.errors import UserError

    if per_c is not None and load_kind != "concurrency":
        raise UserError("--requests-per-concurrency needs --load-kind concurrency",
                        field="--requests-per-concurrency", fix="give --num-requests")  # fmt: skip
    if duration_s is not None:
        return None
    return per_c or 100  # with K × C the count is replaced per point


def _slo(bounds: list[str] | None, max_error_rate: float) -> SweepSLO | None:
    from bench.sweep.slo import SweepSLO, parse_bound

    if not bounds:
        return None
    return SweepSLO(bounds=[parse_bound(b) for b in bounds], max_error_rate=max_error_rate)


@app.command("run")
@with_point_options
def run_cmd(
    loads: Annotated[str, typer.Option(help="ascending load levels, e.g. 1,2,4,8")],
    requests_per_concurrency: Annotated[
        int | None, typer.Option(min=1, help="run K × C requests at concurrency C")
    ] = None,
    repeats: Annotated[int, typer.Option(min=1, help="runs per load level (mean ± CI)")] = 1,
    slo: SLOOpt = None,
    max_error_rate: Annotated[
        float, typer.Option(min=0, max=1, help="stop escalating above this error rate")
    ] = 0.05,
    cv_threshold: Annotated[
        float, typer.Option(min=0.0001, help="flag repeats whose coefficient of variation exceeds")
    ] = 0.05,
    reset_prefix_cache: Annotated[bool, typer.Option(help="reset between points")] = True,
    *,
    point: PointOptions,
) -> None:
    """Run a ladder of load points on one server start; write <out>/curve.json."""
    from bench.config.loading import validate_data
    from bench.sweep.run import SweepSpec, run_sweep

    requests = point.num_requests or _default_requests(
        point.duration_s, requests_per_concurrency, point.load_kind
    )
    base = _base_config(point, requests)
    spec = validate_data(
        SweepSpec,
        {
            "loads": _parse_loads(loads), "repeats": repeats,
            "slo": _slo(slo, max_error_rate), "requests_per_concurrency": requests_per_concurrency,
            "reset_prefix_cache": reset_prefix_cache, "max_error_rate": max_error_rate,
            "cv_threshold": cv_threshold,
        },
        "command line",
    )  # fmt: skip
    report = run_sweep(base, spec, point.out, resume=point.resume, say=typer.echo)
    _print_report(report)


@app.command("search")
@with_point_options
def search_cmd(
    slo: Annotated[list[str], typer.Option("--slo", help="bound METRIC:STAT:LIMIT (repeat)")],
    start: Annotated[float, typer.Option(min=0.001, help="first load probed")] = 1.0,
    max_load: Annotated[float, typer.Option(min=0.001, help="never probe above this")] = 256.0,
    growth: Annotated[float, typer.Option(min=1.01, help="bracketing growth factor")] = 2.0,
    tolerance: Annotated[float, typer.Option(min=0.001, help="stop at high/low − 1 ≤ this")] = 0.1,
    max_runs: Annotated[int, typer.Option(min=1, help="run budget")] = 20,
    max_error_rate: Annotated[float, typer.Option(min=0, max=1)] = 0.01,
    reset_prefix_cache: Annotated[bool, typer.Option(help="reset between probes")] = True,
    *,
    point: PointOptions,
) -> None:
    """Find the highest load meeting the SLO (bracket, then refine); write <out>/search.json."""
    from bench.config.loading import validate_data
    from bench.sweep.run import run_slo_search
    from bench.sweep.slo_search import SearchSettings

    requests = point.num_requests or _default_requests(point.duration_s, None, point.load_kind)
    base = _base_config(point, requests)
    settings = validate_data(
        SearchSettings,
        {"start_load": start, "max_load": max_load, "growth": growth, "tolerance": tolerance,
         "integer": base.load.kind == "concurrency", "max_runs": max_runs},
        "command line",
    )  # fmt: skip
    target = _slo(slo, max_error_rate)
    if target is None:
        from bench.errors import UserError

        raise UserError("a search needs an SLO", field="--slo", fix="give --slo METRIC:STAT:LIMIT")
    report = run_slo_search(
        base, target, settings, point.out, resume=point.resume,
        reset_prefix_cache=reset_prefix_cache, say=typer.echo,
    )  # fmt: skip
    _print_report(report)


@app.command("show")
def show_cmd(
    sweep_dir: Annotated[Path, typer.Argument(help="a sweep folder (holds curve.json)")],
    target: Annotated[
        float | None, typer.Option(help="read the operating point at this x value")
    ] = None,
    x: Annotated[
        str, typer.Option(help="interactivity_tok_per_s, ttft_s, tpot_s or e2e_s")
    ] = "interactivity_tok_per_s",
    stat: Annotated[str, typer.Option(help="mean, p50, p90, p95 or p99")] = "p50",
) -> None:
    """Print a stored sweep's curve and, with --target, the operating point on its front."""
    from bench.sweep.show import load_sweep_report, operating_point_text

    report = load_sweep_report(sweep_dir)
    _print_report(report)
    if target is not None:
        typer.echo(operating_point_text(report, target, x, stat))


def _print_report(report: SweepReport) -> None:
    from bench.sweep.show import curve_text

    typer.echo(curve_text(report))
