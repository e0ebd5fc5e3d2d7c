"""`bench sweep run|search|show`: load ladders and SLO searches on one server start, and the
operating point read from a stored sweep.

Module-level imports stay light (typer, pathlib, typing); implementations load inside commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from bench.config.run import RunConfig
    from bench.sweep.run import SweepReport
    from bench.sweep.slo import SweepSLO

app = typer.Typer(
    help="Sweeps: throughput-vs-interactivity curves, SLO search, operating points.",
    no_args_is_help=True,
)

Model = Annotated[str, typer.Option(help="model id from models.yaml")]
InputTokens = Annotated[int, typer.Option(min=1, help="prompt tokens per request")]
OutputTokens = Annotated[int, typer.Option(min=1, help="output tokens per request (ignore_eos)")]
LoadKindOpt = Annotated[str, typer.Option("--load-kind", help="concurrency or rate (requests/s)")]
NumRequests = Annotated[int | None, typer.Option(min=1, help="requests per point")]
DurationS = Annotated[float | None, typer.Option(min=0.001, help="seconds per point")]
Warmup = Annotated[int, typer.Option(min=0, help="warm-up requests per point (not measured)")]
Hardware = Annotated[str, typer.Option(help="hardware profile (hardware/<sku>.yaml)")]
Gpus = Annotated[int | None, typer.Option(min=1, help="GPUs used (default: tp × pp × dp)")]
Endpoint = Annotated[str | None, typer.Option(help="benchmark this OpenAI-compatible URL")]
ApiKeyEnv = Annotated[str | None, typer.Option(help="environment variable holding the API key")]
EngineArg = Annotated[
    list[str] | None, typer.Option("--engine-arg", help="extra `vllm serve` argument (repeat)")
]
SLOOpt = Annotated[
    list[str] | None,
    typer.Option("--slo", help="bound METRIC:STAT:LIMIT, e.g. ttft_s:p90:2 (repeat)"),
]
Out = Annotated[Path, typer.Option("--out", help="sweep folder (one run dir per point)")]
Resume = Annotated[bool, typer.Option(help="resume the sweep in --out from its manifest")]
RunConfigOpt = Annotated[
    Path | None,
    typer.Option("--run-config", help="YAML RunConfig to start from (its output_dir is --out)"),
]


def _base_config(
    run_config: Path | None,
    out: Path,
    *,
    model: str | None,
    input_tokens: int,
    output_tokens: int,
    range_ratio: float = 0.0,
    load_kind: str,
    num_requests: int | None,
    duration_s: float | None,
    warmup: int,
    hardware: str,
    gpus: int | None,
    endpoint: str | None,
    api_key_env: str | None,
    engine_args: list[str] | None,
) -> RunConfig:
    from bench.config.loading import read_yaml, validate_data
    from bench.config.run import RunConfig
    from bench.errors import UserError

    if run_config is not None:
        data = read_yaml(run_config)
        if not isinstance(data, dict):
            raise UserError("expected a mapping", file=run_config, fix="write a RunConfig")
        return validate_data(RunConfig, {**data, "output_dir": str(out)}, run_config)
    if model is None:
        raise UserError("no model", field="--model", fix="give --model or --run-config")
    if load_kind not in ("concurrency", "rate"):
        raise UserError(f"unknown load kind {load_kind!r}", field="--load-kind",
                        fix="concurrency or rate")  # fmt: skip
    load = {"kind": "concurrency", "concurrency": 1} if load_kind == "concurrency" else {
        "kind": "rate", "rate_per_s": 1.0}  # fmt: skip
    engine = (
        {"kind": "endpoint", "url": endpoint, "api_key_env": api_key_env}
        if endpoint
        else {"kind": "managed", "extra_args": list(engine_args or [])}
    )
    data = {
        "model": model,
        "workload": {
            "kind": "shape",
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "range_ratio": range_ratio,
        },
        "load": load,
        "engine": engine,
        "num_requests": num_requests,
        "duration_s": duration_s,
        "warmup_requests": warmup,
        "hardware": hardware,
        "gpus": gpus,
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
def run_cmd(
    out: Out,
    loads: Annotated[str, typer.Option(help="ascending load levels, e.g. 1,2,4,8")],
    model: Annotated[str | None, typer.Option(help="model id from models.yaml")] = None,
    input_tokens: InputTokens = 128,
    output_tokens: OutputTokens = 64,
    range_ratio: Annotated[
        float, typer.Option(min=0, max=0.99, help="lengths uniform in L·(1±r)")
    ] = 0.0,
    load_kind: LoadKindOpt = "concurrency",
    num_requests: NumRequests = None,
    duration_s: DurationS = None,
    requests_per_concurrency: Annotated[
        int | None, typer.Option(min=1, help="run K × C requests at concurrency C")
    ] = None,
    warmup: Warmup = 0,
    repeats: Annotated[int, typer.Option(min=1, help="runs per load level (mean ± CI)")] = 1,
    slo: SLOOpt = None,
    max_error_rate: Annotated[
        float, typer.Option(min=0, max=1, help="stop escalating above this error rate")
    ] = 0.05,
    cv_threshold: Annotated[
        float, typer.Option(min=0.0001, help="flag repeats whose coefficient of variation exceeds")
    ] = 0.05,
    reset_prefix_cache: Annotated[bool, typer.Option(help="reset between points")] = True,
    hardware: Hardware = "cpu-local",
    gpus: Gpus = None,
    endpoint: Endpoint = None,
    api_key_env: ApiKeyEnv = None,
    engine_arg: EngineArg = None,
    run_config: RunConfigOpt = None,
    resume: Resume = False,
) -> None:
    """Run a ladder of load points on one server start; write <out>/curve.json."""
    from bench.config.loading import validate_data
    from bench.sweep.run import SweepSpec, run_sweep

    base = _base_config(
        run_config, out, model=model, input_tokens=input_tokens, output_tokens=output_tokens,
        range_ratio=range_ratio,
        load_kind=load_kind, num_requests=num_requests or _default_requests(
            duration_s, requests_per_concurrency, load_kind),
        duration_s=duration_s, warmup=warmup, hardware=hardware, gpus=gpus, endpoint=endpoint,
        api_key_env=api_key_env, engine_args=engine_arg,
    )  # fmt: skip
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
    report = run_sweep(base, spec, out, resume=resume, say=typer.echo)
    _print_report(report)


@app.command("search")
def search_cmd(
    out: Out,
    slo: Annotated[list[str], typer.Option("--slo", help="bound METRIC:STAT:LIMIT (repeat)")],
    model: Annotated[str | None, typer.Option(help="model id from models.yaml")] = None,
    input_tokens: InputTokens = 128,
    output_tokens: OutputTokens = 64,
    load_kind: LoadKindOpt = "concurrency",
    num_requests: NumRequests = 100,
    duration_s: DurationS = None,
    warmup: Warmup = 0,
    start: Annotated[float, typer.Option(min=0.001, help="first load probed")] = 1.0,
    max_load: Annotated[float, typer.Option(min=0.001, help="never probe above this")] = 256.0,
    growth: Annotated[float, typer.Option(min=1.01, help="bracketing growth factor")] = 2.0,
    tolerance: Annotated[float, typer.Option(min=0.001, help="stop at high/low − 1 ≤ this")] = 0.1,
    max_runs: Annotated[int, typer.Option(min=1, help="run budget")] = 20,
    max_error_rate: Annotated[float, typer.Option(min=0, max=1)] = 0.01,
    reset_prefix_cache: Annotated[bool, typer.Option(help="reset between probes")] = True,
    hardware: Hardware = "cpu-local",
    gpus: Gpus = None,
    endpoint: Endpoint = None,
    api_key_env: ApiKeyEnv = None,
    engine_arg: EngineArg = None,
    run_config: RunConfigOpt = None,
    resume: Resume = False,
) -> None:
    """Find the highest load meeting the SLO (bracket, then refine); write <out>/search.json."""
    from bench.config.loading import validate_data
    from bench.sweep.run import run_slo_search
    from bench.sweep.slo_search import SearchSettings

    base = _base_config(
        run_config, out, model=model, input_tokens=input_tokens, output_tokens=output_tokens,
        load_kind=load_kind, num_requests=num_requests, duration_s=duration_s, warmup=warmup,
        hardware=hardware, gpus=gpus, endpoint=endpoint, api_key_env=api_key_env,
        engine_args=engine_arg,
    )  # fmt: skip
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
        base, target, settings, out, resume=resume,
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
