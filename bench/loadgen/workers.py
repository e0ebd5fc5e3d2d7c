"""Spread one run's load over worker processes, merged back into one stream of records.

Each worker is a spawned process with its own event loop (uvloop) and connections, driving
its share with the same `UnitRunner` as a single-process run. The parent never sends
requests: it hands out the work, forwards each record to `on_record` as it arrives
(requests.jsonl stays flushed per request), runs the watchdog and merges the workers'
self-measurements. All processes stamp with `perf_counter_ns` (CLOCK_MONOTONIC on Linux,
one clock for every process of the host), so their records share one time base.

Splitting (pure functions, unit-tested):
- closed loop, concurrency C over n workers: slot s belongs to worker `s % n`, so worker i
  keeps `C // n + (i < C % n)` units in flight, and unit k goes to the worker of slot
  `k % C`: each worker's share of units is in proportion to its slots.
- open loop: one arrival schedule for the whole run (same seed, same times as one
  process), arrival k sent by worker `k % n` at its scheduled time; `max_concurrency` is
  split like C (a per-worker cap, so the global cap holds, though a busy worker cannot
  borrow another's free slot).
Phases are synchronised: every worker finishes the warm-up before any starts the measured
phase, which starts at one shared time with one shared deadline.

Channel (`bench.loadgen.channel`): a socketpair per worker, length-prefixed pickles
written through asyncio transports on both sides, so neither side ever blocks the other.
"""

from __future__ import annotations

import asyncio
import functools
import os
import socket
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from bench.config.run import ConcurrencyLoad, RateLoad
from bench.loadgen.channel import Channel, open_channel
from bench.loadgen.client import StreamTarget
from bench.loadgen.drive import (
    NS_PER_S,
    WATCH_PERIOD_S,
    DriveStats,
    RunAborted,
    Unit,
    affinity,
    indexed_units,
    schedule_ns,
)
from bench.loadgen.worker_process import worker_main
from bench.records import RequestRecord, RequestSpec

T = TypeVar("T")
START_TIMEOUT_S = 120.0
ABORT_GRACE_S = 10.0
OPEN_START_MARGIN_S = 0.02  # time for every worker to receive the start before t0
_PR_SET_PDEATHSIG = 1


def split_count(total: int, n: int, i: int) -> int:
    """Worker i's share of `total` slots over n workers: total // n + (i < total % n)."""
    return total // n + (1 if i < total % n else 0)


def assign_closed(units: Sequence[Unit], concurrency: int, n: int) -> list[list[Unit]]:
    """Units per worker for a closed loop: unit k to the worker of slot k % concurrency."""
    out: list[list[Unit]] = [[] for _ in range(n)]
    for k, unit in enumerate(units):
        out[(k % concurrency) % n].append(unit)
    return out


def assign_open(items: Sequence[T], n: int) -> list[list[T]]:
    """Open loop, arrivals (or their times) per worker: arrival k to worker k % n."""
    return [list(items[i::n]) for i in range(n)]


def effective_workers(load: ConcurrencyLoad | RateLoad, workers: int) -> int:
    """Never more workers than in-flight slots (each worker needs at least one)."""
    if isinstance(load, ConcurrencyLoad):
        return max(1, min(workers, load.concurrency))
    if load.max_concurrency is not None:
        return max(1, min(workers, load.max_concurrency))
    return workers


# -- the parent ---------------------------------------------------------------------------


class _Worker:
    """The parent's view of one worker process."""

    def __init__(self, index: int, process: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.index = index
        self.process = process
        self.channel: Channel | None = None
        self.ready = loop.create_future()
        self.phase_done: asyncio.Future[bool] = loop.create_future()
        self.loaded: asyncio.Future[None] = loop.create_future()
        self.stats: asyncio.Future[dict[str, Any]] = loop.create_future()
        self.assigned: set[int] = set()
        self.lost = False

    def send(self, message: Any) -> None:
        if self.channel is not None:
            self.channel.send(message)


class _Parent:
    """Start workers, run phases, forward records, watch for failures."""

    def __init__(
        self,
        target: StreamTarget,
        on_record: Callable[[RequestRecord], None],
        watchdog: Callable[[], str | None] | None,
        n: int,
    ) -> None:
        self.target = target
        self.on_record = on_record
        self.watchdog = watchdog
        self.n = n
        self.workers: list[_Worker] = []
        self.failure: BaseException | None = None
        self.not_due = 0

    async def start(self) -> None:
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        loop = asyncio.get_running_loop()
        for i in range(self.n):
            parent_end, child_end = ctx.Pipe(duplex=True)
            process = ctx.Process(target=worker_main, args=(child_end, i, self.target),
                                  name=f"bench-client-{i}", daemon=True)  # fmt: skip
            process.start()
            child_end.close()
            worker = _Worker(i, process, loop)
            sock = socket.socket(fileno=os.dup(parent_end.fileno()))
            parent_end.close()
            worker.channel = await open_channel(
                sock, functools.partial(self._on_message, worker),
                functools.partial(self._lost, worker),
            )  # fmt: skip
            self.workers.append(worker)
        deadline = time.monotonic() + START_TIMEOUT_S
        while not all(w.ready.done() for w in self.workers):
            await asyncio.wait([w.ready for w in self.workers], timeout=WATCH_PERIOD_S)
            self._raise_failure()
            if time.monotonic() > deadline:
                raise RuntimeError(f"client workers did not start within {START_TIMEOUT_S} s")

    def _on_message(self, worker: _Worker, message: Any) -> None:
        kind = message[0]
        if kind == "record":
            rec: RequestRecord = message[1]
            worker.assigned.discard(rec.index)
            try:
                self.on_record(rec)
            except Exception as exc:  # e.g. the disk is full: stop the run
                self.failure = self.failure or RunAborted(
                    f"a result could not be recorded, so the run stopped: {exc}"
                )
        elif kind == "ready":
            worker.ready.set_result(message[1])
        elif kind == "loaded":
            worker.loaded.set_result(None)
        elif kind == "phase_done":
            worker.phase_done.set_result(message[1])
        elif kind == "stats":
            worker.stats.set_result(message[1])
        elif kind == "error":
            self.failure = self.failure or RuntimeError(message[1])

    def _lost(self, worker: _Worker) -> None:
        if not worker.stats.done():
            worker.lost = True
            code = worker.process.exitcode
            self.failure = self.failure or RunAborted(
                f"client worker {worker.index} exited unexpectedly (exit code {code}); "
                f"{len(worker.assigned)} of its requests were never reported"
            )

    def _raise_failure(self) -> None:
        if self.failure is not None:
            raise self.failure

    async def load(
        self, measured: bool, kind: str, shares: list[list[Unit]], limits: list[int | None]
    ) -> None:
        """Send each worker its units for the next phase; return once all have them."""
        loop = asyncio.get_running_loop()
        for worker, units, limit in zip(self.workers, shares, limits, strict=True):
            worker.loaded = loop.create_future()
            worker.assigned.update(index for unit in units for index, _ in unit)
            worker.send(("units", measured, kind, units, limit))
        await self._wait([w.loaded for w in self.workers])

    async def go(
        self, shares: list[list[Unit]], times: list[list[int]] | None, deadline_ns: int | None
    ) -> None:
        """Start the loaded phase (open loop: at `times`); return when every worker is done.

        Raises:
            RunAborted: the watchdog fired or a worker died (workers aborted first).
        """
        loop = asyncio.get_running_loop()
        for i, worker in enumerate(self.workers):
            worker.phase_done = loop.create_future()
            if times is not None:  # arrivals after the deadline are never sent
                late = [index for unit in shares[i][len(times[i]) :] for index, _ in unit]
                worker.assigned.difference_update(late)
                self.not_due += len(late)
            worker.send(("go", None if times is None else times[i], deadline_ns))
        try:
            await self._wait([w.phase_done for w in self.workers])
        except BaseException:
            await asyncio.shield(self.abort())
            raise

    async def _wait(self, futures: list[asyncio.Future[Any]]) -> None:
        """Wait for `futures`, watching for failures and the watchdog meanwhile."""
        while not all(f.done() for f in futures):
            await asyncio.wait(futures, timeout=WATCH_PERIOD_S)
            self._raise_failure()
            reason = self.watchdog() if self.watchdog is not None else None
            if reason:
                raise RunAborted(reason)
        self._raise_failure()

    def settle_time_bounded(self, shares: list[list[Unit]], times: list[list[int]] | None,
                            stop_ns: int) -> None:  # fmt: skip
        """After a phase bounded by time: what a worker left unreported was not due (closed
        loop: the deadline came first; open loop: scheduled after `stop_ns`)."""
        for i, worker in enumerate(self.workers):
            for k, unit in enumerate(shares[i]):
                left = [index for index, _ in unit if index in worker.assigned]
                if left and (times is None or (k < len(times[i]) and times[i][k] > stop_ns)):
                    worker.assigned.difference_update(left)
                    self.not_due += len(left)

    async def abort(self) -> None:
        """Tell every worker to cancel its in-flight requests; wait for their records."""
        for worker in self.workers:
            worker.send(("abort",))
        pending = [w.phase_done for w in self.workers if not w.lost and not w.phase_done.done()]
        if pending:
            await asyncio.wait(pending, timeout=ABORT_GRACE_S)

    async def stop(self) -> list[dict[str, Any]]:
        """Stop the workers; their self-measurements (empty for one that died)."""
        for worker in self.workers:
            worker.send(("stop",))
        alive = [w.stats for w in self.workers if not w.lost]
        if alive:
            await asyncio.wait(alive, timeout=ABORT_GRACE_S)
        out = []
        for worker in self.workers:
            out.append(worker.stats.result() if worker.stats.done() else {})
            if worker.channel is not None:
                worker.channel.close()
        for worker in self.workers:
            await asyncio.to_thread(worker.process.join, 5)
            if worker.process.is_alive():
                worker.process.terminate()
                await asyncio.to_thread(worker.process.join, 5)
        return out


async def drive_workers(
    target: StreamTarget,
    specs: list[RequestSpec],
    load: ConcurrencyLoad | RateLoad,
    *,
    on_record: Callable[[RequestRecord], None],
    duration_s: float | None,
    seed: int,
    watchdog: Callable[[], str | None] | None,
    workers: int,
    stats: DriveStats | None = None,
) -> DriveStats:
    """`drive` over `workers` processes (see the module docstring for the split);
    `stats` (when given) is filled in place.

    Raises:
        RunAborted: the watchdog fired, a worker died or `on_record` raised; records of
            what completed (and of what was cancelled) were delivered first.
    """
    warmup, measured = indexed_units(specs)
    n = effective_workers(load, workers)
    parent = _Parent(target, on_record, watchdog, n)
    stats = stats if stats is not None else DriveStats()
    stats.workers = n
    try:
        await parent.start()
        if warmup:
            await _phase(parent, load, warmup, seed, None, measured=False)
        stats.start_ns, cpu0 = await _phase(parent, load, measured, seed, duration_s,
                                            measured=True)  # fmt: skip
        stats.end_ns = time.perf_counter_ns()
        stats.cpu_s = time.process_time() - cpu0
    finally:
        parts = await asyncio.shield(parent.stop())
        end = stats.end_ns or time.perf_counter_ns()
        stats.wall_s = (end - (stats.start_ns or end)) / NS_PER_S
        stats.worker_cpu_s = [float(p.get("cpu_s", 0.0)) for p in parts]
        stats.cpu_s += sum(stats.worker_cpu_s)
        stats.loop_lag_s = [x for p in parts for x in p.get("loop_lag_s", [])]
        stats.loop_stalls = sorted(x for p in parts for x in p.get("loop_stalls", []))
        stats.send_lag_s = [x for p in parts for x in p.get("send_lag_s", [])]
        cpus = {c for p in parts for c in p.get("cpus", [])}
        stats.allowed_cpus = sorted(cpus.union(affinity()) if cpus else cpus)
        stats.not_due = parent.not_due
    return stats


async def _phase(
    parent: _Parent,
    load: ConcurrencyLoad | RateLoad,
    units: list[Unit],
    seed: int,
    duration_s: float | None,
    *,
    measured: bool,
) -> tuple[int, float]:
    """Load, then start, one phase on every worker; (its start time, parent CPU at start).

    The units travel first, so neither the start time nor the CPU count includes
    serialising them; an open loop's shared schedule starts shortly after they arrived.
    """
    n = len(parent.workers)
    if isinstance(load, ConcurrencyLoad):
        shares = assign_closed(units, load.concurrency, n)
        limits: list[int | None] = [split_count(load.concurrency, n, i) for i in range(n)]
    else:
        shares = assign_open(units, n)
        cap = load.max_concurrency
        limits = [split_count(cap, n, i) if cap is not None else None for i in range(n)]
    await parent.load(measured, "closed" if isinstance(load, ConcurrencyLoad) else "open",
                      shares, limits)  # fmt: skip
    cpu0 = time.process_time()
    t0 = time.perf_counter_ns()
    times: list[list[int]] | None = None
    if isinstance(load, RateLoad):
        t0 += int(OPEN_START_MARGIN_S * NS_PER_S)
    deadline = t0 + int(duration_s * NS_PER_S) if duration_s else None
    if isinstance(load, RateLoad):
        schedule = schedule_ns(len(units), load, seed, t0, deadline)
        times = assign_open(schedule, n)
    try:
        await parent.go(shares, times, deadline)
    finally:
        if deadline is not None:
            parent.settle_time_bounded(shares, times, time.perf_counter_ns())
    return t0, cpu0
