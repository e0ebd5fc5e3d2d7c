"""`bench calibrate`: one command (registered by `bench/cli.py`).

Module-level imports stay light (typer, pathlib, typing); the work loads inside.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from bench.errors import UserError

app = typer.Typer(help="Check that this machine's client can drive a benchmark faithfully.")


@app.command("calibrate")
def calibrate(
    concurrency: Annotated[int | None, typer.Option(help="closed loop: requests in flight")] = None,
    rate: Annotated[float | None, typer.Option(help="open loop: arrivals per second")] = None,
    arrival: Annotated[str, typer.Option(help="poisson, gamma or constant")] = "poisson",
    max_concurrency: Annotated[int | None, typer.Option(help="open-loop in-flight cap")] = None,
    input_tokens: Annotated[int, typer.Option(help="prompt length (words = tokens)")] = 128,
    output_tokens: Annotated[int, typer.Option(help="output tokens per request")] = 256,
    ttft_ms: Annotated[float, typer.Option(help="server TTFT to rehearse, ms")] = 50.0,
    itl_ms: Annotated[float, typer.Option(help="server gap between chunks, ms")] = 5.0,
    tokens_per_chunk: Annotated[int, typer.Option(help="tokens in each streamed chunk")] = 1,
    api: Annotated[str, typer.Option(help="completions or chat")] = "completions",
    workers: Annotated[int, typer.Option(help="client worker processes, as for bench run")] = 1,
    duration: Annotated[float, typer.Option(help="seconds of measured load")] = 10.0,
    num_requests: Annotated[int | None, typer.Option("--num-requests", "-n")] = None,
    server_cpu: Annotated[int | None, typer.Option(help="pin the synthetic server")] = None,
    server_processes: Annotated[
        int,
        typer.Option(
            help="synthetic server processes on one port (one core each from "
            "--server-cpu), when one core cannot send the load in time"
        ),
    ] = 1,
    out: Annotated[Path | None, typer.Option(help="write the report as JSON here")] = None,
    floor: Annotated[
        bool,
        typer.Option(
            help="if the rehearsal does not pass, also time a bytes-only reader to tell a "
            "machine limit from a client one"
        ),
    ] = True,
) -> None:
    """Run the client against the built-in synthetic server at the planned load and judge it.

    Reports the client's TTFT and ITL error against the server's own record, ingest
    (chunks/s achieved vs offered, client CPU per chunk, headroom), and a verdict with its
    limits (the same limits `bench run` warns with). Exit 0: pass; 1: fail or inconclusive.
    """
    from bench.calibrate.run import CalibrationPlan, render, run_calibration
    from bench.config.loading import validate_data

    if (concurrency is None) == (rate is None):
        if rate is None:
            concurrency = 64
        else:
            raise UserError(
                "give --concurrency or --rate, not both",
                field="--concurrency",
                fix="closed loop: --concurrency N; open loop: --rate R",
            )
    load: dict[str, Any] = (
        {"kind": "concurrency", "concurrency": concurrency}
        if rate is None
        else {"kind": "rate", "rate_per_s": rate, "arrival": arrival,
              "max_concurrency": max_concurrency}
    )  # fmt: skip
    if server_cpu is not None:
        from bench.synth.control import check_cpu

        check_cpu(server_cpu + server_processes - 1)
    plan = validate_data(
        CalibrationPlan,
        {
            "load": load, "input_tokens": input_tokens, "output_tokens": output_tokens,
            "ttft_s": ttft_ms / 1000, "itl_s": itl_ms / 1000,
            "tokens_per_chunk": tokens_per_chunk, "api": api, "workers": workers,
            "duration_s": duration, "num_requests": num_requests, "server_cpu": server_cpu,
            "server_processes": server_processes, "floor": floor,
        },
        "command line",
    )  # fmt: skip
    report = run_calibration(plan)
    typer.echo(render(report))
    if out is not None:
        out.write_text(report.model_dump_json(indent=2) + "\n", encoding="utf-8")
        typer.echo(f"wrote {out}")
    if report.verdict.status != "pass":
        raise typer.Exit(1)
