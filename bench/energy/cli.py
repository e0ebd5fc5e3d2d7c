"""`bench energy ...`: which meters can run here, and a quick measurement with them.

Module-level imports stay light (typer, pathlib, typing); implementations load inside commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bench.cli_options import renamed

app = typer.Typer(
    help="Energy meters (NVML, RAPL, IPMI, Redfish): what is readable here, and a measurement.",
    no_args_is_help=True,
)

MeterOption = Annotated[
    str, typer.Option("--meter", help="auto, nvml, rapl, ipmi, redfish or none")
]
ParallelOption = Annotated[
    int | None,
    typer.Option("--parallel-size", min=1, help="GPUs the engine uses (tp × pp × dp)"),
]


@app.command()
def probe(meter: MeterOption = "auto", parallel_size: ParallelOption = None) -> None:
    """Open the meters and say which run here and why the others do not."""
    from bench.energy.meterset import open_meters

    with open_meters(meter, parallel_size=parallel_size) as meters:  # type: ignore[arg-type]
        if not meters.measured:
            typer.echo(f"energy: not measured ({meters.not_measured_reason})")
            return
        for line in meters.describe():
            typer.echo(line)
        if meters.selection is not None and meters.selection.note:
            typer.echo(f"GPU selection: {meters.selection.note}")


@app.command()
@renamed({"seconds": "duration_s"})
def measure(
    duration_s: Annotated[float, typer.Option(min=0.1, help="seconds to measure")] = 5.0,
    meter: MeterOption = "auto",
    idle_s: Annotated[float, typer.Option(min=0, help="idle baseline first (0 = none)")] = 0.0,
    parallel_size: ParallelOption = None,
    trace_out: Annotated[Path | None, typer.Option(help="write the raw trace (JSON)")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print the summary as JSON")] = False,
) -> None:
    """Measure power for --duration-s seconds with the open meters; print the energy summary."""
    import time

    from bench.energy.meter import write_trace
    from bench.energy.meterset import open_meters
    from bench.energy.summary import summarize_energy
    from bench.energy.text import energy_markdown

    with open_meters(meter, parallel_size=parallel_size) as meters:  # type: ignore[arg-type]
        meters.measure_idle(idle_s)
        meters.start()
        time.sleep(duration_s)
        trace = meters.stop()
    assert trace.started_ns is not None and trace.stopped_ns is not None
    summary = summarize_energy(trace, trace.started_ns, trace.stopped_ns, 0, 0)
    if trace_out is not None:
        write_trace(trace, trace_out)
    typer.echo(summary.model_dump_json(indent=2) if json_out else energy_markdown(summary))
