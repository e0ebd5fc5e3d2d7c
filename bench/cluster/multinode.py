"""Models larger than one node: vLLM's own multi-node execution on an existing Ray cluster.

The models.yaml entry says how (`EngineArgs`: tensor × pipeline × data parallel sizes,
`nodes`, `distributed_executor_backend: ray`). Before `vllm serve` starts, the preflight
asks the cluster whether it has what the entry needs and, if not, says exactly what is
missing, per node. vLLM then joins the same cluster through `RAY_ADDRESS` and places its
workers there itself; per-GPU figures divide by `EngineArgs.gpus` (`RunPlan.gpus`).

Need (pure, `cluster_need`):
    GPUs           = tensor_parallel_size × pipeline_parallel_size × data_parallel_size
    GPUs per node  = ceil(GPUs / nodes)
A node fits when it is alive, of the asked GPU type (if any) and has ≥ GPUs-per-node free
GPUs (its total when Ray does not report free ones). The cluster fits when `nodes` nodes
fit and the node vLLM starts on (this one) is one of them: vLLM puts its first worker on
the node it runs on.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass

from bench.catalog import EngineArgs
from bench.cluster.nodes import ADDRESS_ENV, ClusterNode, resolve_address
from bench.config.plan import RunPlan
from bench.errors import UserError
from bench.records import Record

BACKEND_FLAG = "--distributed-executor-backend"


class ClusterNeed(Record):
    """What one model replica set needs from the cluster."""

    gpus: int
    nodes: int
    gpus_per_node: int
    gpu_type: str | None = None
    explain: str


def cluster_need(engine: EngineArgs, gpu_type: str | None = None) -> ClusterNeed:
    """GPUs, nodes and GPUs per node the entry needs (formula in the module docstring).

    Example: tp 8, pp 2, nodes 2 → 16 GPUs, 2 nodes × 8.
    """
    parts = [f"tensor_parallel_size {engine.tensor_parallel_size}"]
    if engine.pipeline_parallel_size > 1:
        parts.append(f"pipeline_parallel_size {engine.pipeline_parallel_size}")
    if engine.data_parallel_size > 1:
        parts.append(f"data_parallel_size {engine.data_parallel_size}")
    gpus = engine.gpus
    return ClusterNeed(
        gpus=gpus,
        nodes=engine.nodes,
        gpus_per_node=math.ceil(gpus / engine.nodes),
        gpu_type=gpu_type,
        explain=f"{' × '.join(parts)} = {gpus} GPUs over nodes {engine.nodes}",
    )


def _free(node: ClusterNode) -> float:
    return node.gpus if node.gpus_free is None else node.gpus_free


def fits(node: ClusterNode, need: ClusterNeed) -> bool:
    """Alive, the asked GPU type, and enough free GPUs for its share."""
    if not node.alive:
        return False
    if need.gpu_type is not None and node.gpu_type != need.gpu_type:
        return False
    return _free(node) >= need.gpus_per_node


def node_line(node: ClusterNode, need: ClusterNeed) -> str:
    """`a (127.0.0.1, id 54014e8b): 8/8 GPUs free, H100 — fits`."""
    free = "?" if node.gpus_free is None else f"{node.gpus_free:g}"
    state = "fits" if fits(node, need) else "too small"
    if not node.alive:
        state = f"dead ({node.death_reason or 'no reason given'})"
    elif need.gpu_type is not None and node.gpu_type != need.gpu_type:
        state = f"not {need.gpu_type}"
    kind = node.gpu_type or "no GPU type"
    return f"{node.describe()}: {free}/{node.gpus:g} GPUs free, {kind} — {state}"


def cluster_shortfall(
    need: ClusterNeed, nodes: Sequence[ClusterNode], current_node_id: str | None = None
) -> list[str]:
    """What the cluster lacks for `need`, one line per gap; [] when it fits. Pure."""
    fitting = [n for n in nodes if fits(n, need)]
    kind = f" {need.gpu_type}" if need.gpu_type else ""
    missing = []
    if len(fitting) < need.nodes:
        short = need.nodes - len(fitting)
        missing.append(
            f"{short} more node{'s' if short > 1 else ''} with ≥ {need.gpus_per_node} free"
            f"{kind} GPUs ({len(fitting)} of the {need.nodes} needed are there)"
        )
    total_free = sum(_free(n) for n in nodes if n.alive)
    if total_free < need.gpus:
        missing.append(
            f"{need.gpus - total_free:g} more free GPUs in all ({total_free:g} of {need.gpus})"
        )
    if current_node_id is not None:
        here = next((n for n in nodes if n.node_id == current_node_id), None)
        if here is not None and not fits(here, need):
            missing.append(
                f"this node {here.describe()}, where vLLM starts, must itself have ≥ "
                f"{need.gpus_per_node} free{kind} GPUs (it has {_free(here):g}); run from "
                "one of the nodes that fit"
            )
    return missing


def check_cluster(
    engine_args: EngineArgs,
    address: str | None,
    *,
    field: str = "engine_defaults",
    source: str = "models.yaml",
    gpu_type: str | None = None,
) -> list[ClusterNode]:
    """Ask the Ray cluster (address, else $RAY_ADDRESS) whether it can hold the entry.

    Returns the cluster's nodes when it can. Connects as a Ray driver and disconnects
    again if it was not connected before.

    Raises:
        UserError: naming `source`/`field`, the need, every node's free/total GPUs and
            what is missing; or `nodes > 1` without `distributed_executor_backend: ray`.
    """
    from bench.cluster.nodes import cluster_nodes, connect, current_node_id, disconnect, import_ray

    require_ray_backend(engine_args, field=field, source=source)
    need = cluster_need(engine_args, gpu_type)
    was_connected = import_ray().is_initialized()
    chosen = connect(address)
    try:
        nodes = cluster_nodes()
        missing = cluster_shortfall(need, nodes, current_node_id())
    finally:
        if not was_connected:
            disconnect()
    if missing:
        listing = "\n    ".join(node_line(n, need) for n in nodes) or "(no nodes)"
        raise UserError(
            f"the Ray cluster at {chosen} cannot hold this model: it needs {need.nodes} "
            f"node(s) with ≥ {need.gpus_per_node} free GPUs each ({need.explain}); "
            f"missing: {'; '.join(missing)}\n  nodes:\n    {listing}",
            file=source,
            field=field,
            fix="add nodes or GPUs to the cluster (`ray start --address=HEAD:PORT "
            "--num-gpus N`), free the GPUs in use, or choose engine settings that fit",
        )
    return nodes


def require_ray_backend(engine: EngineArgs, *, field: str, source: str = "models.yaml") -> None:
    """Raises UserError when `nodes > 1` but the backend is not Ray (vLLM's `mp` backend
    stays on one node)."""
    if engine.nodes > 1 and engine.distributed_executor_backend != "ray":
        raise UserError(
            f"nodes is {engine.nodes} but distributed_executor_backend is "
            f"{engine.distributed_executor_backend!r}: only the Ray backend spans nodes",
            file=source,
            field=f"{field}.distributed_executor_backend",
            fix="set `distributed_executor_backend: ray` (or nodes: 1)",
        )


@dataclass(frozen=True)
class RayLaunch:
    """How `ManagedServer` starts vLLM on an existing Ray cluster (see `ray_launch_for`)."""

    address: str
    engine: EngineArgs
    field: str
    source: str = "models.yaml"
    gpu_type: str | None = None

    def preflight(self) -> None:
        """Raises UserError (before any process starts) when the cluster cannot hold it."""
        check_cluster(
            self.engine, self.address, field=self.field, source=self.source, gpu_type=self.gpu_type
        )

    def server_args(self, args: Sequence[str]) -> list[str]:
        """`args` with `--distributed-executor-backend ray` added unless already given."""
        args = list(args)
        return args if BACKEND_FLAG in args else [*args, BACKEND_FLAG, "ray"]

    def server_env(self, env: dict[str, str]) -> dict[str, str]:
        """`env` with RAY_ADDRESS set, which vLLM's `ray.init()` joins."""
        return {**env, ADDRESS_ENV: self.address}


def ray_launch_for(plan: RunPlan, address: str | None = None) -> RayLaunch | None:
    """The Ray launch a run's engine settings call for, or None for a one-node launch.

    - `nodes > 1`: a Ray cluster is required (address, else $RAY_ADDRESS; UserError
      without one) and the backend must be Ray.
    - backend `ray` on one node: the cluster is used when an address is known; without
      one vLLM starts its own local Ray instance (None here).
    """
    engine, field = plan.engine, plan.engine_field
    require_ray_backend(engine, field=field)
    known = address or os.environ.get(ADDRESS_ENV)
    if engine.nodes > 1:
        try:
            known = resolve_address(known)
        except UserError:
            raise UserError(
                f"model {plan.entry.id!r} spans {engine.nodes} nodes, which needs a Ray cluster",
                file="models.yaml",
                field=field,
                fix=f"start one (docs/operations.md) and give its address (--ray-address "
                f"or {ADDRESS_ENV}); run from a node of it",
            ) from None
    elif engine.distributed_executor_backend != "ray" or not known:
        return None
    return RayLaunch(address=known, engine=engine, field=field)
