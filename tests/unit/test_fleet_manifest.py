"""Fleet manifest, spec, shipping run directories, resume bookkeeping and the summary."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from bench.cluster.nodes import ClusterNode
from bench.errors import UserError
from bench.fleet.jobs import pack, unpack
from bench.fleet.manifest import FLEET_MANIFEST, finish, new_manifest, to_run, update_node
from bench.fleet.records import RunJob, Selection, SynthRehearsal, SynthTiming
from bench.fleet.run import dir_name, rebind
from bench.fleet.spec import load_run_spec
from bench.fleet.summary import render_summary, summarize_fleet
from bench.store import register_run

FIXTURE = Path(__file__).parents[1] / "fixtures" / "runs" / "h100-sxm" / "sweep-c4" / "report.json"
SPEC = """
run:
  model: tiny-llama
  workload: {kind: shape, input_tokens: 16, output_tokens: 8}
  load: {kind: concurrency, concurrency: 2}
  num_requests: 4
synth: {itl_s: 0.004, per_node: {c: {itl_s: 0.02}}}
"""


def node(name: str, alive: bool = True) -> ClusterNode:
    return ClusterNode(
        node_id=name * 56,
        name=name,
        address="127.0.0.1",
        hostname="vm",
        alive=alive,
        death_reason=None if alive else "health check failed",
        gpus=1,
    )


def job(tmp_path: Path) -> RunJob:
    (tmp_path / "spec.yaml").write_text(SPEC)
    return load_run_spec(tmp_path / "spec.yaml")


def test_spec_loads_and_resolves_per_node_synth_timing(tmp_path: Path) -> None:
    spec = job(tmp_path)
    assert spec.run.model == "tiny-llama" and spec.run.hardware == "cpu-local"
    assert spec.synth is not None
    assert spec.synth.for_node("c") == SynthTiming(ttft_s=0.05, itl_s=0.02, tokens_per_chunk=1)
    assert spec.synth.for_node("a").itl_s == 0.004


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("run: {model: m, output_dir: /x}", "run.output_dir"),
        ("runs: {}", "run"),
        (SPEC + "bogus: 1\n", "bogus"),
        (
            SPEC.replace("num_requests: 4", "num_requests: 4\n  engine: {kind: offline}"),
            "(top level)",
        ),
    ],
)
def test_bad_specs_name_the_field(tmp_path: Path, text: str, field: str) -> None:
    (tmp_path / "s.yaml").write_text(text)
    with pytest.raises(UserError) as err:
        load_run_spec(tmp_path / "s.yaml")
    assert err.value.field == field
    assert err.value.file == str(tmp_path / "s.yaml")


def test_manifest_round_trip_and_bookkeeping(tmp_path: Path) -> None:
    nodes = [node("a"), node("b"), node("c", alive=False)]
    skus = {"a": "cpu-local", "b": "cpu-local", "c": "cpu-local"}
    manifest = new_manifest(job(tmp_path), Selection(), "127.0.0.1:6390", nodes, skus)
    assert [n.status for n in manifest.nodes] == ["pending", "pending", "failed"]
    assert "is dead: health check failed" in (manifest.nodes[2].reason or "")
    manifest = update_node(manifest, "a", status="done", run_ids=["r-a"], attempts=1)
    assert [n.name for n in to_run(manifest)] == ["b", "c"]
    assert finish(manifest).status == "incomplete"
    FLEET_MANIFEST.write(manifest, tmp_path / "f")
    again = FLEET_MANIFEST.read(tmp_path / "f")
    assert again == manifest
    assert isinstance(again.job, RunJob) and again.job.synth == manifest.job.synth
    everything = manifest
    for name in ("b", "c"):
        everything = update_node(everything, name, status="done")
    assert finish(everything).status == "complete"


def test_reading_a_missing_or_bad_manifest_says_so(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no fleet manifest here"):
        FLEET_MANIFEST.read(tmp_path)
    (tmp_path / "fleet.json").write_text(json.dumps({"kind": "fleet"}))
    with pytest.raises(UserError) as err:
        FLEET_MANIFEST.read(tmp_path)
    assert err.value.field == "fleet_id"


def test_resume_rebinds_by_name_or_fails_the_node(tmp_path: Path) -> None:
    manifest = new_manifest(
        job(tmp_path),
        Selection(),
        "x",
        [node("a"), node("b")],
        {"a": "cpu-local", "b": "cpu-local"},
    )
    manifest = update_node(manifest, "a", status="failed", reason="died")
    restarted = node("a").model_copy(update={"node_id": "f" * 56})
    manifest = rebind(manifest, manifest.nodes[0], [node("a", alive=False), restarted])
    assert (manifest.nodes[0].status, manifest.nodes[0].node_id) == ("pending", "f" * 56)
    assert manifest.nodes[0].reason is None
    gone = rebind(manifest, manifest.nodes[1], [node("b", alive=False)])
    assert gone.nodes[1].status == "failed" and "is dead" in (gone.nodes[1].reason or "")
    missing = rebind(manifest, manifest.nodes[1], [])
    assert missing.nodes[1].reason == "node b is not in the cluster now"


def test_pack_unpack_round_trip_and_hostile_archives(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "run").mkdir(parents=True)
    (src / "run" / "report.json").write_text("{}")
    dest = unpack(pack(src), tmp_path / "fleet" / "nodes" / "a" / "attempt-1")
    assert (dest / "run" / "report.json").read_text() == "{}"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("../escaped")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(tarfile.OutsideDestinationError):
        unpack(buffer.getvalue(), tmp_path / "x" / "attempt-1")
    assert not (tmp_path / "x" / "escaped").exists()
    assert not (tmp_path / "x" / "attempt-1").exists()
    assert dir_name("gpu/07") == "gpu_07" and dir_name("..") == "node"


def _run_dir(root: Path, run_id: str, tok_per_s: float) -> Path:
    report = json.loads(FIXTURE.read_text())
    report["run_id"] = run_id
    report["summary"]["steady_state"]["output_tok_per_s"] = tok_per_s
    run = root / run_id
    run.mkdir(parents=True)
    (run / "report.json").write_text(json.dumps(report))
    return run


def test_summary_takes_figures_from_the_store_and_flags_the_slow_node(tmp_path: Path) -> None:
    store = tmp_path / "index.sqlite"
    for name, value in (("a", 600.0), ("b", 590.0), ("c", 300.0)):
        register_run(_run_dir(tmp_path / "runs", f"run-{name}", value), store)
    skus = dict.fromkeys("abcd", "h100-sxm")
    nodes = [node(n) for n in "abcd"]
    manifest = new_manifest(job(tmp_path), Selection(), "x", nodes, skus)
    for name in "abc":
        manifest = update_node(manifest, name, status="done", run_ids=[f"run-{name}"])
    manifest = update_node(manifest, "d", status="failed", reason="node d died mid-run")
    summary = summarize_fleet(finish(manifest), store)
    assert [r.name for r in summary.nodes] == ["a", "b", "c", "d"]
    values = {r.name: r.standing.value for r in summary.nodes}
    assert values == {"a": 600.0, "b": 590.0, "c": 300.0, "d": None}
    # margin: hardware/h100-sxm.yaml's acceptance.outlier_margin_fraction, 0.05
    assert summary.outliers == ["c"]  # 300 / median(600, 590) = 0.504 < 0.95
    c = summary.nodes[2].standing
    assert c.ratio == pytest.approx(300 / 595) and c.margin == 0.05
    assert summary.nodes[1].standing.ratio == pytest.approx(590 / 450)  # median(600, 300)
    wide = summarize_fleet(finish(manifest), store, margin=0.5)
    assert wide.outliers == []  # 0.504 is not < 1 − 0.5
    text = render_summary(summary)
    assert "| 3/3 | c | h100-sxm |" in text and "OUTLIER" in text
    assert "node d died mid-run" in text
    gone = update_node(manifest, "a", run_ids=["not-there"])
    assert summarize_fleet(gone, store).notes == [f"a: run not-there is not in the store {store}"]


def test_synth_rehearsal_defaults_apply_to_unlisted_nodes() -> None:
    rehearsal = SynthRehearsal(ttft_s=0.01, per_node={"x": SynthTiming(ttft_s=0.5)})
    assert rehearsal.for_node("x") == SynthTiming(ttft_s=0.5, itl_s=0.005, tokens_per_chunk=1)
    assert rehearsal.for_node("y").ttft_s == 0.01


def test_failure_reasons_for_job_errors_and_dead_nodes() -> None:
    pytest.importorskip("ray")
    from ray import exceptions as rex

    from bench.fleet.run import failure_reason

    user = rex.RayTaskError("run_node_task", "tb", UserError("bad", field="f", fix="do x"))
    assert failure_reason(user, node("a")) == "f: bad   fix: do x"
    other = rex.RayTaskError("run_node_task", "tb", ValueError("boom\nmore"))
    assert failure_reason(other, node("a")) == "the job failed: ValueError: boom"
    died = rex.NodeDiedError("node gone")
    assert failure_reason(died, node("b", alive=False)) == (
        f"node b (127.0.0.1, id {'b' * 8}) died mid-run: health check failed (NodeDiedError)"
    )
    assert failure_reason(died, node("b")) == (
        f"the job's worker on b (127.0.0.1, id {'b' * 8}) died (NodeDiedError: node gone)"
    )
    assert failure_reason(died, None).startswith("node left the cluster mid-run (NodeDiedError")


def test_fleet_accept_exit_code_is_the_worst_verdict() -> None:
    from bench.fleet.cli_impl import verdict_exit_code

    assert verdict_exit_code(["pass", "pass"]) == 0
    assert verdict_exit_code(["pass", "incomplete"]) == 3
    assert verdict_exit_code(["incomplete", "fail", "pass"]) == 1
    assert verdict_exit_code(["pass", None]) == 3  # a node without a verdict is not a pass


def test_node_updates_are_validated(tmp_path: Path) -> None:
    from pydantic import ValidationError

    manifest = new_manifest(job(tmp_path), Selection(), "x", [node("a")], {"a": "cpu-local"})
    with pytest.raises(ValidationError):
        update_node(manifest, "a", status="finished")  # not a NodeStatus
