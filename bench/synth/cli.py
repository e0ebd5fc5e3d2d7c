"""`bench synth …`: the built-in synthetic streaming server.

Module-level imports stay light (typer, pathlib, typing); the server is imported by the
command that runs it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    help="Built-in OpenAI-compatible streaming server with exact, configurable timing.",
    no_args_is_help=True,
)


@app.callback()
def synth() -> None:
    """Built-in OpenAI-compatible streaming server with exact, configurable timing."""


# SynthConfig field -> the option a person typed, so errors name what they can change
_OPTION_OF = {
    "ttft_s": "--ttft-ms",
    "itl_s": "--itl-ms",
    "tokens_per_chunk": "--tokens-per-chunk",
    "port": "--port",
    "host": "--host",
    "model": "--model",
    "record_path": "--record",
    "fail_rate": "--fail-rate",
    "fail_mode": "--fail-mode",
    "coalesce": "--coalesce",
    "cpu": "--cpu",
    "processes": "--processes",
    "default_max_tokens": "--default-max-tokens",
    "max_model_len": "--max-model-len",
}


@app.command()
def serve(
    ttft_ms: Annotated[float, typer.Option(help="time to first token, ms")] = 50.0,
    itl_ms: Annotated[float, typer.Option(help="gap between successive chunks, ms")] = 5.0,
    tokens_per_chunk: Annotated[int, typer.Option(help="tokens in each chunk")] = 1,
    port: Annotated[int, typer.Option(help="TCP port; 0 = any free port (printed)")] = 8000,
    host: Annotated[str, typer.Option(help="address to bind")] = "127.0.0.1",
    model: Annotated[str, typer.Option(help="served model name")] = "synth",
    record: Annotated[
        Path | None, typer.Option(help="write what was sent, per chunk, to this JSONL on exit")
    ] = None,
    fail_rate: Annotated[
        float, typer.Option(help="fraction of requests that fail, spread deterministically")
    ] = 0.0,
    fail_mode: Annotated[
        str, typer.Option(help="http_500 (at once) or error_chunk (mid-stream error event)")
    ] = "http_500",
    coalesce: Annotated[
        int, typer.Option(help="fault: write this many chunks per write (1 = each alone)")
    ] = 1,
    cpu: Annotated[
        int | None,
        typer.Option(
            help="pin the server to this CPU (with --processes N: CPUs cpu … cpu+N−1, one each)"
        ),
    ] = None,
    processes: Annotated[
        int,
        typer.Option(
            help="server processes sharing the port (SO_REUSEPORT), for loads "
            "one core cannot send in time"
        ),
    ] = 1,
    default_max_tokens: Annotated[
        int, typer.Option(help="output tokens when a request gives no max_tokens")
    ] = 16,
    max_model_len: Annotated[int, typer.Option(help="context length shown and enforced")] = (
        1_000_000
    ),
) -> None:
    """Serve /v1/completions and /v1/chat/completions with exact TTFT and inter-chunk gaps.

    Every request streams exactly max_tokens tokens (ignore_eos); prompt tokens are the
    whitespace-separated words of the prompt. Stops on Ctrl-C or SIGTERM, then writes
    --record and prints the server's own lateness against its schedule.
    """
    from bench.config.loading import validate_data
    from bench.errors import UserError
    from bench.synth.control import run_foreground
    from bench.synth.records import SynthConfig

    values = {
        "ttft_s": ttft_ms / 1e3,
        "itl_s": itl_ms / 1e3,
        "tokens_per_chunk": tokens_per_chunk,
        "port": port,
        "host": host,
        "model": model,
        "record_path": record,
        "fail_rate": fail_rate,
        "fail_mode": fail_mode,
        "coalesce": coalesce,
        "cpu": cpu,
        "processes": processes,
        "default_max_tokens": default_max_tokens,
        "max_model_len": max_model_len,
    }
    try:
        config = validate_data(SynthConfig, values, "bench synth serve")
    except UserError as exc:
        option = _OPTION_OF.get(exc.field or "", exc.field)
        fix = exc.fix
        if option in ("--ttft-ms", "--itl-ms"):
            fix = "give milliseconds, from 0 to 3600000"
        raise UserError(exc.message, field=option, fix=fix) from None

    def ready(bound_port: int, core: object) -> None:
        typer.echo(f"synth server listening on http://{host}:{bound_port}")
        typer.echo(
            f"  model {model}, TTFT {ttft_ms:g} ms, gap {itl_ms:g} ms, "
            f"{tokens_per_chunk} token(s) per chunk"
            + (f", {processes} processes" if processes > 1 else "")
            + (f", {coalesce} chunks per write (coalescing fault)" if coalesce > 1 else "")
            + "; Ctrl-C to stop"
        )

    summary = run_foreground(config, ready)
    late = (
        f"lateness p50 {summary.lateness_p50_s * 1e3:.3f} ms, "
        f"p99 {summary.lateness_p99_s * 1e3:.3f} ms, max {summary.lateness_max_s * 1e3:.3f} ms"
        if summary.lateness_p50_s is not None and summary.lateness_p99_s is not None
        and summary.lateness_max_s is not None
        else "no chunks sent"
    )  # fmt: skip
    typer.echo(f"served {summary.requests} requests, {summary.chunks} chunks; {late}")
    if record is not None:
        typer.echo(f"record written to {record}")
