"""Where the managed vLLM server runs relative to the client, on hosts with few spare CPUs.

Why (docs/small-hosts.md has the measurements): vLLM's CPU build binds its worker's
threads to all CPUs but one and leaves that one to the engine-core process, which
busy-waits (`sched_yield()` in a loop) on the worker's results for a second after each
read. The API server and the benchmark client then share CPUs with that spinning
process. A yield only lets tasks of the spinner's own scheduler group run, and the
kernel's autogroup scheduler puts every session in its own group: with the server
started in a session of its own, the client waited for a CPU 63-78 % of the time,
its event loop stalled for up to a second, and most outputs reached it in one or two
reads. So, when the host has fewer than `SPARE_CPUS_NEEDED` CPUs beyond what vLLM's
worker and engine core take:

- the server starts in the client's session (its own process group, so teardown still
  reaches all of it): one scheduler group, where the spinner's yields let the client
  and the API server run;
- the server's processes get a lower priority (nice `server_nice`, which any user may
  set on their own children), so a client woken by a network read runs before the API
  server writes the next token instead of after.

Elsewhere (an accelerator engine, or CPUs to spare) it is a no-op. Nothing is pinned:
pinning the API server and the client to one CPU made them queue behind each other
(38-46 % of requests had reads carrying several tokens, against 0.1-2.3 % unpinned).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from bench.records import Placement

PlacementMode = Literal["auto", "off"]
SPARE_CPUS_NEEDED = 2  # one for the API server, one for the client
DEFAULT_SERVER_NICE = 10
_CPU_SYS = Path("/sys/devices/system/cpu")


def allowed_cpus() -> set[int]:
    """CPUs this process may run on (its affinity mask)."""
    try:
        return set(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return set(range(os.cpu_count() or 1))


def physical_cores(cpus: set[int], sys_dir: Path = _CPU_SYS) -> int:
    """Distinct (package, core) pairs among `cpus`; each CPU counts alone when the
    topology files are missing."""
    cores = set()
    for cpu in cpus:
        topo = sys_dir / f"cpu{cpu}" / "topology"
        try:
            package = (topo / "physical_package_id").read_text().strip()
            core = (topo / "core_id").read_text().strip()
        except OSError:
            cores.add(("cpu", str(cpu)))
            continue
        cores.add((package, core))
    return len(cores)


def bound_cpu_count(bind: str) -> int | None:
    """CPUs named by an explicit VLLM_CPU_OMP_THREADS_BIND list ("0-3|4-7", "0,2"); None
    for "auto" / "nobind"."""
    if bind in ("auto", "nobind", ""):
        return None
    count = 0
    for part in bind.replace("|", ",").split(","):
        lo, _, hi = part.strip().partition("-")
        count += int(hi) - int(lo) + 1 if hi else 1
    return count


def spare_cpus(cpus: set[int], cores: int, bind: str = "auto") -> int:
    """CPUs left for the API server and the client once vLLM's CPU worker and engine
    core have theirs.

    vLLM's automatic binding (x86) gives the worker one CPU per physical core and keeps
    one core back for the engine core, so the SMT siblings are what is spare:
    spare = CPUs − cores. With an explicit bind list: spare = CPUs − listed − 1.
    """
    listed = bound_cpu_count(bind)
    if listed is not None:
        return max(0, len(cpus) - listed - 1)
    return max(0, len(cpus) - cores)


def autogroup_enabled() -> bool | None:
    try:
        return Path("/proc/sys/kernel/sched_autogroup_enabled").read_text().strip() == "1"
    except OSError:
        return None


def plan_placement(
    mode: PlacementMode,
    *,
    cpu_engine: bool,
    server_nice: int = DEFAULT_SERVER_NICE,
    cpus: set[int] | None = None,
    cores: int | None = None,
    bind: str | None = None,
) -> Placement:
    """Decide the placement of a managed server (pure once the host facts are given)."""
    cpus = allowed_cpus() if cpus is None else cpus
    cores = physical_cores(cpus) if cores is None else cores
    bind = os.environ.get("VLLM_CPU_OMP_THREADS_BIND", "auto") if bind is None else bind
    spare = spare_cpus(cpus, cores, bind) if cpu_engine else None
    common: dict[str, Any] = {"mode": mode, "cpus": len(cpus), "spare_cpus": spare,
                              "autogroup": autogroup_enabled()}  # fmt: skip
    if mode == "off":
        return Placement(applied=False, reason="turned off (--placement off)", **common)
    if not cpu_engine:
        return Placement(applied=False, reason="accelerator engine: the server does not "
                         "share the client's CPUs", **common)  # fmt: skip
    if spare is not None and spare >= SPARE_CPUS_NEEDED:
        return Placement(applied=False, reason=f"{spare} CPUs to spare beyond vLLM's worker "
                         "and engine core", **common)  # fmt: skip
    return Placement(
        applied=True,
        reason=f"{spare} CPUs to spare beyond vLLM's worker and engine core (need "
        f"{SPARE_CPUS_NEEDED}): server in the client's scheduler group, at nice {server_nice}",
        server_nice=server_nice,
        shared_session=True,
        **common,
    )


def popen_kwargs(placement: Placement) -> dict[str, Any]:
    """How to start the server: its own process group always (teardown by killpg);
    its own session only when the placement does not share the client's."""
    if placement.shared_session:
        return {"process_group": 0}
    return {"start_new_session": True}


def after_spawn(placement: Placement, pid: int) -> None:
    """Lower the server's priority right after it was spawned, before the interpreter
    has started any thread, so every process and thread it creates inherits it. Never
    raises it: a client already running at a higher nice keeps the server at least as low."""
    if placement.server_nice:
        nice = max(placement.server_nice, os.getpriority(os.PRIO_PROCESS, pid))
        os.setpriority(os.PRIO_PROCESS, pid, nice)


def cpu_engine_installed() -> bool:
    """True when the installed vLLM is the CPU build (the server shares the host's CPUs)."""
    from bench.report.provenance import package_version

    return package_version("vllm-cpu") is not None
