"""Start and stop the synthetic server: in the foreground (CLI), a subprocess or a thread.

`SynthServer` is the handle tests and `bench calibrate` use:

    with SynthServer(SynthConfig(ttft_s=0.05, itl_s=0.005)) as server:
        ... drive server.base_url ...
        records = server.records()

A subprocess (the default) has its own interpreter and GIL, so the client under test and
the server never share one; `mode="thread"` runs the server's loop in a thread of this
process (cheaper to start, but it competes with the caller for the GIL). With
`SynthConfig.processes` N > 1 the handle starts N subprocesses listening on one port with
SO_REUSEPORT (one core each when `cpu` is given: cpu … cpu + N − 1), reaches each through
a private port for its records, and merges them: a server that one core cannot carry is
spread instead of becoming the bottleneck it was meant to rule out.
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
import tempfile
import threading
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from bench.errors import UserError
from bench.synth.records import (
    LatenessSummary,
    SynthConfig,
    SynthRequestRecord,
    lateness_summary,
    merged_summary,
    read_records,
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
    if config.cpu is not None and config.processes > 1:
        check_cpu(config.cpu + config.processes - 1)
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
    member: int | None = None,
) -> LatenessSummary:
    """Serve in this thread until SIGTERM/SIGINT (or `core.request_stop()`), then write the
    record. `on_ready(port, core)` is called once listening (`core`: `server.SynthCore`).
    With `config.processes` > 1 (and no `member`) the group is started as subprocesses and
    this thread waits for the signal (`core` is then the `SynthServer` handle).
    `member` i: this process is member i of such a group (pinned to `cpu + i`).

    Returns the lateness summary of every finished request.
    """
    from bench.synth import server as srv

    check_config(config)
    if config.processes > 1 and member is None:
        return _run_group_foreground(config, on_ready)
    cpu = None if config.cpu is None else config.cpu + (member or 0)
    if cpu is not None:
        try:
            srv.pin_to_cpu(cpu)
        except OSError as exc:
            raise UserError(
                f"cannot pin to CPU {cpu}: {exc.strerror}",
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
        core = loop.run_until_complete(srv.serve(config, ready, member=member is not None))
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


def _run_group_foreground(
    config: SynthConfig, on_ready: Callable[[int, Any], None]
) -> LatenessSummary:
    """`config.processes` server processes on one port until SIGTERM/SIGINT; then their
    merged record is written and summarised."""
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set())
                for sig in (signal.SIGTERM, signal.SIGINT)}  # fmt: skip
    try:
        with SynthServer(config) as server:
            on_ready(server.port or 0, server)
            while not stop.wait(0.5):
                if server.dead_member() is not None:
                    raise RuntimeError(f"synthetic server process {server.dead_member()} died")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    assert server.summary is not None
    return server.summary


def _child_main(config_json: str, member: str = "") -> None:
    """Subprocess entry: serve `config_json`, announce the port on stdout (and, as member
    `member` of a group, its private control port)."""
    config = SynthConfig.model_validate_json(config_json)
    if sys.platform == "linux":  # never outlive the process that started us
        import ctypes

        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)

    def announce(port: int, core: Any) -> None:
        control = f" control={core.control_port}" if core.control_port else ""
        print(f"{READY_PREFIX}{port}{control}", flush=True)

    try:
        summary = run_foreground(config, announce, member=int(member) if member else None)
    except UserError as exc:  # handed to the parent, which raises it again
        error = {"message": exc.message, "field": exc.field, "fix": exc.fix}
        print(f"{ERROR_PREFIX}{json.dumps(error)}", flush=True)
        sys.exit(2)
    with contextlib.suppress(BrokenPipeError):  # the parent may be gone
        print(summary.model_dump_json(), flush=True)


class SynthServer:
    """Handle on one synthetic server (one process, or `config.processes` of them sharing
    the port); `start()` returns the port, `stop()` ends it."""

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
        if mode == "thread" and self.config.processes > 1:
            raise ValueError("several server processes need mode='process'")
        self.mode = mode
        self.port: int | None = None
        self.summary: LatenessSummary | None = None
        self._procs: list[subprocess.Popen[str]] = []
        self._controls: list[int] = []  # each member's private port (a group only)
        self._member_records: list[Path] = []
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
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
        """Process id of the (first) server process (this process in thread mode)."""
        return self._procs[0].pid if self._procs else os.getpid()

    @property
    def pids(self) -> list[int]:
        """Process ids of every server process."""
        return [p.pid for p in self._procs] or [os.getpid()]

    def start(self) -> int:
        """Start serving; returns the port once it accepts connections.

        Raises:
            UserError: a CPU or record path that cannot work.
            RuntimeError: the server did not come up (its stderr says why).
        """
        check_config(self.config)
        if self.mode == "thread":
            self.port = self._start_thread()
        elif self.config.processes == 1:
            self.port, _ = self._spawn(self.config, None)
        else:
            self.port = self._start_group()
        return self.port

    def _start_group(self) -> int:
        """Member 0 binds the port (a free one for port 0), the others join it; each
        writes its record to a file of its own, merged at `stop()`."""
        self._tmp = tempfile.TemporaryDirectory(prefix="synth-group-")
        port = self.config.port
        for i in range(self.config.processes):
            path = Path(self._tmp.name) / f"member-{i}.jsonl"
            member = self.config.model_copy(update={"port": port, "record_path": path})
            try:
                port, control = self._spawn(member, i)
            except BaseException:
                self.stop()
                raise
            self._controls.append(control or 0)
            self._member_records.append(path)
        return port

    def _spawn(self, config: SynthConfig, member: int | None) -> tuple[int, int | None]:
        """Start one server process; (its port, its control port when a member)."""
        code = (
            "import sys; from bench.synth.control import _child_main; "
            "_child_main(sys.argv[1], sys.argv[2])"
        )
        proc = subprocess.Popen(
            [sys.executable, "-c", code, config.model_dump_json(), "" if member is None
             else str(member)],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], _START_TIMEOUT_S)
        line = proc.stdout.readline() if ready else ""
        if line.startswith(ERROR_PREFIX):
            proc.wait()
            raise UserError(**json.loads(line[len(ERROR_PREFIX) :]))
        if not line.startswith(READY_PREFIX):
            proc.kill()
            proc.wait()
            raise RuntimeError(f"synthetic server did not start (said {line!r})")
        self._procs.append(proc)
        port, _, control = line[len(READY_PREFIX) :].strip().partition(" control=")
        return int(port), int(control) if control else None

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

    def dead_member(self) -> int | None:
        """The index of a server process that has exited, if any."""
        return next((i for i, p in enumerate(self._procs) if p.poll() is not None), None)

    def get(self, path: str, *, port: int | None = None) -> bytes:
        """GET `path` from the server (a group: from whichever member the kernel picks, or
        from the member listening on `port`); the body."""
        url = f"http://{self.config.host}:{port}" if port else self.base_url
        with urllib.request.urlopen(url + path, timeout=30) as response:
            body: bytes = response.read()
            return body

    def records(self, *, clear: bool = False, active: bool = False) -> list[SynthRequestRecord]:
        """What the server sent, per finished request (fetched from `/synth/records`, from
        every member of a group); `active` adds snapshots of streams still in flight."""
        query = "&".join(q for q, on in (("clear=1", clear), ("active=1", active)) if on)
        path = "/synth/records" + ("?" + query if query else "")
        ports: list[int | None] = list(self._controls) or [None]
        return [r for port in ports for r in self._records_at(path, port)]

    def records_of(self, member: int) -> list[SynthRequestRecord]:
        """The finished requests one member of a group served."""
        return self._records_at("/synth/records", self._controls[member])

    def _records_at(self, path: str, port: int | None) -> list[SynthRequestRecord]:
        body = self.get(path, port=port)
        return [SynthRequestRecord.model_validate(json.loads(x)) for x in body.splitlines()]

    def stats(
        self, *, since_ns: int | None = None, until_ns: int | None = None, clear: bool = False
    ) -> LatenessSummary:
        """The server's own lateness summary over finished and in-flight requests
        (`/synth/stats`), for chunks sent in `[since_ns, until_ns)` when given; `clear`
        forgets those records. A group's is computed here from every member's records,
        with the busiest member's CPU share."""
        query = [f"since_ns={since_ns}"] if since_ns is not None else []
        query += [f"until_ns={until_ns}"] if until_ns is not None else []
        if not self._controls:
            query += ["clear=1"] if clear else []
            suffix = "?" + "&".join(query) if query else ""
            return LatenessSummary.model_validate_json(self.get("/synth/stats" + suffix))
        suffix = "?" + "&".join(query) if query else ""
        each = [LatenessSummary.model_validate_json(self.get("/synth/stats" + suffix, port=p))
                for p in self._controls]  # fmt: skip
        records = self.records(clear=clear, active=True)
        return merged_summary(records, each, since_ns=since_ns, until_ns=until_ns)

    def stop(self) -> None:
        """Stop serving (in-flight streams are recorded as disconnected); idempotent."""
        summaries = [self._stop_process(p) for p in self._procs]
        if self._controls:  # a group: merge what every member wrote at exit
            records = [r for path in self._member_records if path.is_file()
                       for r in read_records(path)]  # fmt: skip
            self.summary = merged_summary(records, [s for s in summaries if s is not None])
            if self.config.record_path is not None:
                write_records(records, self.config.record_path)
        elif summaries:
            self.summary = summaries[0]
        self._procs, self._controls, self._member_records = [], [], []
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
        if self._thread is not None:
            if self._loop is not None and self._core is not None:
                self._loop.call_soon_threadsafe(self._core.request_stop)
            self._thread.join(15)
            self._thread = None
        self.port = None

    @staticmethod
    def _stop_process(proc: subprocess.Popen[str]) -> LatenessSummary | None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            out, _ = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        last = out.strip().splitlines()[-1:] if out else []
        if last and last[0].startswith("{"):
            return LatenessSummary.model_validate_json(last[0])
        return None

    def __enter__(self) -> SynthServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
