"""Multi-node models: what an entry needs from a Ray cluster, what is missing, the launch."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from bench.catalog import EngineArgs
from bench.cluster import multinode
from bench.cluster.multinode import (
    RayLaunch,
    cluster_need,
    cluster_shortfall,
    ray_launch_for,
    require_ray_backend,
)
from bench.cluster.nodes import ClusterNode
from bench.config.plan import plan_run
from bench.config.run import ConcurrencyLoad, RunConfig, ShapeWorkload
from bench.engines.managed import ManagedServer
from bench.errors import UserError

TP8_PP2 = EngineArgs(
    tensor_parallel_size=8, pipeline_parallel_size=2, nodes=2, distributed_executor_backend="ray"
)


def node(name: str, gpus: float, free: float | None = None, **kw: object) -> ClusterNode:
    return ClusterNode(
        node_id=f"{name * 8}00112233",
        name=name,
        address="10.0.0.1",
        hostname=name,
        alive=kw.pop("alive", True),  # type: ignore[arg-type]
        gpus=gpus,
        gpus_free=gpus if free is None else free,
        **kw,  # type: ignore[arg-type]
    )


def test_need_is_tp_times_pp_times_dp_spread_over_the_nodes() -> None:
    need = cluster_need(TP8_PP2)
    assert (need.gpus, need.nodes, need.gpus_per_node) == (16, 2, 8)
    assert (
        need.explain == "tensor_parallel_size 8 × pipeline_parallel_size 2 = 16 GPUs over nodes 2"
    )
    odd = cluster_need(EngineArgs(tensor_parallel_size=4, data_parallel_size=3, nodes=2))
    assert (odd.gpus, odd.gpus_per_node) == (12, 6)  # ceil(12 / 2)


def test_a_cluster_that_fits_has_no_shortfall() -> None:
    nodes = [node("a", 8), node("b", 8), node("c", 4)]
    assert cluster_shortfall(cluster_need(TP8_PP2), nodes, current_node_id=nodes[0].node_id) == []


def test_shortfall_names_missing_nodes_gpus_and_the_launch_node() -> None:
    # b has 8 GPUs but 3 are busy; c is dead → only a fits: 1 more node with ≥ 8 free.
    nodes = [
        node("a", 8),
        node("b", 8, free=5),
        node("c", 8, alive=False, death_reason="health check failed"),
    ]
    missing = cluster_shortfall(cluster_need(TP8_PP2), nodes, current_node_id=nodes[1].node_id)
    assert missing == [
        "1 more node with ≥ 8 free GPUs (1 of the 2 needed are there)",
        "3 more free GPUs in all (13 of 16)",
        "this node b (10.0.0.1, id bbbbbbbb), where vLLM starts, must itself have ≥ 8 free "
        "GPUs (it has 5); run from one of the nodes that fit",
    ]
    line = multinode.node_line(nodes[2], cluster_need(TP8_PP2))
    assert line.endswith("— dead (health check failed)")


def test_gpu_type_is_part_of_the_need() -> None:
    nodes = [node("a", 8, gpu_type="H100"), node("b", 8, gpu_type="L40S")]
    missing = cluster_shortfall(cluster_need(TP8_PP2, gpu_type="H100"), nodes)
    assert missing == ["1 more node with ≥ 8 free H100 GPUs (1 of the 2 needed are there)"]
    assert "not H100" in multinode.node_line(nodes[1], cluster_need(TP8_PP2, gpu_type="H100"))


def test_unknown_free_gpus_count_as_the_total() -> None:
    unknown = [node("a", 8).model_copy(update={"gpus_free": None}), node("b", 8)]
    assert cluster_shortfall(cluster_need(TP8_PP2), unknown) == []


def test_several_nodes_need_the_ray_backend() -> None:
    with pytest.raises(UserError) as err:
        require_ray_backend(EngineArgs(tensor_parallel_size=8, nodes=2), field="models.m.x")
    assert err.value.field == "models.m.x.distributed_executor_backend"
    assert "only the Ray backend spans nodes" in err.value.message


def _config(model: str, hardware: str) -> RunConfig:
    return RunConfig(
        model=model,
        workload=ShapeWorkload(input_tokens=8, output_tokens=8),
        load=ConcurrencyLoad(concurrency=1),
        num_requests=1,
        hardware=hardware,
        output_dir=Path("unused"),
    )


def test_two_node_entry_counts_all_its_gpus_and_needs_a_cluster(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    plan = plan_run(_config("deepseek-v3.2", "h100-sxm"))
    assert plan.gpus == 16  # tp 8 × pp 2: every per-GPU figure divides by 16
    assert "--pipeline-parallel-size" in plan.engine_args
    with pytest.raises(UserError) as err:
        ray_launch_for(plan)
    assert err.value.field == "models.deepseek-v3.2.engine_defaults.gpu-80g"
    assert "spans 2 nodes" in err.value.message and "RAY_ADDRESS" in (err.value.fix or "")
    monkeypatch.setenv("RAY_ADDRESS", "10.0.0.1:6379")
    launch = ray_launch_for(plan)
    assert launch is not None and launch.address == "10.0.0.1:6379"
    assert launch.engine.nodes == 2 and launch.field.endswith("gpu-80g")


def test_the_launch_uses_the_engine_the_plan_chose(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The engine defaults are looked up once, by plan_run; the launch reads them there."""
    monkeypatch.setenv("RAY_ADDRESS", "10.0.0.1:6379")
    plan = plan_run(_config("deepseek-v3.2", "h100-sxm"))
    assert (plan.gpu_class, plan.engine.nodes) == ("gpu-80g", 2)
    one_node = plan.engine.model_copy(
        update={"nodes": 1, "pipeline_parallel_size": 1, "distributed_executor_backend": "mp"}
    )
    replaced = dataclasses.replace(plan, engine=one_node, gpu_class="gpu-141g")
    assert ray_launch_for(replaced) is None  # one node: no cluster needed, whatever the entry
    monkeypatch.delenv("RAY_ADDRESS")
    with pytest.raises(UserError) as err:
        ray_launch_for(dataclasses.replace(plan, gpu_class="gpu-141g"))
    assert err.value.field == "models.deepseek-v3.2.engine_defaults.gpu-141g"


def test_one_node_entry_without_ray_needs_no_launch() -> None:
    plan = plan_run(_config("tiny-llama", "cpu-local"))
    assert ray_launch_for(plan, "10.0.0.1:6379") is None


def test_managed_server_on_a_cluster_gets_the_backend_flag_and_address(tmp_path: Path) -> None:
    launch = RayLaunch(address="10.0.0.1:6379", engine=TP8_PP2, field="models.m.engine_defaults.g")
    server = ManagedServer(
        "/models/m", "m", engine_args=["--tensor-parallel-size", "8"], log_path=tmp_path / "l",
        ray_cluster=launch,
    )  # fmt: skip
    cmd = server.command()
    assert cmd[cmd.index("--distributed-executor-backend") + 1] == "ray"
    assert server.environment()["RAY_ADDRESS"] == "10.0.0.1:6379"
    given = ["--distributed-executor-backend", "ray"]
    assert launch.server_args(given) == given  # not added twice
    plain = ManagedServer("/models/m", "m", log_path=tmp_path / "l")
    assert "--distributed-executor-backend" not in plain.command()


def test_managed_server_checks_the_cluster_before_starting_anything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = []

    def refuse(engine, address, **kw):  # type: ignore[no-untyped-def]
        seen.append((engine.gpus, address, kw["field"]))
        raise UserError("cluster too small", field=kw["field"])

    monkeypatch.setattr(multinode, "check_cluster", refuse)
    launch = RayLaunch(address="10.0.0.1:6379", engine=TP8_PP2, field="models.m.engine_defaults.g")
    server = ManagedServer("/models/m", "m", log_path=tmp_path / "log", ray_cluster=launch)
    with pytest.raises(UserError, match="cluster too small"), server:
        pass
    assert seen == [(16, "10.0.0.1:6379", "models.m.engine_defaults.g")]
    assert server.process is None and not (tmp_path / "log").exists()
