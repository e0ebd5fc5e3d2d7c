"""`bench probe` and `bench accept` (light imports: the work is imported inside commands)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Acceptance of delivered GPU nodes.", no_args_is_help=True)

_REPLAY_HELP = "read a recorded NVML snapshot (JSON) instead of this host's NVML"


@app.command()
def probe(
    json_out: Annotated[bool, typer.Option("--json", help="print the NodeProbe as JSON")] = False,
    out: Annotated[Path | None, typer.Option(help="also write the NodeProbe JSON here")] = None,
    raw: Annotated[
        Path | None, typer.Option(help="write the raw NVML snapshot here (a test fixture)")
    ] = None,
    replay: Annotated[Path | None, typer.Option(help=_REPLAY_HELP, hidden=True)] = None,
) -> None:
    """Inventory and health of this node: GPUs through NVML, CPU and memory."""
    from bench.accept.probe import open_nvml, read_probe
    from bench.nvml.snapshot import ReplayNvml
    from bench.report.io import write_atomic

    seam, reason = (ReplayNvml.from_file(replay), None) if replay else open_nvml()
    try:
        node, snap = read_probe(seam, reason)
    finally:
        if seam is not None:
            seam.close()
    if raw and snap is None:
        typer.secho(f"no raw snapshot written: {node.gpu_status}", err=True)
    elif raw and snap is not None:
        write_atomic(raw, snap.model_dump_json(indent=2))
    if out:
        write_atomic(out, node.model_dump_json(indent=2))
    if json_out:
        typer.echo(node.model_dump_json(indent=2))
        return
    from bench.accept.render import render_probe

    typer.echo(render_probe(node))


@app.command()
def accept(
    sku: Annotated[str, typer.Option(help="hardware SKU the node should be (hardware/*.yaml)")],
    out: Annotated[
        Path | None, typer.Option(help="output directory (default reports/accept-<sku>-<time>)")
    ] = None,
    soak_min: Annotated[
        float, typer.Option(min=0, help="minutes of repeated inference under NVML watch")
    ] = 0.0,
    inference: Annotated[bool, typer.Option(help="run the inference check (managed vLLM)")] = True,
    model: Annotated[
        str | None,
        typer.Option(help="model for the inference check (default: the band's, else tiny-llama)"),
    ] = None,
    input_tokens: Annotated[int | None, typer.Option(min=1)] = None,
    output_tokens: Annotated[int | None, typer.Option(min=1)] = None,
    concurrency: Annotated[int | None, typer.Option(min=1)] = None,
    requests: Annotated[int | None, typer.Option(min=1, help="requests per inference run")] = None,
    micro: Annotated[bool, typer.Option(help="run the torch microbenchmarks")] = True,
    quick: Annotated[
        bool, typer.Option(help="tiny microbenchmark sizes (smoke test, not acceptance)")
    ] = False,
    replay_nvml: Annotated[Path | None, typer.Option(help=_REPLAY_HELP, hidden=True)] = None,
) -> None:
    """Accept (or not) this node as SKU: probe, microbenchmarks, inference, soak, verdict.

    Exit code 0 only when every required check passes; 1 when one fails; 3 when a required
    check could not be judged here (not applicable is never a pass).
    """
    import contextlib
    from datetime import UTC, datetime

    from bench.accept.bands import bands_for_sku
    from bench.accept.inference import served_inference
    from bench.accept.micro_records import MicroSizes
    from bench.accept.run import VERDICT_JSON, VERDICT_MD, run_acceptance
    from bench.nvml.snapshot import ReplayNvml

    bands = bands_for_sku(sku)  # unknown SKU: a UserError before any work
    out = out or Path("reports") / f"accept-{sku}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
    nvml = ReplayNvml.from_file(replay_nvml) if replay_nvml else None
    with contextlib.ExitStack() as stack:
        served = None
        if inference:
            served = stack.enter_context(
                served_inference(
                    bands,
                    sku,
                    out,
                    model=model,
                    input_tokens=input_tokens,
                    output_tokens=output_tokens,
                    concurrency=concurrency,
                    num_requests=requests,
                )
            )
        verdict = run_acceptance(
            sku,
            soak_s=soak_min * 60.0,
            inference=served,
            out_dir=out,
            bands=bands,
            nvml=nvml,
            sizes=MicroSizes.quick() if quick else None,
            micro=micro,
            on_status=lambda msg: typer.secho(f"· {msg}", err=True),
        )
    typer.echo(verdict.summary)
    typer.echo(f"wrote {out / VERDICT_MD} and {out / VERDICT_JSON}")
    raise typer.Exit(verdict.exit_code)
