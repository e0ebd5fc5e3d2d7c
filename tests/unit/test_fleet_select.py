"""Cluster nodes from `ray.nodes()` output, their names, and choosing the fleet's nodes."""

from __future__ import annotations

import pytest

from bench.cluster.nodes import nodes_from_ray
from bench.errors import UserError
from bench.fleet.records import Selection
from bench.fleet.select import select_nodes, sku_for


def raw(node_id: str, *, host: str = "vm", alive: bool = True, gpus: float = 0, **extra):  # type: ignore[no-untyped-def]
    resources = {"CPU": 1.0, **({"GPU": gpus} if gpus else {}), **extra.pop("resources", {})}
    return {
        "NodeID": node_id,
        "Alive": alive,
        "NodeManagerAddress": extra.pop("address", "127.0.0.1"),
        "NodeManagerHostname": host,
        "DeathReasonMessage": extra.pop("death", ""),
        "Resources": resources,
        "Labels": {"ray.io/node-id": node_id, **extra.pop("labels", {})},
    }


A = "aa" * 28
B = "bb" * 28
C = "cc" * 28
D = "dd" * 28


def cluster():  # type: ignore[no-untyped-def]
    """a, b: H100 (resource), rack r1/r2; c: L40S by label; d: head without GPU."""
    return nodes_from_ray(
        [
            raw(
                A,
                gpus=8,
                labels={"node-name": "a", "rack": "r1"},
                resources={"accelerator_type:H100": 1},
            ),
            raw(
                B,
                gpus=8,
                labels={"node-name": "b", "rack": "r2"},
                resources={"accelerator_type:H100": 1, "pool:east": 1},
            ),
            raw(C, gpus=4, labels={"node-name": "c", "ray.io/accelerator-type": "L40S"}),
            raw(D, labels={"node-name": "head"}),
        ],  # fmt: skip
        {A: {"GPU": 8.0}, B: {"GPU": 6.0}, C: {"GPU": 4.0}},
    )


def test_nodes_from_ray_reads_names_gpus_and_types() -> None:
    nodes = {n.name: n for n in cluster()}
    assert sorted(nodes) == ["a", "b", "c", "head"]
    assert (nodes["b"].gpus, nodes["b"].gpus_free, nodes["b"].gpu_type) == (8.0, 6.0, "H100")
    assert nodes["c"].gpu_type == "L40S"  # from the label
    assert nodes["head"].gpus == 0 and nodes["head"].gpus_free is None  # Ray did not say
    assert nodes["a"].describe() == "a (127.0.0.1, id aaaaaaaa)"


def test_names_fall_back_to_hostname_then_hostname_and_id() -> None:
    nodes = nodes_from_ray(
        [
            raw(A, host="gpu-01"),
            raw(B, host="vm"),
            raw(C, host="vm"),
            raw(D, host="vm", alive=False, death="raylet died"),
        ]
    )
    names = [n.name for n in nodes]
    # two alive nodes share "vm": every node on "vm" gets its id prefix
    assert names == ["gpu-01", "vm-bbbbbbbb", "vm-cccccccc", "vm-dddddddd"]
    assert nodes[3].death_reason == "raylet died" and not nodes[3].alive


def test_no_filter_takes_every_alive_node_with_a_gpu() -> None:
    assert [n.name for n in select_nodes(cluster(), Selection())] == ["a", "b", "c"]


def test_filters_combine() -> None:
    nodes = cluster()
    assert [n.name for n in select_nodes(nodes, Selection(gpu_type="H100"))] == ["a", "b"]
    assert [n.name for n in select_nodes(nodes, Selection(labels={"rack": "r2"}))] == ["b"]
    assert [n.name for n in select_nodes(nodes, Selection(resources=["pool:east"]))] == ["b"]
    by_ref = Selection(nodes=["c", "aaaaaa", "127.0.0.1"], gpu_type="H100")
    assert [n.name for n in select_nodes(nodes, by_ref)] == ["a", "b"]  # address hits all four
    assert [n.name for n in select_nodes(nodes, Selection(nodes=["head"]))] == ["head"]


def test_a_listed_dead_node_is_kept_to_be_reported_and_a_restarted_one_replaces_it() -> None:
    nodes = nodes_from_ray(
        [
            raw(A, gpus=1, labels={"node-name": "a"}),
            raw(B, gpus=1, labels={"node-name": "b"}, alive=False, death="killed"),
            raw(C, gpus=1, labels={"node-name": "c"}, alive=False, death="old c"),
            raw(D, gpus=1, labels={"node-name": "c"}),  # c restarted: new id, same name
        ]
    )
    chosen = select_nodes(nodes, Selection(nodes=["a", "b", "c"]))
    assert [(n.name, n.alive, n.node_id[:2]) for n in chosen] == [
        ("a", True, "aa"),
        ("b", False, "bb"),
        ("c", True, "dd"),
    ]
    assert [n.name for n in select_nodes(nodes, Selection())] == ["a", "c"]


def test_selection_errors_name_the_option() -> None:
    with pytest.raises(UserError) as err:
        select_nodes(cluster(), Selection(nodes=["zz"]))
    assert err.value.field == "--node" and "a, b, c, head" in (err.value.fix or "")
    with pytest.raises(UserError, match="no node of the cluster matches"):
        select_nodes(cluster(), Selection(gpu_type="B200"))
    twins = nodes_from_ray(
        [raw(A, gpus=1, labels={"node-name": "x"}), raw(B, gpus=1, labels={"node-name": "x"})]
    )
    with pytest.raises(UserError, match="several nodes are called x"):
        select_nodes(twins, Selection())


def test_sku_by_gpu_type_else_default() -> None:
    nodes = {n.name: n for n in cluster()}
    mapping = {"H100": "h100-sxm"}
    assert sku_for(nodes["a"], "l40s", mapping) == "h100-sxm"
    assert sku_for(nodes["c"], "l40s", mapping) == "l40s"
    with pytest.raises(UserError) as err:
        sku_for(nodes["c"], None, mapping)
    assert err.value.field == "--sku-for" and "L40S=SKU" in (err.value.fix or "")
