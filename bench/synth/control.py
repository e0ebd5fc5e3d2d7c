"""Start and stop the synthetic server: in the foreground (CLI), a subprocess or a thread.

`SynthServer` is the handle tests and `bench calibrate` use:

    with SynthServer(SynthConfig(ttft_s=0.05, itl_s=0.005)) as server:
        ... drive server.base_url ...
        records = server.records()

A subprocess (the default) has its own interpreter and GIL, so the client under test and
the server never share one; `mode="thread"` runs the server's loop in a thread of this
process (cheaper to start, but it competes with the caller for the GIL).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import select
import signal
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Callable
from typing import Any, Literal

from bench.errors import UserError
from bench.synth.records import (
    LatenessSummary,
    SynthConfig,
    SynthRequestRecord,
    lateness_summary,
    write_records,
)

READY_PREFIX = "synth-server-port="
ERROR_PREFIX = "synth-server-error="
_PR_SET_PDEATHSIG = 1
_START_TIMEOUT_S = 30.0


def check_cpu(cpu: int | None) -> None:
    """Raises UserError if `cpu` is not a CPU of this machine (pinning checks the rest)."""
    if cpu is None:
        return
    count = os.cpu_count() or 1
    if cpu >= count:
        raise UserError(
            f"CPU {cpu} does not exist (this machine has {count})",
            field="--cpu",
            fix=f"choose a CPU number from 0 to {count - 1}",
        )


def check_config(config: SynthConfig) -> None:
    """What validation cannot see: the CPU exists, the record's folder exists.

    Raises:
        UserError: naming the option and the fix.
    """
    check_cpu(config.cpu)
    if config.record_path is not None and not config.record_path.parent.is_dir():
        raise UserError(
            "the record's folder does not exist",
            file=config.record_path,
            field="--record",
            fix="create the folder first, or give another path",
        )


def run_foreground(
    config: SynthConfig,
    on_ready: Callable[[int, Any], None],
    *,
    handle_signals: bool = True,
) -> LatenessSummary:
    """Serve in this thread until SIGTERM/SIGINT (or `core.request_stop()`), then write the
    record. `on_ready(port, core)` is called once listening (`core`: `server.SynthCore`).

    Returns the lateness summary of every finished request.
    """
    from bench.synth import server as srv

    check_config(config)
    if config.cpu is not None:
        try:
            srv.pin_to_cpu(config.cpu)
        except OSError as exc:
            raise UserError(
                f"cannot pin to CPU {config.cpu}: {exc.strerror}",
                field="--cpu",
                fix="choose a CPU this process may use (see `taskset -pc $$`)",
            ) from None
    loop = srv.new_event_loop()
    asyncio.set_event_loop(loop)

    listening = False

    def ready(port: int, core: srv.SynthCore) -> None:
        nonlocal listening
        listening = True
        if handle_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, core.request_stop)
        gc.freeze()  # start-up objects never need scanning again
        on_ready(port, core)

    try:
        core = loop.run_until_complete(srv.serve(config, ready))
    except OSError as exc:
        if listening:
            raise
        raise UserError(
            f"cannot listen on {config.host}:{config.port}: {exc.strerror}",
            field="--port",
            fix="choose a free port, or 0 for any free port",
        ) from None
    finally:
        loop.close()
    records = core.records()
    if config.record_path is not None:
        write_records(records, config.record_path)
    return lateness_summary(records)


def _child_main(config_json: str) -> None:
    """Subprocess entry: serve `config_json`, announce the port on stdout."""
    config = SynthConfig.model_validate_json(config_json)
    if sys.platform == "linux":  # never outlive the process that started us
        import ctypes

        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)

    def announce(port: int, core: object) -> None:
        print(f"{READY_PREFIX}{port}", flush=True)

    try:
        summary = run_foreground(config, announce)
    except UserError as exc:  # handed to the parent, which raises it again
        error = {"message": exc.message, "field": exc.field, "fix": exc.fix}
        print(f"{ERROR_PREFIX}{json.dumps(error)}", flush=True)
        sys.exit(2)
    with contextlib.suppress(BrokenPipeError):  # the parent may be gone
        print(summary.model_dump_json(), flush=True)


class SynthServer:
    """Handle on one synthetic server; `start()` returns the port, `stop()` ends it."""

    def __init__(
        self,
        config: SynthConfig | None = None,
        *,
        mode: Literal["process", "thread"] = "process",
        **fields: Any,
    ) -> None:
        """`config`, or the `SynthConfig` fields as keywords (`ttft_s=0.05, itl_s=0.005`)."""
        if config is not None and fields:
            raise TypeError("give a SynthConfig or its fields, not both")
        self.config = config or SynthConfig(**fields)
        self.mode = mode
        self.port: int | None = None
        self.summary: LatenessSummary | None = None
        self._proc: subprocess.Popen[str] | None = None
        self._thread: threading.Thread | None = None
        self._core: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._error: BaseException | None = None

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RuntimeError("SynthServer is not started")
        return f"http://{self.config.host}:{self.port}"

    @property
    def pid(self) -> int:
        """Process id of the server (this process in thread mode)."""
        return self._proc.pid if self._proc is not None else os.getpid()

    def start(self) -> int:
        """Start serving; returns the port once it accepts connections.

        Raises:
            UserError: a CPU or record path that cannot work.
            RuntimeError: the server did not come up (its stderr says why).
        """
        check_config(self.config)
        if self.mode == "process":
            self.port = self._start_process()
        else:
            self.port = self._start_thread()
        return self.port

    def _start_process(self) -> int:
        code = "import sys; from bench.synth.control import _child_main; _child_main(sys.argv[1])"
        self._proc = subprocess.Popen(
            [sys.executable, "-c", code, self.config.model_dump_json()],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert self._proc.stdout is not None
        ready, _, _ = select.select([self._proc.stdout], [], [], _START_TIMEOUT_S)
        line = self._proc.stdout.readline() if ready else ""
        if line.startswith(ERROR_PREFIX):
            self._proc.wait()
            self._proc = None
            raise UserError(**json.loads(line[len(ERROR_PREFIX) :]))
        if not line.startswith(READY_PREFIX):
            self._proc.kill()
            self._proc.wait()
            raise RuntimeError(f"synthetic server did not start (said {line!r})")
        return int(line[len(READY_PREFIX) :])

    def _start_thread(self) -> int:
        started = threading.Event()
        port_box: list[int] = []

        def on_ready(port: int, core: Any) -> None:
            self._core, self._loop = core, core.loop
            port_box.append(port)
            started.set()

        def target() -> None:
            try:
                self.summary = run_foreground(self.config, on_ready, handle_signals=False)
            except BaseException as exc:  # surfaced by start()/stop()
                self._error = exc
                started.set()

        self._thread = threading.Thread(target=target, name="synth-server", daemon=True)
        self._thread.start()
        if not started.wait(_START_TIMEOUT_S) or not port_box:
            raise RuntimeError(f"synthetic server did not start: {self._error!r}")
        return port_box[0]

    def get(self, path: str) -> bytes:
        """GET `path` from the server; the body."""
        with urllib.request.urlopen(self.base_url + path, timeout=30) as response:
            body: bytes = response.read()
            return body

    def records(self, *, clear: bool = False) -> list[SynthRequestRecord]:
        """What the server sent, per finished request (fetched from `/synth/records`)."""
        body = self.get("/synth/records" + ("?clear=1" if clear else ""))
        return [SynthRequestRecord.model_validate(json.loads(line)) for line in body.splitlines()]

    def stats(
        self, *, since_ns: int | None = None, until_ns: int | None = None, clear: bool = False
    ) -> LatenessSummary:
        """The server's own lateness summary over finished requests (`/synth/stats`), for
        chunks sent in `[since_ns, until_ns)` when given; `clear` forgets those records."""
        query = [f"since_ns={since_ns}"] if since_ns is not None else []
        query += [f"until_ns={until_ns}"] if until_ns is not None else []
        query += ["clear=1"] if clear else []
        suffix = "?" + "&".join(query) if query else ""
        return LatenessSummary.model_validate_json(self.get("/synth/stats" + suffix))

    def stop(self) -> None:
        """Stop serving (in-flight streams are recorded as disconnected); idempotent."""
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.send_signal(signal.SIGTERM)
            try:
                out, _ = self._proc.communicate(timeout=15)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                out, _ = self._proc.communicate()
            last = out.strip().splitlines()[-1:] if out else []
            if last and last[0].startswith("{"):
                self.summary = LatenessSummary.model_validate_json(last[0])
            self._proc = None
        if self._thread is not None:
            if self._loop is not None and self._core is not None:
                self._loop.call_soon_threadsafe(self._core.request_stop)
            self._thread.join(15)
            self._thread = None
        self.port = None

    def __enter__(self) -> SynthServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
