"""Placement of a managed server on a small host: the decision from literal host facts, and
what it does to a real child process (session, process group, priority)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.engines.placement import (
    after_spawn,
    bound_cpu_count,
    physical_cores,
    plan_placement,
    popen_kwargs,
    spare_cpus,
)


def _topology(root: Path, cpus: dict[int, tuple[int, int]]) -> Path:
    for cpu, (package, core) in cpus.items():
        topo = root / f"cpu{cpu}" / "topology"
        topo.mkdir(parents=True)
        (topo / "physical_package_id").write_text(f"{package}\n")
        (topo / "core_id").write_text(f"{core}\n")
    return root


def test_physical_cores_counts_smt_siblings_once(tmp_path: Path) -> None:
    # 4 CPUs = 2 cores x 2 threads; a CPU without topology files counts alone
    sys_dir = _topology(tmp_path, {0: (0, 0), 1: (0, 1), 2: (0, 0), 3: (0, 1)})
    assert physical_cores({0, 1, 2, 3}, sys_dir) == 2
    assert physical_cores({0, 1, 2, 3, 7}, sys_dir) == 3


def test_spare_cpus_follow_vllm_binding() -> None:
    # auto binding: the worker takes one CPU per core (one core for the engine core),
    # so the SMT siblings are spare: 2 CPUs on 2 cores -> 0; 64 on 32 -> 32
    assert spare_cpus(set(range(2)), 2) == 0
    assert spare_cpus(set(range(64)), 32) == 32
    # an explicit bind list "0-5": 8 CPUs - 6 listed - 1 for the engine core = 1
    assert bound_cpu_count("0-5") == 6
    assert bound_cpu_count("0-3|4,6") == 6
    assert bound_cpu_count("auto") is None
    assert spare_cpus(set(range(8)), 8, "0-5") == 1


def test_plan_applies_on_a_two_cpu_cpu_engine() -> None:
    placed = plan_placement("auto", cpu_engine=True, cpus={0, 1}, cores=2, bind="auto")
    assert placed.applied and placed.shared_session
    assert placed.server_nice == 10
    assert (placed.cpus, placed.spare_cpus) == (2, 0)
    assert "0 CPUs to spare" in placed.reason


@pytest.mark.parametrize(
    ("mode", "cpu_engine", "cpus", "cores", "why"),
    [
        ("off", True, 2, 2, "turned off"),
        ("auto", False, 2, 2, "accelerator engine"),
        ("auto", True, 64, 32, "32 CPUs to spare"),
    ],
)
def test_plan_is_a_no_op_elsewhere(
    mode: str, cpu_engine: bool, cpus: int, cores: int, why: str
) -> None:
    placed = plan_placement(
        mode,  # type: ignore[arg-type]
        cpu_engine=cpu_engine,
        cpus=set(range(cpus)),
        cores=cores,
        bind="auto",
    )
    assert not placed.applied and placed.server_nice is None and not placed.shared_session
    assert why in placed.reason
    assert popen_kwargs(placed) == {"start_new_session": True}


def test_a_placed_child_shares_the_session_in_its_own_group_at_lower_priority() -> None:
    placed = plan_placement("auto", cpu_engine=True, cpus={0, 1}, cores=2, bind="auto")
    child = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(30)"], **popen_kwargs(placed)
    )
    try:
        after_spawn(placed, child.pid)
        assert os.getsid(child.pid) == os.getsid(0)  # one scheduler (auto)group
        assert os.getpgid(child.pid) == child.pid  # killpg still reaches all of it
        # nice 10, or the test's own nice if that is already lower priority
        assert os.getpriority(os.PRIO_PROCESS, child.pid) == max(10, os.nice(0))
    finally:
        child.kill()
        child.wait()


def test_summary_md_says_where_the_server_ran() -> None:
    from bench.report.io import load_report
    from bench.report.summary import render_summary

    run = Path(__file__).resolve().parents[1] / "fixtures" / "runs" / "l40s" / "sweep-c4"
    report = load_report(run)
    placed = plan_placement("auto", cpu_engine=True, cpus={0, 1}, cores=2, bind="auto")
    provenance = report.provenance.model_copy(update={"placement": placed})
    text = render_summary(report.model_copy(update={"provenance": provenance}))
    assert (
        "- server placement: placed (0 CPUs to spare beyond vLLM's worker and engine core "
        "(need 2): server in the client's scheduler group, at nice 10)"
    ) in text
    assert "server placement" not in render_summary(report)  # runs without one say nothing
