"""Choosing the nodes of a fleet run, and the SKU each one is measured as. Pure functions."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from bench.cluster.nodes import ClusterNode
from bench.errors import UserError
from bench.fleet.records import Selection

_HEX_PREFIX = re.compile(r"^[0-9a-f]{6,}$")


def matches_ref(node: ClusterNode, ref: str) -> bool:
    """A node reference: its name, its IP address, its id or a unique id prefix (≥ 6 hex)."""
    if ref in (node.name, node.address, node.node_id):
        return True
    return bool(_HEX_PREFIX.match(ref)) and node.node_id.startswith(ref)


def _latest_per_name(nodes: Sequence[ClusterNode]) -> list[ClusterNode]:
    """One node per name: the alive one when a restarted node left a dead namesake."""
    alive_names = {n.name for n in nodes if n.alive}
    return [n for n in nodes if n.alive or n.name not in alive_names]


def select_nodes(nodes: Sequence[ClusterNode], selection: Selection) -> list[ClusterNode]:
    """The nodes `selection` picks, in name order.

    Alive nodes pass the filters (labels equal, resources present, GPU type equal). A node
    listed by reference that is dead is kept (alive=False) so the run can report it with
    Ray's reason. No filter at all: every alive node with a GPU, or every alive node when
    no node has one.

    Raises:
        UserError: a reference matches no node; two selected alive nodes share a name;
            nothing is selected.
    """
    pool = _latest_per_name(nodes)
    chosen = [n for n in pool if n.alive]
    if selection.empty:
        with_gpu = [n for n in chosen if n.gpus > 0]
        chosen = with_gpu or chosen
    for key, value in selection.labels.items():
        chosen = [n for n in chosen if n.labels.get(key) == value]
    for resource in selection.resources:
        chosen = [n for n in chosen if n.resources.get(resource, 0) > 0]
    if selection.gpu_type is not None:
        chosen = [n for n in chosen if n.gpu_type == selection.gpu_type]
    if selection.nodes:
        listed = []
        for ref in selection.nodes:
            hits = [n for n in pool if matches_ref(n, ref)]
            if not hits:
                known = ", ".join(sorted({n.name for n in pool})) or "none"
                raise UserError(
                    f"no node {ref!r} in the cluster",
                    field="--node",
                    fix=f"give a node name, id (prefix) or address; nodes: {known}",
                )
            listed += hits
        ids = {n.node_id for n in chosen}
        chosen = [n for n in listed if not n.alive or n.node_id in ids]
    unique = {n.node_id: n for n in chosen}.values()
    names = [n.name for n in unique]
    twice = sorted({x for x in names if names.count(x) > 1})
    if twice:
        raise UserError(
            f"several nodes are called {', '.join(twice)}",
            field="node-name",
            fix="give each Ray node its own `--labels node-name=...` (names key the results)",
        )
    if not unique:
        raise UserError(
            "no node of the cluster matches the selection",
            field="--label/--resource/--gpu-type/--node",
            fix="check the filters against `ray status` / the node list printed by "
            "`bench fleet nodes`",
        )
    return sorted(unique, key=lambda n: n.name)


def sku_for(node: ClusterNode, default: str | None, by_gpu_type: Mapping[str, str]) -> str:
    """The SKU a node is measured as: by its GPU type when mapped, else `default`.

    Raises:
        UserError: neither applies.
    """
    if node.gpu_type is not None and node.gpu_type in by_gpu_type:
        return by_gpu_type[node.gpu_type]
    if default is not None:
        return default
    raise UserError(
        f"node {node.describe()} has GPU type {node.gpu_type or 'unknown'}, which has no SKU",
        field="--sku-for",
        fix=f"add --sku-for {node.gpu_type or 'TYPE'}=SKU, or give --sku for the rest",
    )
