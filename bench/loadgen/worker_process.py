"""The body of one client worker process (see `bench.loadgen.workers` for the parent).

Spawned with one end of a socketpair; it drives the units the parent sends with the same
`UnitRunner` as a single-process run and sends each record back as it completes.
Protocol (pickles over `bench.loadgen.channel`): parent → worker `("units", measured,
kind, units, limit)`, `("go", times | None, deadline_ns)`, `("abort",)`, `("stop",)`;
worker → parent `("ready", pid)`, `("loaded",)`, `("record", RequestRecord)`,
`("phase_done", aborted)`, `("stats", {cpu_s, loop_lag_s, send_lag_s, cpus, loop_stalls})`,
`("error", text)`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
from typing import Any

from bench.loadgen.channel import Channel, open_channel
from bench.loadgen.client import StreamTarget
from bench.loadgen.drive import UnitRunner, _loop_lag_probe, affinity, frozen_heap

_PR_SET_PDEATHSIG = 1


def worker_main(conn: Any, index: int, target: StreamTarget) -> None:
    """Entry point of worker `index` (spawned): serve phases until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides; it sends "abort"
    if sys.platform == "linux":  # never outlive the parent
        import ctypes

        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    sock = socket.socket(fileno=os.dup(conn.fileno()))
    conn.close()
    try:
        import uvloop

        uvloop.run(_worker(sock, index, target))
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux/macOS
        asyncio.run(_worker(sock, index, target))


async def _worker(sock: socket.socket, index: int, target: StreamTarget) -> None:
    inbox: asyncio.Queue[Any] = asyncio.Queue()
    current: list[asyncio.Task[None]] = []
    runner: UnitRunner | None = None

    def on_message(message: Any) -> None:
        if message[0] == "abort":
            if runner is not None:
                runner.stopping = True
            for task in current:
                task.cancel()
        else:
            inbox.put_nowait(message)

    def on_lost() -> None:  # the parent is gone: stop everything
        on_message(("abort",))
        inbox.put_nowait(("stop",))

    channel = await open_channel(sock, on_message, on_lost)
    runner = UnitRunner(target, lambda rec: channel.send_soon(("record", rec)), worker=index)
    lag: list[float] = []
    stalls: list[tuple[int, float]] = []
    stop_probe = asyncio.Event()
    since = [0]
    probe = asyncio.create_task(_loop_lag_probe(lag, stop_probe, stalls, since))
    cpu_s = 0.0
    channel.send(("ready", os.getpid()))
    try:
        work: tuple[Any, ...] = ()
        while True:
            message = await inbox.get()
            if message[0] == "stop":
                break
            if message[0] == "units":  # the phase's work, sent ahead of its start
                work = message[1:]
                channel.send(("loaded",))
                continue
            measured, kind, units, limit = work
            times, deadline = message[1], message[2]
            if measured:
                runner.send_lag_s.clear()
            cpu0 = time.process_time()
            if kind == "closed":
                task = asyncio.create_task(runner.closed(units, limit, deadline))
            else:
                task = asyncio.create_task(
                    runner.open(list(zip(units, times, strict=False)), limit)
                )
            current.append(task)
            with frozen_heap(), contextlib.suppress(asyncio.CancelledError):
                if measured:  # the freeze's own stall is not the phase's lag
                    since[0] = time.perf_counter_ns()
                    lag.clear()
                    stalls.clear()
                await task
            current.clear()
            work = ()
            if measured:
                cpu_s = time.process_time() - cpu0
            channel.send(("phase_done", runner.stopping))
    except Exception as exc:  # reported to the parent, which aborts the run
        channel.send(("error", f"client worker {index}: {type(exc).__name__}: {exc}"))
    finally:
        stop_probe.set()
        await probe
        runner.close()
        stats = {"cpu_s": cpu_s, "loop_lag_s": lag, "send_lag_s": runner.send_lag_s,
                 "cpus": affinity(), "loop_stalls": stalls}  # fmt: skip
        channel.send(("stats", stats))
        await asyncio.sleep(0)  # let the transport flush before the loop closes
        with contextlib.suppress(Exception):
            await _drain(channel)
        channel.close()


async def _drain(channel: Channel) -> None:
    for _ in range(200):
        if channel.transport is None or not channel.transport.get_write_buffer_size():
            return
        await asyncio.sleep(0.005)
