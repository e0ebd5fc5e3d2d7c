"""The fleet manifest, `<fleet_dir>/fleet.json`: which nodes, what each is doing, what came back.

`FLEET_MANIFEST` (a `bench.report.manifest.ManifestFile`, like the sweep's) is rewritten
atomically after every change. Resume reads it back: `done` nodes are kept,
every other node (pending, running when the driver died, failed) runs again.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import UTC, datetime

from bench.cluster.nodes import ClusterNode
from bench.fleet.records import (
    AcceptJob,
    FleetManifest,
    FleetNodeState,
    NodeStatus,
    RunJob,
    Selection,
)
from bench.report.manifest import ManifestFile, changed, touched
from bench.units import utc_now

FLEET_MANIFEST = ManifestFile(
    "fleet.json",
    FleetManifest,
    what="fleet manifest",
    fix="give the directory a `bench fleet run/accept --out DIR` wrote",
)
NODES_DIR = "nodes"


def new_fleet_id() -> str:
    return f"fleet-{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def new_manifest(
    job: RunJob | AcceptJob,
    selection: Selection,
    address: str,
    nodes: Sequence[ClusterNode],
    skus: dict[str, str],
    *,
    node_timeout_s: float | None = None,
) -> FleetManifest:
    """A fresh manifest: every selected node pending (a dead one already failed, with why)."""
    now = utc_now()
    states = [
        FleetNodeState(
            name=n.name,
            node_id=n.node_id,
            address=n.address,
            gpu_type=n.gpu_type,
            gpus=n.gpus,
            sku=skus[n.name],
            status="pending" if n.alive else "failed",
            reason=None if n.alive else dead_reason(n),
        )
        for n in nodes
    ]
    return FleetManifest(
        fleet_id=new_fleet_id(),
        created_utc=now,
        updated_utc=now,
        address=address,
        job=job,
        selection=selection,
        nodes=states,
        node_timeout_s=node_timeout_s,
    )


def dead_reason(node: ClusterNode) -> str:
    return f"node {node.describe()} is dead: {node.death_reason or 'Ray gives no reason'}"


def update_node(manifest: FleetManifest, name: str, **changes: object) -> FleetManifest:
    """The manifest with node `name` changed (validated; records are immutable).

    Raises:
        pydantic.ValidationError: a change of the wrong type (a bug, not a user error).
    """
    nodes = [changed(n, **changes) if n.name == name else n for n in manifest.nodes]
    return touched(manifest, nodes=nodes)


def finish(manifest: FleetManifest) -> FleetManifest:
    """Status from the nodes: complete when every node is done, else incomplete."""
    status = "complete" if all(n.status == "done" for n in manifest.nodes) else "incomplete"
    return touched(manifest, status=status)


def to_run(manifest: FleetManifest) -> list[FleetNodeState]:
    """Nodes a (resumed) run must still do: every node that is not done."""
    return [n for n in manifest.nodes if n.status != "done"]


def count(manifest: FleetManifest, status: NodeStatus) -> int:
    return sum(1 for n in manifest.nodes if n.status == status)
