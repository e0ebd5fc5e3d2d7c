"""Fleet runs and the multi-node check on a local 3-node Ray cluster (see conftest.py).

Each node's job benchmarks the built-in synthetic server started on that node; the
commands run as `python -m bench.fleet …` (= `bench fleet …`) inside the namespace.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest
import yaml

from bench.store import Store

pytestmark = pytest.mark.slow

SPEC = {
    "run": {
        "model": "tiny-llama",
        "workload": {"kind": "shape", "input_tokens": 16, "output_tokens": 16},
        "load": {"kind": "concurrency", "concurrency": 4},
        "num_requests": 24,
        "hardware": "cpu-local",
    },
    "synth": {"ttft_s": 0.02, "itl_s": 0.004},
}


def write_spec(tmp_path: Path, per_node: dict[str, dict[str, float]], **run: object) -> Path:
    spec = json.loads(json.dumps(SPEC))
    spec["synth"]["per_node"] = per_node
    spec["run"].update(run)
    path = tmp_path / "fleet.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def manifest(fleet_dir: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((fleet_dir / "fleet.json").read_text())


def nodes_of(fleet_dir: Path) -> dict[str, dict]:  # type: ignore[type-arg]
    return {n["name"]: n for n in manifest(fleet_dir)["nodes"]}


def store_runs(store: Path) -> dict[str, object]:
    with Store(store) as db:
        return {e.run_id: e for e in db.list_runs().runs}


def test_cluster_check_says_what_is_missing(ray_cluster, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    catalog = yaml.safe_load((Path(__file__).parents[2] / "models.yaml").read_text())
    big = next(m for m in catalog["models"] if m["id"] == "deepseek-v3.2")
    huge = {
        **big,
        "id": "huge",
        "engine_defaults": {
            "gpu-80g": {
                "tensor_parallel_size": 8,
                "pipeline_parallel_size": 4,
                "nodes": 4,
                "distributed_executor_backend": "ray",
            }
        },
    }
    catalog["models"].append(huge)
    (tmp_path / "models.yaml").write_text(yaml.safe_dump(catalog))
    ray_cluster.env["TOKENBENCH_MODELS"] = str(tmp_path / "models.yaml")
    address = ray_cluster.address
    listed = ray_cluster.bench_fleet("nodes", "--address", address)
    assert listed.returncode == 0, listed.stderr
    rows = {line.split()[0]: line for line in listed.stdout.splitlines()}
    assert sorted(rows) == ["a", "b", "c"]
    assert "H100" in rows["a"] and "GPUs 8/8  alive  node-name=a" in rows["a"]
    assert "L40S" in rows["c"]
    try:
        fits = ray_cluster.bench_fleet(
            "check", "--model", "deepseek-v3.2", "--hardware", "h100-sxm", "--address", address
        )
        assert fits.returncode == 0, fits.stderr
        assert "16 GPUs over nodes 2" in fits.stdout

        short = ray_cluster.bench_fleet(
            "check", "--model", "huge", "--hardware", "h100-sxm", "--address", address
        )
        assert short.returncode == 2, short.stdout + short.stderr
        err = short.stderr
        assert "models.yaml: models.huge.engine_defaults.gpu-80g:" in err
        assert "needs 4 node(s) with ≥ 8 free GPUs each" in err
        assert "missing: 1 more node with ≥ 8 free GPUs (3 of the 4 needed are there)" in err
        assert "8 more free GPUs in all (24 of 32)" in err
        for name in "abc":
            assert f"{name} (127.0.0.1, id " in err
        assert "8/8 GPUs free, L40S — fits" in err
        assert "Traceback" not in err

        typed = ray_cluster.bench_fleet(
            "check", "--model", "deepseek-v3.2", "--hardware", "h100-sxm",
            "--gpu-type", "L40S", "--address", address,
        )  # fmt: skip
        assert typed.returncode == 2
        assert "1 more node with ≥ 8 free L40S GPUs (1 of the 2 needed are there)" in typed.stderr
        assert "8/8 GPUs free, H100 — not L40S" in typed.stderr

        # the managed launcher itself: address from RAY_ADDRESS, refused before vLLM starts
        code = f"""
import json
from pathlib import Path
from bench.config.run import ConcurrencyLoad, RunConfig, ShapeWorkload
from bench.engines.managed import ManagedServer
from bench.errors import UserError
from bench.cluster.multinode import ray_launch_for
from bench.config.plan import plan_run
out = Path({str(tmp_path)!r})
plan = plan_run(RunConfig(model="huge", hardware="h100-sxm", num_requests=1,
    workload=ShapeWorkload(input_tokens=8, output_tokens=8),
    load=ConcurrencyLoad(concurrency=1), output_dir=out / "run"))
launch = ray_launch_for(plan)
server = ManagedServer("/no/model", "huge", engine_args=plan.engine_args,
    log_path=out / "server.log", ray_cluster=launch)
try:
    server.start()
except UserError as exc:
    print(json.dumps({{"field": exc.field, "message": exc.message, "gpus": plan.gpus,
        "address": launch.address, "started": server.process is not None,
        "cmd": server.command()}}))
"""
        ray_cluster.env["RAY_ADDRESS"] = address
        launched = ray_cluster.run(sys.executable, "-c", code)
        assert launched.returncode == 0, launched.stderr[-3000:]
        got = json.loads(launched.stdout.strip().splitlines()[-1])
        assert got["field"] == "models.huge.engine_defaults.gpu-80g"
        assert got["gpus"] == 32 and got["address"] == address and got["started"] is False
        assert "missing: 1 more node" in got["message"]
        assert got["cmd"][got["cmd"].index("--distributed-executor-backend") + 1] == "ray"
        assert not (tmp_path / "server.log").exists()
    finally:
        ray_cluster.env.pop("TOKENBENCH_MODELS", None)
        ray_cluster.env.pop("RAY_ADDRESS", None)


def test_three_node_fleet_lands_in_the_store_and_flags_the_slow_node(  # type: ignore[no-untyped-def]
    ray_cluster, tmp_path: Path
) -> None:
    spec = write_spec(tmp_path, {"c": {"itl_s": 0.02}})  # c streams 5× slower
    fleet, store = tmp_path / "fleet", tmp_path / "index.sqlite"
    done = ray_cluster.bench_fleet(
        "run", str(spec), "--out", str(fleet), "--address", ray_cluster.address,
        "--store", str(store), timeout=240,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr[-4000:]
    m = manifest(fleet)
    assert m["status"] == "complete"
    nodes = nodes_of(fleet)
    assert sorted(nodes) == ["a", "b", "c"]
    runs = store_runs(store)
    for name, node in nodes.items():
        assert node["status"] == "done" and node["attempts"] == 1 and node["reason"] is None
        assert node["gpu_type"] == ("L40S" if name == "c" else "H100") and node["gpus"] == 8
        (run_id,) = node["run_ids"]
        entry = runs[run_id]
        assert entry.run_dir == str((fleet / "nodes" / name / "attempt-1" / "run").resolve())
        assert entry.status == "complete" and entry.requests_ok == 24
    summary = json.loads((fleet / "fleet_summary.json").read_text())
    rows = {r["name"]: r["standing"] for r in summary["nodes"]}
    assert sorted(rows) == ["a", "b", "c"]
    assert [r["name"] for r in summary["nodes"] if r["standing"]["outlier"]] == ["c"]
    assert rows["c"]["value"] < 0.5 * min(rows["a"]["value"], rows["b"]["value"])
    assert rows["c"]["rank"] == 3 and rows["c"]["ratio"] < 0.9
    assert "| c | cpu-local | L40S | done |" in done.stdout and "OUTLIER" in done.stdout

    again = ray_cluster.bench_fleet("summary", str(fleet), "--store", str(store), "--json")
    assert again.returncode == 0, again.stderr
    listed = json.loads(again.stdout)
    assert [n["name"] for n in listed["nodes"]] == [r["name"] for r in summary["nodes"]]
    assert listed["store"] == str(store)


def _wait_for_job(ray_cluster, node_id: str, timeout_s: float = 150) -> None:  # type: ignore[no-untyped-def]
    """Until the node runs its job's synthetic server (the job is then mid-run)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for pid in ray_cluster.node_pids(node_id):
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if b"bench.synth.control" in cmd:
                return
        time.sleep(0.3)
    raise AssertionError(f"node {node_id[:8]} never started its job")


def test_killed_node_is_reported_and_resume_runs_only_it(ray_cluster, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    spec = write_spec(tmp_path, {"b": {"ttft_s": 1.5}}, num_requests=16)  # b: ≥ 6 s of load
    fleet, store = tmp_path / "fleet", tmp_path / "index.sqlite"
    args = ["--address", ray_cluster.address, "--store", str(store)]
    proc = ray_cluster.popen_fleet(
        "run", str(spec), "--out", str(fleet), *args, log=tmp_path / "log"
    )
    try:
        deadline = time.monotonic() + 60
        while not (fleet / "fleet.json").exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        victim = nodes_of(fleet)["b"]["node_id"]
        _wait_for_job(ray_cluster, victim)
        time.sleep(0.5)
        assert ray_cluster.kill_node(victim)
        rc = proc.wait(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
    log = (tmp_path / "log").read_text()
    assert rc == 1, log[-4000:]
    nodes = nodes_of(fleet)
    assert [nodes[n]["status"] for n in "abc"] == ["done", "failed", "done"]
    reason, short = nodes["b"]["reason"], victim[:8]
    assert reason.startswith(
        (
            f"node b (127.0.0.1, id {short}) died mid-run: ",
            f"the job's worker on b (127.0.0.1, id {short}) died",
        )
    ), reason
    assert "1 of 3 node(s) did not complete: b (" in log and "--resume" in log
    assert manifest(fleet)["status"] == "incomplete"
    first = {n: nodes[n]["run_ids"] for n in "ac"}
    assert set(store_runs(store)) == {first["a"][0], first["c"][0]}

    ray_cluster.start_node("b")  # the node comes back: new Ray id, same name
    resumed = ray_cluster.bench_fleet("run", "--resume", str(fleet), *args, timeout=240)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr[-4000:]
    assert "2 node(s) done, kept: a, c" in resumed.stderr
    after = nodes_of(fleet)
    for name in "ac":  # finished nodes were not run again
        assert after[name]["attempts"] == 1 and after[name]["run_ids"] == first[name]
        assert after[name]["finished_utc"] == nodes[name]["finished_utc"]
    assert after["b"]["status"] == "done" and after["b"]["attempts"] == 2
    assert after["b"]["node_id"] != victim
    assert (fleet / "nodes" / "b" / "attempt-2" / "run" / "report.json").is_file()
    m = manifest(fleet)
    assert m["status"] == "complete" and m["runs"] == 2
    assert set(store_runs(store)) == {*first["a"], *first["c"], *after["b"]["run_ids"]}


def test_fleet_accept_brings_back_verdicts_and_inference_runs(ray_cluster, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fleet, store = tmp_path / "accept", tmp_path / "index.sqlite"
    done = ray_cluster.bench_fleet(
        "accept", "--sku", "cpu-local", "--synth", "--no-micro", "--node", "a", "--node", "c",
        "--out", str(fleet), "--address", ray_cluster.address, "--store", str(store),
        timeout=240,
    )  # fmt: skip
    nodes = nodes_of(fleet)
    assert sorted(nodes) == ["a", "c"], done.stderr[-3000:]
    runs = store_runs(store)
    for name in "ac":
        node = nodes[name]
        assert node["status"] == "done", node["reason"]
        verdict = json.loads((fleet / node["result_dir"] / "verdict.json").read_text())
        assert verdict["sku"] == "cpu-local" and verdict["overall"] == node["verdict"]
        assert verdict["inference"]["output_tok_per_s"] > 0
        (run_id,) = node["run_ids"]  # inference-001, registered centrally
        assert runs[run_id].run_dir.endswith(f"{node['result_dir']}/inference-001")
    codes = {"pass": 0, "fail": 1, "incomplete": 3}
    worst = max(codes[nodes[n]["verdict"]] for n in "ac")
    assert done.returncode == worst, done.stdout + done.stderr[-3000:]
