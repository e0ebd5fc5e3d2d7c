"""`bench fleet …`: Ray clusters — multi-node model check, one job per node, summaries.

Module-level imports stay light (typer, pathlib, typing); Ray and the work are imported
by the commands (`bench.fleet.cli_impl`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bench.cli_options import renamed

app = typer.Typer(
    help="Fleets on a Ray cluster: multi-node model check, one job per node, summaries.",
    no_args_is_help=True,
)

Address = Annotated[
    str | None,
    typer.Option(help="Ray cluster (HEAD:PORT, or auto); default $RAY_ADDRESS"),
]
Store = Annotated[
    Path | None, typer.Option(help="central results store (default $TOKENBENCH_STORE)")
]
Nodes = Annotated[
    list[str] | None, typer.Option("--node", help="a node name, id (prefix) or IP; repeat")
]
Labels = Annotated[
    list[str] | None, typer.Option("--label", help="Ray node label KEY=VALUE; repeat")
]
Resources = Annotated[
    list[str] | None, typer.Option("--resource", help="custom resource the node has; repeat")
]
GpuType = Annotated[str | None, typer.Option(help="Ray accelerator type, e.g. H100")]
Out = Annotated[Path | None, typer.Option(help="new fleet directory (manifest, node results)")]
Resume = Annotated[
    Path | None, typer.Option(help="resume this fleet directory (re-runs nodes not done)")
]
TimeoutS = Annotated[
    float | None,
    typer.Option(min=1, help="fail a node whose job takes longer than this many seconds"),
]
SynthFlag = Annotated[
    bool, typer.Option(help="rehearse against the built-in synthetic server on each node")
]


@app.callback()
def fleet() -> None:
    """Fleets on a Ray cluster: multi-node model check, one job per node, summaries."""


@app.command()
def nodes(address: Address = None) -> None:
    """List the cluster's nodes: name, id, address, GPU type, free/total GPUs, state."""
    from bench.fleet.cli_impl import print_nodes

    print_nodes(address)


@app.command()
def check(
    model: Annotated[str, typer.Option(help="model id from models.yaml")],
    hardware: Annotated[str, typer.Option(help="hardware SKU (picks the engine settings)")],
    address: Address = None,
    gpu_type: GpuType = None,
) -> None:
    """Can the cluster hold MODEL on HARDWARE (GPUs, nodes, GPUs per node)? Exit 2 with
    what is missing when it cannot."""
    from bench.fleet.cli_impl import check_model

    check_model(model, hardware, address, gpu_type)


@app.command()
@renamed({"node_timeout": "node_timeout_s"})
def run(
    spec: Annotated[Path | None, typer.Argument(help="fleet spec YAML (bench.fleet.spec)")] = None,
    out: Out = None,
    resume: Resume = None,
    address: Address = None,
    store: Store = None,
    node: Nodes = None,
    label: Labels = None,
    resource: Resources = None,
    gpu_type: GpuType = None,
    node_timeout_s: TimeoutS = None,
) -> None:
    """The same benchmark on every selected node; results land in the central store.

    Spec: `run:` (RunConfig fields without output_dir), optional `hardware_by_gpu_type:`
    and `synth:` (see docs/operations.md). Exit 1 when a node failed (resume with
    --resume DIR: finished nodes are not run again).
    """
    from bench.fleet.cli_impl import fleet_command, selection
    from bench.fleet.spec import load_run_spec

    job = load_run_spec(spec) if spec is not None and resume is None else None
    fleet_command(
        job,
        selection(node, label, resource, gpu_type),
        out=out,
        resume=resume,
        address=address,
        store=store,
        node_timeout_s=node_timeout_s,
        given_spec=spec is not None,
    )


@app.command()
@renamed({"node_timeout": "node_timeout_s"})
def accept(
    sku: Annotated[str | None, typer.Option(help="SKU every node should be")] = None,
    sku_for: Annotated[
        list[str] | None, typer.Option(help="GPU_TYPE=SKU for nodes of that type; repeat")
    ] = None,
    soak_min: Annotated[float, typer.Option(min=0, help="minutes of repeated inference")] = 0.0,
    inference: Annotated[bool, typer.Option(help="run the inference check")] = True,
    model: Annotated[str | None, typer.Option(help="model for the inference check")] = None,
    micro: Annotated[bool, typer.Option(help="run the torch microbenchmarks")] = True,
    quick: Annotated[bool, typer.Option(help="tiny microbenchmark sizes (smoke test)")] = False,
    synth: SynthFlag = False,
    out: Out = None,
    resume: Resume = None,
    address: Address = None,
    store: Store = None,
    node: Nodes = None,
    label: Labels = None,
    resource: Resources = None,
    gpu_type: GpuType = None,
    node_timeout_s: TimeoutS = None,
) -> None:
    """`bench accept` on every selected node; verdicts and inference runs come back, the
    runs into the central store. Exit 1 when a node's job failed."""
    from bench.fleet.cli_impl import accept_job, fleet_command, selection

    job = None
    if resume is None:
        job = accept_job(sku, sku_for, soak_min, inference, model, micro, quick, synth)
    fleet_command(
        job,
        selection(node, label, resource, gpu_type),
        out=out,
        resume=resume,
        address=address,
        store=store,
        node_timeout_s=node_timeout_s,
        given_spec=False,
    )


@app.command()
def summary(
    fleet_dir: Annotated[Path, typer.Argument(help="a fleet directory")],
    store: Store = None,
    metric: Annotated[
        str, typer.Option(help="figure to rank by (a store column where higher is better)")
    ] = "output_tok_per_s",
    margin: Annotated[
        float | None,
        typer.Option(min=0, max=0.99, help="outlier margin (default: the SKU's, else 0.10)"),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print the summary as JSON")] = False,
) -> None:
    """Rank the fleet's nodes from the central store and flag outliers."""
    from bench.fleet.cli_impl import print_summary

    print_summary(fleet_dir, store, metric, margin, json_out)
