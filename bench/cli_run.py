"""`bench run`, `bench validate`, `bench report`, `bench models ...`: the foundation commands.

Module-level imports stay light (typer, pathlib); implementations load inside commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bench.cli_options import renamed
from bench.cost.cli import with_cost_options
from bench.errors import UserError

if TYPE_CHECKING:
    from bench.cost.assumptions import CostAssumptions

models_app = typer.Typer(
    help="The model catalog (models.yaml) and embedded models.", no_args_is_help=True
)


def _slo(
    ttft_ms: float | None, tpot_ms: float | None, e2e_ms: float | None
) -> dict[str, float] | None:
    slo = {
        k: v / 1000
        for k, v in (("ttft_s", ttft_ms), ("tpot_s", tpot_ms), ("e2e_s", e2e_ms))
        if v is not None
    }
    return slo or None


def _scale_value(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise UserError(
            f"--scale must be a number or 'auto', got {text!r}",
            field="--scale",
            fix="e.g. --scale 0.25 or --scale auto",
        ) from None


@renamed(
    {
        "duration": "duration_s",
        "timeout": "timeout_s",
        "cost_basis": "basis",
        "price_per_gpu_hour": "rent_price_per_gpu_hour",
    }
)
@with_cost_options
def run(
    model: Annotated[str, typer.Option(help="model id from models.yaml")] = "tiny-llama",
    workload: Annotated[
        str | None, typer.Option(help="named workload of the suite (chat, agent, coding, ...)")
    ] = None,
    scale: Annotated[
        str, typer.Option(help="shrink suite lengths: a factor in (0, 1] or 'auto'")
    ] = "1",
    workloads_file: Annotated[Path | None, typer.Option(help="your own workload suite")] = None,
    input_tokens: Annotated[int, typer.Option(help="prompt length in tokens")] = 128,
    output_tokens: Annotated[int, typer.Option(help="output length (ignore_eos)")] = 64,
    range_ratio: Annotated[float, typer.Option(help="lengths uniform in L·(1±r)")] = 0.0,
    api: Annotated[str, typer.Option(help="completions or chat")] = "completions",
    concurrency: Annotated[int | None, typer.Option(help="closed loop: requests in flight")] = None,
    rate: Annotated[float | None, typer.Option(help="open loop: arrivals per second")] = None,
    arrival: Annotated[str, typer.Option(help="poisson, gamma or constant")] = "poisson",
    burstiness: Annotated[float, typer.Option(help="gamma shape (1 = Poisson)")] = 1.0,
    max_concurrency: Annotated[int | None, typer.Option(help="open-loop in-flight cap")] = None,
    num_requests: Annotated[int | None, typer.Option("--num-requests", "-n")] = None,
    duration_s: Annotated[
        float | None, typer.Option(help="stop sending after this many seconds")
    ] = None,
    warmup: Annotated[int, typer.Option(help="warm-up requests, excluded")] = 2,
    workers: Annotated[int, typer.Option(help="client processes sending the load")] = 1,
    min_window_s: Annotated[
        float | None,
        typer.Option(help="shorter steady-state window: 'too short to trust' (default 10)"),
    ] = None,
    min_window_requests: Annotated[
        int | None,
        typer.Option(help="fewer completed in it: too short (default max(50, 4 × C))"),
    ] = None,
    timeout_s: Annotated[float, typer.Option(help="per-request timeout, seconds")] = 600.0,
    slo_ttft_ms: Annotated[float | None, typer.Option(help="SLO: TTFT ≤ this (ms)")] = None,
    slo_tpot_ms: Annotated[float | None, typer.Option(help="SLO: TPOT ≤ this (ms)")] = None,
    slo_e2e_ms: Annotated[float | None, typer.Option(help="SLO: E2E ≤ this (ms)")] = None,
    hardware: Annotated[str, typer.Option(help="hardware profile SKU or YAML path")] = "cpu-local",
    gpus: Annotated[int | None, typer.Option(help="GPUs used (default: from the engine)")] = None,
    out: Annotated[
        Path | None, typer.Option(help="run directory (default reports/runs/<id>)")
    ] = None,
    endpoint: Annotated[
        str | None, typer.Option(help="benchmark this OpenAI-compatible URL")
    ] = None,
    api_key_env: Annotated[str | None, typer.Option(help="env variable holding the key")] = None,
    served_model: Annotated[str | None, typer.Option(help="model name the endpoint serves")] = None,
    tokenizer: Annotated[
        Path | None,
        typer.Option(
            help="with --endpoint: folder of the served model's tokenizer files, to "
            "build token-exact prompts with (default: the catalog model's)"
        ),
    ] = None,
    offline: Annotated[bool, typer.Option(help="in-process vllm.LLM, max throughput")] = False,
    placement: Annotated[
        str,
        typer.Option(
            help="managed server on a small CPU host: auto (share the client's "
            "scheduler group at lower priority) or off"
        ),
    ] = "auto",
    seed: Annotated[int, typer.Option(help="workload seed")] = 0,
    *,
    assumptions: CostAssumptions,
) -> None:
    """Benchmark one model × workload × load and write report.json, requests.jsonl, summary.md."""
    from bench.config.loading import validate_data
    from bench.config.plan import preflight
    from bench.config.run import RunConfig
    from bench.runner import execute_run, new_run_id

    if (concurrency is None) == (rate is None):
        if rate is None:
            concurrency = 8
        else:
            raise UserError(
                "give --concurrency or --rate, not both",
                field="--concurrency",
                fix="closed loop: --concurrency N; open loop: --rate R",
            )
    if num_requests is None and duration_s is None:
        num_requests = 64
    load: dict[str, Any] = (
        {"kind": "concurrency", "concurrency": concurrency}
        if rate is None
        else {
            "kind": "rate",
            "rate_per_s": rate,
            "arrival": arrival,
            "burstiness": burstiness,
            "max_concurrency": max_concurrency,
        }
    )
    workload_spec: dict[str, Any] = {
        "kind": "shape",
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "range_ratio": range_ratio,
        "api": api,
        "seed": seed,
    }
    if workload is not None:
        workload_spec = {
            "kind": "suite",
            "name": workload,
            "suite_file": workloads_file,
            "scale": scale if scale == "auto" else _scale_value(scale),
        }
    engine: dict[str, Any] = {"kind": "managed", "placement": placement}
    if endpoint:
        engine = {
            "kind": "endpoint",
            "url": endpoint,
            "api_key_env": api_key_env,
            "served_model": served_model,
        }
    elif offline:
        engine = {"kind": "offline"}
    config = validate_data(
        RunConfig,
        {
            "model": model,
            "workload": workload_spec,
            "load": load,
            "engine": engine,
            "num_requests": num_requests,
            "duration_s": duration_s,
            "warmup_requests": warmup,
            "workers": workers,
            "request_timeout_s": timeout_s,
            "slo": _slo(slo_ttft_ms, slo_tpot_ms, slo_e2e_ms),
            "hardware": hardware,
            "gpus": gpus,
            "output_dir": str(out or Path("reports") / "runs" / new_run_id()),
            "tokenizer": tokenizer,
            "validity": {
                k: v
                for k, v in (
                    ("min_window_s", min_window_s),
                    ("min_window_requests", min_window_requests),
                )
                if v is not None
            },
        },
        "command line",
    )
    preflight(config)  # before the progress bar: a missing engine is exit 2, not a traceback
    from bench.cli_progress import run_with_progress

    report = run_with_progress(config, assumptions, execute_run)
    from bench.cli_progress import print_summary

    print_summary(report, config.output_dir)


def validate(
    models: Annotated[Path | None, typer.Option(help="models.yaml to check")] = None,
    hardware_dir: Annotated[Path | None, typer.Option(help="folder of hardware YAMLs")] = None,
) -> None:
    """Check models.yaml and every hardware profile; exit 2 naming the first bad field."""
    from bench.catalog import load_catalog
    from bench.hardware import list_profiles

    catalog, path = load_catalog(models)
    profiles = list_profiles(hardware_dir)
    typer.echo(f"ok: {path} ({len(catalog.models)} models), {len(profiles)} hardware profiles")


@models_app.command("list")
def models_list(
    models: Annotated[Path | None, typer.Option(help="models.yaml")] = None,
) -> None:
    """List catalog models with their source and size."""
    from rich.console import Console
    from rich.table import Table

    from bench.catalog import load_catalog

    catalog, path = load_catalog(models)
    table = Table(title=str(path))
    for col in ("id", "source", "params (total/active, B)", "context", "modality", "GPU classes"):
        table.add_column(col)
    for m in catalog.models:
        src = m.source
        where = (
            getattr(src, "hub_id", None)
            or getattr(src, "builder", None)
            or str(getattr(src, "path", ""))
        )
        a = m.architecture
        table.add_row(
            m.id,
            f"{src.kind}: {where}",
            f"{a.total_params_b:g}/{a.active_params_b:g}",
            f"{a.context_tokens:,}",
            ",".join(a.modality),
            ", ".join(m.engine_defaults),
        )
    Console().print(table)


@models_app.command("build")
def models_build(
    model_id: Annotated[str, typer.Argument(help="an embedded model, e.g. tiny-llama")],
    force: Annotated[bool, typer.Option(help="rebuild even if present")] = False,
    cache_dir: Annotated[Path | None, typer.Option(help="default ~/.cache/tokenbench")] = None,
) -> None:
    """Build an embedded model (random weights, local tokenizer) into the cache."""
    from bench.catalog import load_catalog
    from bench.models.resolve import build_model

    catalog, path = load_catalog()
    out = build_model(catalog.get(model_id, path), cache_dir, force=force)
    typer.echo(f"built {model_id} at {out}")
