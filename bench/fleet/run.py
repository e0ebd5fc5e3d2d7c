"""`bench fleet run` / `bench fleet accept`: one job per selected node of a Ray cluster.

job + selection ─► connect ─► cluster nodes ─► selected nodes, SKU per node (checked
before any work) ─► fleet.json (every node pending) ─► one Ray task per node, pinned by
`NodeAffinitySchedulingStrategy(soft=False)` and holding all the node's GPUs ─► as each
finishes: its run directory (a tar through the object store) is unpacked into
`<fleet_dir>/nodes/<node>/attempt-<k>/` and registered in the central results store;
a node whose job raised, whose worker or node died, or that timed out is `failed` with
the reason, while the others go on ─► fleet.json complete / incomplete ─► fleet summary.

Resume (`resume_fleet`) runs again every node that is not `done`, found by name in the
cluster as it is now (a restarted node has a new Ray id but the same name).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.cluster.nodes import ClusterNode, cluster_nodes, connect, import_ray
from bench.errors import UserError
from bench.fleet.manifest import (
    FLEET_MANIFEST,
    NODES_DIR,
    dead_reason,
    finish,
    new_manifest,
    to_run,
    update_node,
)
from bench.fleet.records import (
    AcceptJob,
    FleetManifest,
    FleetNodeState,
    JobResult,
    NodeTask,
    RunJob,
    Selection,
)
from bench.fleet.select import select_nodes, sku_for
from bench.units import utc_now

Say = Callable[[str], None]
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
_REGISTERED = ("added", "updated", "unchanged", "replaced", "duplicate")


def dir_name(node_name: str) -> str:
    """A node name made safe as one directory name (`gpu/07` → `gpu_07`)."""
    safe = _UNSAFE.sub("_", node_name).lstrip(".")
    return safe or "node"


def check_job(job: RunJob | AcceptJob, skus: set[str]) -> None:
    """Everything the driver can validate before any node starts work.

    Raises:
        UserError: unknown SKU, unknown model, no engine settings for a SKU's GPU class.
    """
    if isinstance(job, RunJob):
        from bench.config.plan import plan_run

        for sku in sorted(skus):
            plan_run(job.run.model_copy(update={"hardware": sku}))
    else:
        from bench.accept.bands import bands_for_sku

        for sku in sorted(skus):
            bands_for_sku(sku)


def default_sku(job: RunJob | AcceptJob) -> str | None:
    return job.run.hardware if isinstance(job, RunJob) else job.sku


def start_fleet(
    job: RunJob | AcceptJob,
    selection: Selection,
    fleet_dir: Path,
    *,
    address: str | None = None,
    store: Path | None = None,
    node_timeout_s: float | None = None,
    on_status: Say | None = None,
) -> FleetManifest:
    """A new fleet run into `fleet_dir` (which must not hold one: use `resume_fleet`)."""
    say = on_status or (lambda _msg: None)
    if FLEET_MANIFEST.exists(fleet_dir):
        raise UserError(
            "this directory already holds a fleet run",
            file=FLEET_MANIFEST.path(fleet_dir),
            field="--out",
            fix="resume it with --resume DIR, or choose a new --out",
        )
    chosen = connect(address)
    nodes = select_nodes(cluster_nodes(), selection)
    skus = {n.name: sku_for(n, default_sku(job), job.hardware_by_gpu_type) for n in nodes}
    check_job(job, set(skus.values()))
    manifest = new_manifest(job, selection, chosen, nodes, skus, node_timeout_s=node_timeout_s)
    FLEET_MANIFEST.write(manifest, fleet_dir)
    say(f"fleet {manifest.fleet_id}: {len(nodes)} node(s): {', '.join(skus)}")
    return drive(manifest, fleet_dir, store, say)


def resume_fleet(
    fleet_dir: Path,
    *,
    address: str | None = None,
    store: Path | None = None,
    node_timeout_s: float | None = None,
    on_status: Say | None = None,
) -> FleetManifest:
    """Run again every node of `fleet_dir`'s manifest that is not done."""
    say = on_status or (lambda _msg: None)
    manifest = FLEET_MANIFEST.read(fleet_dir)
    connect(address or manifest.address)
    now = cluster_nodes()
    for state in to_run(manifest):
        manifest = rebind(manifest, state, now)
    manifest = manifest.model_copy(
        update={
            "status": "running",
            "runs": manifest.runs + 1,
            "node_timeout_s": node_timeout_s or manifest.node_timeout_s,
        }
    )
    FLEET_MANIFEST.write(manifest, fleet_dir)
    done = [n.name for n in manifest.nodes if n.status == "done"]
    say(f"resuming {manifest.fleet_id}: {len(done)} node(s) done, kept: {', '.join(done) or '-'}")
    return drive(manifest, fleet_dir, store, say)


def rebind(manifest: FleetManifest, state: FleetNodeState, now: list[ClusterNode]) -> FleetManifest:
    """Point a node still to run at its current Ray node (same name), or fail it."""
    alive = [n for n in now if n.name == state.name and n.alive]
    if alive:
        node = alive[0]
        return update_node(
            manifest,
            state.name,
            node_id=node.node_id,
            address=node.address,
            gpus=node.gpus,
            status="pending",
            reason=None,
        )
    dead = [n for n in now if n.name == state.name]
    reason = dead_reason(dead[0]) if dead else f"node {state.name} is not in the cluster now"
    return update_node(manifest, state.name, status="failed", reason=reason)


def drive(manifest: FleetManifest, fleet_dir: Path, store: Path | None, say: Say) -> FleetManifest:
    """Submit every node still to run, collect each as it finishes; the final manifest."""
    ray = import_ray()
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    from bench.fleet.jobs import run_node_task

    remote = ray.remote(max_calls=1)(run_node_task)  # a fresh worker process per node job
    pending: dict[Any, tuple[str, float]] = {}
    for state in to_run(manifest):
        if state.status == "failed":  # dead or gone before it could start
            say(f"{state.name}: failed: {state.reason}")
            continue
        task = NodeTask(
            name=state.name,
            node_id=state.node_id,
            sku=state.sku,
            job=manifest.job,
            synth=manifest.job.synth.for_node(state.name) if manifest.job.synth else None,
        )
        ref = remote.options(
            name=f"tokenbench-fleet:{state.name}",
            num_cpus=0,
            num_gpus=state.gpus,  # the whole node: exclusive, and CUDA_VISIBLE_DEVICES = all
            max_retries=0,
            scheduling_strategy=NodeAffinitySchedulingStrategy(state.node_id, soft=False),
        ).remote(task)
        pending[ref] = (state.name, time.monotonic())
        manifest = update_node(
            manifest,
            state.name,
            status="running",
            attempts=state.attempts + 1,
            started_utc=utc_now(),
            finished_utc=None,
            reason=None,
        )
    FLEET_MANIFEST.write(manifest, fleet_dir)
    try:
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
            for ref in ready:
                name, _started = pending.pop(ref)
                manifest = collect(manifest, name, ref, fleet_dir, store)
                FLEET_MANIFEST.write(manifest, fleet_dir)
                done = manifest.node(name)
                assert done is not None
                say(f"{name}: {done.status}" + (f": {done.reason}" if done.reason else ""))
            manifest = expire(manifest, pending, say)
            FLEET_MANIFEST.write(manifest, fleet_dir)
    except KeyboardInterrupt:
        for ref, (name, _) in pending.items():
            ray.cancel(ref, force=True)
            manifest = update_node(
                manifest, name, status="failed", reason="interrupted (Ctrl-C); --resume runs it"
            )
        FLEET_MANIFEST.write(finish(manifest), fleet_dir)
        raise
    manifest = finish(manifest)
    FLEET_MANIFEST.write(manifest, fleet_dir)
    return manifest


def expire(
    manifest: FleetManifest, pending: dict[Any, tuple[str, float]], say: Say
) -> FleetManifest:
    """Cancel and fail the nodes that ran past the manifest's per-node timeout."""
    limit = manifest.node_timeout_s
    if limit is None:
        return manifest
    ray = import_ray()
    for ref, (name, started) in list(pending.items()):
        if time.monotonic() - started > limit:
            ray.cancel(ref, force=True)
            del pending[ref]
            reason = f"timed out after {limit:g} s (not started or not finished); cancelled"
            manifest = update_node(
                manifest, name, status="failed", finished_utc=utc_now(), reason=reason
            )
            say(f"{name}: failed: {reason}")
    return manifest


def collect(
    manifest: FleetManifest, name: str, ref: Any, fleet_dir: Path, store: Path | None
) -> FleetManifest:
    """One finished node: unpack and register what it sent, or record why it failed."""
    from bench.fleet.jobs import unpack
    from bench.store import import_dirs

    ray = import_ray()
    state = manifest.node(name)
    assert state is not None
    try:
        result: JobResult = ray.get(ref)
    except Exception as exc:  # the job raised, its worker or node died, it was cancelled
        why = failure_reason(exc, node_now(state.node_id))
        return update_node(manifest, name, status="failed", finished_utc=utc_now(), reason=why)
    rel = f"{NODES_DIR}/{dir_name(name)}/attempt-{state.attempts}"
    unpack(result.archive, fleet_dir / rel)
    outcomes = import_dirs([fleet_dir / rel], store)
    run_ids = [o.run_id for o in outcomes if o.run_id and o.outcome in _REGISTERED]
    problems = [
        f"not registered: {o.path}: {o.outcome}: {o.message}"
        for o in outcomes
        if o.outcome in ("conflict", "corrupt")
    ]
    reason = "; ".join(([result.failure] if result.failure else []) + problems) or None
    return update_node(
        manifest,
        name,
        status="failed" if reason else "done",
        finished_utc=utc_now(),
        duration_s=result.duration_s,
        result_dir=rel,
        run_ids=run_ids,
        verdict=result.verdict,
        reason=reason,
        host=result.host,
        tokenbench_version=result.tokenbench_version,
    )


def node_now(node_id: str, wait_s: float = 5.0) -> ClusterNode | None:
    """The node as the cluster sees it now; waits up to `wait_s` for Ray to mark a node
    whose worker died as dead (its health check lags the worker's death)."""
    deadline = time.monotonic() + wait_s
    while True:
        node = next((n for n in cluster_nodes() if n.node_id == node_id), None)
        if node is None or not node.alive or time.monotonic() >= deadline:
            return node
        time.sleep(0.5)


def first_line(exc: BaseException, limit: int = 300) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else "")[:limit]


def failure_reason(exc: BaseException, node: ClusterNode | None) -> str:
    """Why a node's job failed, in one line: the job's own error (a UserError rendered),
    or what happened to its worker or node (dead node: Ray's death reason)."""
    from ray import exceptions as rex

    if isinstance(exc, rex.RayTaskError):
        cause = exc.cause
        if isinstance(cause, UserError):
            return cause.render().replace("\n", " ")
        return f"the job failed: {type(cause).__name__}: {first_line(cause)}"
    if isinstance(exc, rex.TaskCancelledError):
        return "cancelled"
    what = f"{type(exc).__name__}: {first_line(exc, 200)}"
    if node is None:
        return f"node left the cluster mid-run ({what})"
    if not node.alive:  # Ray's own message repeats what the death reason says
        why = node.death_reason or "no reason given"
        return f"node {node.describe()} died mid-run: {why} ({type(exc).__name__})"
    return f"the job's worker on {node.describe()} died ({what})"
