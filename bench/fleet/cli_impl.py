"""Bodies of the `bench fleet` commands (imported only when a command runs)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import get_args

import typer

from bench.errors import RunFailed, UserError
from bench.fleet.records import AcceptJob, RunJob, Selection, SynthRehearsal


def pairs(values: list[str] | None, option: str) -> dict[str, str]:
    """`["a=1", "b=2"]` → {"a": "1", "b": "2"}; UserError naming `option` otherwise."""
    out = {}
    for value in values or []:
        key, sep, val = value.partition("=")
        if not sep or not key or not val:
            raise UserError(f"{value!r} is not KEY=VALUE", field=option, fix="e.g. rack=r7")
        out[key] = val
    return out


def selection(
    node: list[str] | None,
    label: list[str] | None,
    resource: list[str] | None,
    gpu_type: str | None,
) -> Selection:
    return Selection(
        nodes=list(node or []),
        labels=pairs(label, "--label"),
        resources=list(resource or []),
        gpu_type=gpu_type,
    )


def accept_job(
    sku: str | None,
    sku_for: list[str] | None,
    soak_min: float,
    inference: bool,
    model: str | None,
    micro: bool,
    quick: bool,
    synth: bool,
) -> AcceptJob:
    from bench.config.loading import validate_data

    return validate_data(
        AcceptJob,
        {
            "sku": sku,
            "hardware_by_gpu_type": pairs(sku_for, "--sku-for"),
            "soak_s": soak_min * 60.0,
            "inference": inference,
            "model": model,
            "micro": micro,
            "quick": quick,
            "synth": SynthRehearsal() if synth else None,
        },
        "command line",
    )


def fleet_command(
    job: RunJob | AcceptJob | None,
    chosen: Selection,
    *,
    out: Path | None,
    resume: Path | None,
    address: str | None,
    store: Path | None,
    node_timeout_s: float | None,
    given_spec: bool,
) -> None:
    """Start (job given) or resume a fleet run, print its summary, exit 1 on failed nodes."""
    from bench.fleet.run import resume_fleet, start_fleet

    def say(message: str) -> None:
        typer.secho(f"· {message}", err=True)

    if resume is not None:
        if out is not None or given_spec or not chosen.empty:
            raise UserError(
                "--resume takes the job, nodes and output directory from the manifest",
                field="--resume",
                fix="give only --resume DIR (and --address/--store/--node-timeout-s)",
            )
        fleet_dir = resume
        manifest = resume_fleet(
            fleet_dir, address=address, store=store, node_timeout_s=node_timeout_s, on_status=say
        )
    else:
        if job is None:
            raise UserError("give a fleet spec (or --resume DIR)", field="SPEC")
        fleet_dir = out or Path("reports") / "fleets" / f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
        manifest = start_fleet(
            job,
            chosen,
            fleet_dir,
            address=address,
            store=store,
            node_timeout_s=node_timeout_s,
            on_status=say,
        )
    summary = _summary(fleet_dir, store, "output_tok_per_s", None)
    failed = [n for n in manifest.nodes if n.status != "done"]
    if failed:
        names = ", ".join(f"{n.name} ({n.reason})" for n in failed)
        raise RunFailed(
            f"{len(failed)} of {len(manifest.nodes)} node(s) did not complete: {names}; "
            f"`bench fleet run --resume {fleet_dir}` runs them again",
            fleet_dir,
        )
    typer.echo(f"fleet {summary.fleet_id}: all {len(manifest.nodes)} node(s) done; {fleet_dir}")
    if manifest.job.kind == "accept":
        code = verdict_exit_code([n.verdict for n in manifest.nodes])
        if code:
            typer.secho("not every node passed acceptance (see the verdict column)", err=True)
            raise typer.Exit(code)


def verdict_exit_code(verdicts: list[str | None]) -> int:
    """`bench accept`'s codes over a fleet: 1 when a node failed, else 3 when one is
    incomplete (a required check could not be judged), else 0."""
    if "fail" in verdicts:
        return 1
    return 3 if any(v != "pass" for v in verdicts) else 0


def _summary(fleet_dir: Path, store: Path | None, metric: str, margin: float | None):  # type: ignore[no-untyped-def]
    from bench.fleet.summary import Metric, render_summary, write_summary

    if metric not in get_args(Metric):
        raise UserError(
            f"unknown figure {metric!r}", field="--metric", fix=f"use one of {get_args(Metric)}"
        )
    summary = write_summary(fleet_dir, store, metric=metric, margin=margin)  # type: ignore[arg-type]
    typer.echo(render_summary(summary))
    return summary


def print_summary(
    fleet_dir: Path, store: Path | None, metric: str, margin: float | None, json_out: bool
) -> None:
    if json_out:
        from bench.fleet.summary import write_summary

        summary = write_summary(fleet_dir, store, metric=metric, margin=margin)  # type: ignore[arg-type]
        typer.echo(summary.model_dump_json(indent=2))
        return
    _summary(fleet_dir, store, metric, margin)


def print_nodes(address: str | None) -> None:
    from bench.cluster.nodes import cluster_nodes, connect

    connect(address)
    for n in sorted(cluster_nodes(), key=lambda n: (not n.alive, n.name)):
        free = "?" if n.gpus_free is None else f"{n.gpus_free:g}"
        state = "alive" if n.alive else f"dead: {n.death_reason or '-'}"
        labels = ",".join(f"{k}={v}" for k, v in sorted(n.labels.items()) if k != "ray.io/node-id")
        typer.echo(
            f"{n.name:<20} {n.short_id} {n.address:<15} {n.gpu_type or '-':<8} "
            f"GPUs {free}/{n.gpus:g}  {state}  {labels}"
        )


def check_model(model: str, hardware: str, address: str | None, gpu_type: str | None) -> None:
    from bench.catalog import load_catalog
    from bench.cluster.multinode import check_cluster, cluster_need
    from bench.hardware import load_profile

    catalog, _ = load_catalog()
    entry = catalog.get(model)
    profile = load_profile(hardware)
    memory = profile.memory_gb.value if profile.memory_gb else None
    gpu_class, engine = entry.engine_for(profile.kind, memory)
    field = f"models.{entry.id}.engine_defaults.{gpu_class}"
    check_cluster(engine, address, field=field, gpu_type=gpu_type)
    need = cluster_need(engine, gpu_type)
    typer.echo(f"ok: the cluster holds {model} on {hardware}: {need.explain}")
