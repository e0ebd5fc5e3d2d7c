"""A local multi-node Ray cluster inside a network namespace that has only loopback.

Ray binds the host's external address unless the machine has none, and nothing here may
talk to anything but loopback: every Ray node, and every process that drives the
cluster, runs under `ip netns exec NS` in a namespace whose only interface is `lo`
(so Ray uses 127.0.0.1). Three Ray nodes stand for three GPU servers: `--num-gpus 8`
works without GPUs, `accelerator_type:<TYPE>` resources stand for the GPU type (the
resource Ray itself adds on NVIDIA hosts) and `--labels node-name=X` names them.

Teardown kills exactly the processes in the namespace (`ip netns pids`), by id: `ray
stop` matches process names across the whole machine and would stop other clusters.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

PORT = 6390
NODES = {  # name -> (GPU type, GPUs)
    "a": ("H100", 8),
    "b": ("H100", 8),
    "c": ("L40S", 8),
}


def _node_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        RAY_USAGE_STATS_ENABLED="0",
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        # a killed node is declared dead after ~3 s instead of ~15 s
        RAY_health_check_period_ms="1000",
        RAY_health_check_failure_threshold="3",
        RAY_health_check_timeout_ms="1000",
    )
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    return env


class LocalRayCluster:
    """Handle on the namespace cluster: run commands inside it, kill and restart nodes."""

    def __init__(self, ns: str, tmp: Path) -> None:
        self.ns = ns
        self.tmp = tmp
        self.address = f"127.0.0.1:{PORT}"
        self.env = _node_env()
        # jobs' work directories land here, so a killed job's leftovers go with teardown
        (tmp / "work").mkdir()
        self.env["TMPDIR"] = str(tmp / "work")
        self.ray = str(Path(sys.executable).parent / "ray")

    def inside(self, *cmd: str) -> list[str]:
        return ["ip", "netns", "exec", self.ns, *cmd]

    def run(
        self, *cmd: str, timeout: float = 180, **kw: object
    ) -> subprocess.CompletedProcess[str]:
        """Run `cmd` inside the namespace; stdout/stderr captured as text."""
        return subprocess.run(
            self.inside(*cmd), capture_output=True, text=True, env=self.env, timeout=timeout,
            **kw,  # type: ignore[arg-type]
        )  # fmt: skip

    def bench_fleet(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        """`bench fleet ARGS` inside the namespace (python -m bench.fleet)."""
        return self.run(sys.executable, "-m", "bench.fleet", *args, timeout=timeout)

    def popen_fleet(self, *args: str, log: Path) -> subprocess.Popen[bytes]:
        with log.open("wb") as out:
            return subprocess.Popen(
                self.inside(sys.executable, "-m", "bench.fleet", *args),
                stdout=out, stderr=subprocess.STDOUT, env=self.env,
            )  # fmt: skip

    def start_cmd(self, name: str, head: bool) -> list[str]:
        gpu_type, gpus = NODES[name]
        cmd = [
            self.ray, "start", "--num-cpus", "1", "--num-gpus", str(gpus),
            "--object-store-memory", "100000000", "--disable-usage-stats",
            "--resources", json.dumps({f"accelerator_type:{gpu_type}": 1}),
            "--labels", f"node-name={name}",
        ]  # fmt: skip
        if head:
            cmd += ["--head", f"--port={PORT}", "--include-dashboard=false"]
            cmd += [f"--temp-dir={self.tmp / 'ray'}"]
        else:
            cmd += [f"--address={self.address}"]
        return cmd

    def start_node(self, name: str, head: bool = False) -> None:
        """`ray start` of one node, one after the other (parallel starts overload 2 cores).

        `ray start` gives up after 30 s (hard-coded) when its raylet has not registered
        yet, which a loaded machine can exceed while the raylet still comes up: then wait
        for the node to show up alive before calling it a failure.
        """
        done = self.run(*self.start_cmd(name, head), timeout=180)
        if done.returncode != 0 and name not in self.alive_names(wait_for=name):
            raise RuntimeError(f"ray start of node {name} failed:\n{done.stdout[-3000:]}")

    def alive_names(self, wait_for: str | None = None, timeout_s: float = 60) -> list[str]:
        """Names of the alive nodes; with `wait_for`, until that name is among them."""
        code = (
            f"import ray; ray.init(address='{self.address}', logging_level='ERROR'); "
            "print(sorted(n['Labels'].get('node-name', '?') for n in ray.nodes() if n['Alive']))"
        )
        deadline = time.monotonic() + timeout_s
        names: list[str] = []
        while True:
            done = self.run(sys.executable, "-c", code, timeout=90)
            lines = done.stdout.strip().splitlines()
            names = json.loads(lines[-1].replace("'", '"')) if done.returncode == 0 else []
            if wait_for is None or wait_for in names or time.monotonic() > deadline:
                return names
            time.sleep(2)

    def pids(self) -> list[int]:
        out = subprocess.run(
            ["ip", "netns", "pids", self.ns], capture_output=True, text=True, check=False
        ).stdout
        return [int(p) for p in out.split()]

    def node_pids(self, node_id: str) -> list[int]:
        """Processes of one Ray node: its raylet and agents (their command lines carry the
        node id) and everything they started (workers, a job's synthetic server)."""
        marks = (f"--node_id={node_id}", f"--node-id={node_id}")
        roots = [p for p in self.pids() if any(m in _cmdline(p) for m in marks)]
        return sorted(set(roots) | {d for r in roots for d in _descendants(r)})

    def kill_node(self, node_id: str) -> list[int]:
        pids = self.node_pids(node_id)
        for pid in pids:
            _kill(pid)
        return pids

    def teardown(self) -> None:
        for _ in range(10):
            pids = self.pids()
            if not pids:
                break
            for pid in pids:
                _kill(pid)
            time.sleep(0.5)
        subprocess.run(["ip", "netns", "del", self.ns], check=False, capture_output=True)
        shutil.rmtree(self.tmp, ignore_errors=True)


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in out:
                out.add(child)
                todo.append(child)
    return out


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _namespace_or_skip(ns: str) -> None:
    if shutil.which("ip") is None:
        pytest.skip("the Ray tests need `ip` (iproute2) for a loopback-only network namespace")
    made = subprocess.run(["ip", "netns", "add", ns], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(
            "cannot create a network namespace (`ip netns add` said: "
            f"{made.stderr.strip() or made.returncode}); the Ray tests run their cluster in "
            "a loopback-only namespace and need root (CAP_SYS_ADMIN)"
        )
    subprocess.run(["ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"], check=True)


@pytest.fixture(scope="session")
def ray_cluster():  # type: ignore[no-untyped-def]
    """Three Ray nodes (a, b: H100 × 8; c: L40S × 8, all fake) in a fresh namespace."""
    pytest.importorskip("ray", reason="Ray is not installed (pip install 'ray==2.60.0')")
    ns = f"tbfleet{os.getpid()}"
    _namespace_or_skip(ns)
    cluster = LocalRayCluster(ns, Path(tempfile.mkdtemp(prefix="tbf-", dir="/tmp")))
    try:
        cluster.start_node("a", head=True)
        cluster.start_node("b")
        cluster.start_node("c")
        names = cluster.alive_names(wait_for="c")
        assert names == ["a", "b", "c"], names
        yield cluster
    finally:
        cluster.teardown()
