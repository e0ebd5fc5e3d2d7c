"""The nodes of a Ray cluster as records, and connecting to the cluster.

A node's `name` is what the fleet calls it (manifest, run directories, summaries) and
must survive a cluster restart, which changes Ray's node ids: the Ray label `node-name`
(`ray start --labels node-name=gpu-07`) when set, else the hostname, else — when several
alive nodes share a hostname (several Ray nodes on one machine) — the hostname and the
first 8 hex digits of the node id.

A node's GPU type is Ray's own: the label `ray.io/accelerator-type`, else the resource
`accelerator_type:<TYPE>` (Ray adds both on NVIDIA hosts; a test cluster fakes the
resource with `ray start --resources '{"accelerator_type:H100": 1}'`).
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Mapping
from typing import Any

from pydantic import Field

from bench.errors import UserError
from bench.records import Record

NAME_LABEL = "node-name"
ACCELERATOR_LABEL = "ray.io/accelerator-type"
ACCELERATOR_RESOURCE = "accelerator_type:"
ADDRESS_ENV = "RAY_ADDRESS"
RAY_PIN = "ray==2.60.0"


class ClusterNode(Record):
    """One Ray node as the fleet sees it. GPU counts are Ray's `GPU` resource."""

    node_id: str
    name: str
    address: str = Field(description="the node's IP as Ray knows it")
    hostname: str
    alive: bool
    death_reason: str | None = None
    gpus: float = 0.0
    gpus_free: float | None = Field(default=None, description="None when Ray did not say")
    gpu_type: str | None = None
    resources: dict[str, float] = Field(default_factory=dict)
    labels: dict[str, str] = Field(default_factory=dict)

    @property
    def short_id(self) -> str:
        return self.node_id[:8]

    def describe(self) -> str:
        """`b (127.0.0.1, id 4016717e)` — how messages name a node."""
        return f"{self.name} ({self.address}, id {self.short_id})"


def gpu_type_of(resources: Mapping[str, float], labels: Mapping[str, str]) -> str | None:
    """The node's accelerator type: its label, else its `accelerator_type:X` resource."""
    if labels.get(ACCELERATOR_LABEL):
        return labels[ACCELERATOR_LABEL]
    types = sorted(
        k[len(ACCELERATOR_RESOURCE) :] for k in resources if k.startswith(ACCELERATOR_RESOURCE)
    )
    return types[0] if types else None


def nodes_from_ray(
    raw: list[dict[str, Any]], free: Mapping[str, Mapping[str, float]] | None = None
) -> list[ClusterNode]:
    """Records from `ray.nodes()` (and `available_resources_per_node()` for free GPUs).

    Pure: names follow the module's rule; dead nodes are kept (alive=False) with Ray's
    reason, so a node that disappeared can be reported as such.
    """
    hostnames = Counter(
        str(n.get("NodeManagerHostname") or n.get("NodeManagerAddress"))
        for n in raw
        if n.get("Alive") and not (n.get("Labels") or {}).get(NAME_LABEL)
    )
    out = []
    for n in raw:
        node_id = str(n["NodeID"])
        labels = {str(k): str(v) for k, v in (n.get("Labels") or {}).items()}
        resources = {str(k): float(v) for k, v in (n.get("Resources") or {}).items()}
        address = str(n.get("NodeManagerAddress") or "")
        hostname = str(n.get("NodeManagerHostname") or address)
        name = labels.get(NAME_LABEL) or hostname
        if NAME_LABEL not in labels and hostnames[hostname] > 1:
            name = f"{hostname}-{node_id[:8]}"
        alive = bool(n.get("Alive"))
        node_free = (free or {}).get(node_id)
        out.append(
            ClusterNode(
                node_id=node_id,
                name=name,
                address=address,
                hostname=hostname,
                alive=alive,
                death_reason=None if alive else (str(n.get("DeathReasonMessage") or "") or None),
                gpus=resources.get("GPU", 0.0),
                gpus_free=float(node_free.get("GPU", 0.0)) if node_free is not None else None,
                gpu_type=gpu_type_of(resources, labels),
                resources=resources,
                labels=labels,
            )
        )
    return out


def resolve_address(address: str | None) -> str:
    """The cluster to use: `address`, else `$RAY_ADDRESS`.

    Raises:
        UserError: neither is given.
    """
    chosen = address or os.environ.get(ADDRESS_ENV)
    if not chosen:
        raise UserError(
            "no Ray cluster address",
            field="--address",
            fix=f"give --address HOST:PORT (the head's GCS port) or set {ADDRESS_ENV}; "
            "`auto` means the cluster this machine belongs to (see docs/operations.md)",
        )
    return chosen


def import_ray() -> Any:
    """`import ray`, or a UserError that says how to install it."""
    try:
        import ray
    except ImportError:
        from bench.extras import install_line

        raise UserError(
            "Ray is not installed (the 'fleet' extra)",
            field="ray",
            fix=f"{install_line('fleet')} ({RAY_PIN}) on every node, the same version everywhere",
        ) from None
    return ray


def connect(address: str | None) -> str:
    """Join the Ray cluster as a driver (idempotent); returns the address used.

    Raises:
        UserError: no address, Ray missing, or no cluster answers there.
    """
    chosen = resolve_address(address)
    ray = import_ray()
    if ray.is_initialized():
        return chosen
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    try:
        ray.init(
            address=chosen,
            namespace="tokenbench",
            logging_level=logging.WARNING,
            log_to_driver=False,
        )
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise UserError(
            f"cannot join the Ray cluster at {chosen!r}: {str(exc).splitlines()[0]}",
            field="--address",
            fix="start the cluster first (`ray start --head` on the head, `ray start "
            "--address=HEAD:PORT` on the others) and run this on one of its nodes",
        ) from None
    return chosen


def disconnect() -> None:
    ray = import_ray()
    if ray.is_initialized():
        ray.shutdown()


def cluster_nodes() -> list[ClusterNode]:
    """Every node the connected cluster knows (dead ones too), with free GPUs where Ray
    reports them (`available_resources_per_node`, the call vLLM's own check uses)."""
    ray = import_ray()
    free: Mapping[str, Mapping[str, float]] | None
    try:
        from ray._private.state import available_resources_per_node

        free = available_resources_per_node()
    except Exception:  # an internal API: without it, free GPUs are unknown, not zero
        free = None
    return nodes_from_ray(ray.nodes(), free)


def current_node_id() -> str | None:
    """The node this driver is attached to (where a `vllm serve` started here runs)."""
    ray = import_ray()
    try:
        return str(ray.get_runtime_context().get_node_id())
    except Exception:
        return None
