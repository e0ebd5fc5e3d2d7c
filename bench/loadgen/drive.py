"""Drive a list of requests at a target load and stream each record out as it completes.

Closed loop keeps `concurrency` units in flight (one long-lived coroutine per slot pulls
the next unit, so a completion costs nothing but the next send); open loop starts units at
scheduled arrival times on a timer wheel (timerfd: ns-precise wake-ups, where asyncio's
timers round to ms), optionally capped by `max_concurrency`. A unit is one request, or one
multi-turn session whose turns go strictly in order. Warm-up requests run first, at the
same load, and are flagged `warmup` so metrics exclude them.

`workers > 1` spreads the units over that many processes (`bench.loadgen.workers`); the
records still arrive here, one `on_record` call per request, in completion order.
A record's `index` is the request's position in `specs` (warm-up first), whatever the
number of workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from bench.config.run import ConcurrencyLoad, RateLoad
from bench.loadgen.arrivals import arrival_offsets_s
from bench.loadgen.assess import LOOP_LAG_PERIOD_S
from bench.loadgen.client import Finished, StreamTarget, exchange
from bench.loadgen.later import Later
from bench.loadgen.pool import ConnectionPool
from bench.records import RequestRecord, RequestSpec

NS_PER_S = 1_000_000_000
GC_VALVE = 500_000  # container objects allocated (net) before the valve collects anyway
GC_VALVE_PERIOD_S = 1.0
LARGE_LAG_S = 0.001  # lags kept with their time, for stall detection (bench.metrics.stalls)
WATCH_PERIOD_S = 0.5
WHEEL_SLOT_NS = 50_000

Unit = list[tuple[int, RequestSpec]]  # (index in specs, spec), turns in order


class RunAborted(Exception):
    """The watchdog saw the server die, a worker died or a record could not be kept;
    in-flight work was cancelled (and recorded) first."""


@dataclass
class DriveStats:
    """What the client measured about itself while driving the measured (not warm-up) load.

    `cpu_s` is the CPU time of every client process together (workers and their parent);
    `worker_cpu_s` that of each process sending requests (one entry when `workers` is 1);
    `allowed_cpus` the CPUs those processes may run on (the union of their affinity
    masks; empty when unknown).
    `not_due` counts measured requests a run bounded by time never sent because their
    turn had not come when it ended (deadline or abort): not part of its plan.
    `loop_stalls` holds the event-loop lags of LARGE_LAG_S or more as (start, perf_counter_ns;
    duration, s), from the whole drive (warm-up included: stall detection keeps those inside
    the steady-state window).
    """

    cpu_s: float = 0.0
    wall_s: float = 0.0
    loop_lag_s: list[float] = field(default_factory=list)
    loop_stalls: list[tuple[int, float]] = field(default_factory=list)
    send_lag_s: list[float] = field(default_factory=list)
    start_ns: int = 0
    end_ns: int = 0
    workers: int = 1
    worker_cpu_s: list[float] = field(default_factory=list)
    allowed_cpus: list[int] = field(default_factory=list)
    not_due: int = 0


def affinity() -> list[int]:
    """The CPUs this process may run on (empty where the OS cannot tell)."""
    getter = getattr(os, "sched_getaffinity", None)
    return sorted(getter(0)) if getter is not None else []


def group_units(specs: list[RequestSpec]) -> list[list[RequestSpec]]:
    """Group specs into units: each session (by first appearance) with turns in order."""
    units: list[list[RequestSpec]] = []
    sessions: dict[str, list[RequestSpec]] = {}
    for spec in specs:
        if spec.session_id is None:
            units.append([spec])
        elif spec.session_id in sessions:
            sessions[spec.session_id].append(spec)
        else:
            sessions[spec.session_id] = [spec]
            units.append(sessions[spec.session_id])
    for unit in units:
        unit.sort(key=lambda s: s.turn or 0)
    return units


def indexed_units(specs: list[RequestSpec]) -> tuple[list[Unit], list[Unit]]:
    """(warm-up units, measured units), each request paired with its position in `specs`."""
    position = {id(spec): i for i, spec in enumerate(specs)}

    def pair(group: list[RequestSpec]) -> list[Unit]:
        return [[(position[id(s)], s) for s in unit] for unit in group_units(group)]

    return pair([s for s in specs if s.warmup]), pair([s for s in specs if not s.warmup])


def schedule_ns(
    n: int, load: RateLoad, seed: int, t0_ns: int, deadline_ns: int | None
) -> list[int]:
    """Absolute send times of the first `n` arrivals from `t0_ns`, those before the deadline."""
    offsets = arrival_offsets_s(n, load.rate_per_s, load.arrival, burstiness=load.burstiness,
                                seed=seed)  # fmt: skip
    times = [t0_ns + int(o * NS_PER_S) for o in offsets]
    return [t for t in times if deadline_ns is None or t < deadline_ns]


async def _loop_lag_probe(
    samples: list[float],
    stop: asyncio.Event,
    stalls: list[tuple[int, float]] | None = None,
    since: list[int] | None = None,
) -> None:
    """Sleep a fixed period and record how late the loop woke us: the client's own load.

    A lag of LARGE_LAG_S or more also goes to `stalls` as (when it began, perf_counter_ns;
    how long, s): the loop (or the process) was held up from wake-up − lag to wake-up.
    A sleep that began before `since[0]` is not recorded (the phase it belongs to is over:
    e.g. its end was held up by setting up the measured phase).
    """
    while not stop.is_set():
        t0 = time.perf_counter_ns()
        await asyncio.sleep(LOOP_LAG_PERIOD_S)
        t1 = time.perf_counter_ns()
        if since is not None and t0 < since[0]:
            continue
        lag = max(0.0, (t1 - t0) / NS_PER_S - LOOP_LAG_PERIOD_S)
        samples.append(lag)
        if stalls is not None and lag >= LARGE_LAG_S:
            stalls.append((t1 - int(lag * NS_PER_S), lag))


@contextlib.contextmanager
def frozen_heap() -> Iterator[None]:
    """For the measured phase: move every object alive now (modules, tokenizer, specs,
    warm-up garbage) out of the garbage collector's reach, and collect nothing on the way.

    A collection stalls the event loop, and every chunk stamped behind it: one walking the
    start-up objects takes tens of ms, and so do collections of what the phase itself
    keeps (the per-chunk timestamp lists of every stream in flight and of every record):
    in a C=512 rehearsal young collections stalled the loop 1-35 ms, dozens of times, and
    freed nothing (the client's hot path makes no reference cycles). So automatic
    collection is off; a valve collects the youngest generation once more than GC_VALVE
    new container objects are alive (say the cycles of many failed requests), looked at
    every GC_VALVE_PERIOD_S. Collection is back on afterwards.
    """
    gc.freeze()
    enabled = gc.isenabled()
    gc.disable()
    loop = asyncio.get_running_loop()
    handle: asyncio.TimerHandle | None = None

    def valve() -> None:
        nonlocal handle
        if gc.get_count()[0] > GC_VALVE:
            gc.collect(0)
        handle = loop.call_later(GC_VALVE_PERIOD_S, valve)

    handle = loop.call_later(GC_VALVE_PERIOD_S, valve)
    try:
        yield
    finally:
        handle.cancel()
        if enabled:
            gc.enable()
        gc.unfreeze()


def requests_in(units: Iterable[Unit]) -> int:
    return sum(len(unit) for unit in units)


class UnitRunner:
    """Sends units over one connection pool and hands each record to `on_record`.

    Every request it starts ends in exactly one record. A unit whose turn fails cannot
    continue its session: its later turns are recorded as "cancelled" (`session_aborted`).
    When `on_record` raises (the request log cannot be written) the runner stops and
    `_supervise` raises `RunAborted`. `time_bounded` phases count what they leave unsent
    in `not_due`; a phase bounded by count leaves that to the caller (planned - recorded).
    """

    def __init__(
        self,
        target: StreamTarget,
        on_record: Callable[[RequestRecord], None],
        *,
        worker: int = 0,
    ) -> None:
        self.target = target
        self.pool = ConnectionPool(target.origin)
        self.on_record = on_record
        self.worker = worker
        self.send_lag_s: list[float] = []
        self.stopping = False
        self.failure: Exception | None = None
        self.time_bounded = False
        self.not_due = 0
        self.later = Later(self._hand_on)  # records, handed on between reads, in order

    def _hand_on(self, item: RequestRecord | Finished | Callable[[], None]) -> None:
        if isinstance(item, RequestRecord):
            self.deliver(item)
        elif isinstance(item, Finished):
            self.deliver(item.record())
        else:  # a stream parser catching up (`StreamParser.catch_up`)
            item()

    def deliver(self, rec: RequestRecord) -> None:
        """Hand `rec` on; if that fails, stop the run (the failure is raised by the
        supervisor, so in-flight requests still end in records)."""
        try:
            self.on_record(rec)
        except Exception as exc:  # e.g. the disk is full
            self.failure = self.failure or exc
            self.stopping = True

    async def run_unit(self, unit: Unit, scheduled_ns: int | None) -> None:
        """Send the unit's requests in turn. A record is built when the next turn needs its
        status, else later (`self.later`), so the slot's next send never waits for it;
        records are handed on in completion order either way."""
        last = len(unit) - 1
        for k, (index, spec) in enumerate(unit):
            first = k == 0 and scheduled_ns is not None
            out = await exchange(self.pool, self.target, spec, index,
                                 scheduled_ns=scheduled_ns if first else None,
                                 worker=self.worker, defer=self.later.add)  # fmt: skip
            if first and scheduled_ns is not None:
                self.send_lag_s.append((out.sent_ns - scheduled_ns) / NS_PER_S)
            if k == last and isinstance(out, Finished):
                self.later.add(out)
                return
            rec = out if isinstance(out, RequestRecord) else out.record()
            self.later.add(rec)
            if rec.status != "ok" or self.stopping:
                self._rest_unsent(unit[k + 1 :], rec)
                return

    def _rest_unsent(self, rest: Unit, last: RequestRecord) -> None:
        """The turns after a failed one cannot be sent (a broken session cannot continue
        its context): each gets a "cancelled" record; when the run is stopping, they are
        unsent instead (not due in a run bounded by time)."""
        if self.stopping:
            if self.time_bounded:
                self.not_due += len(rest)
            return
        why = last.error_class or last.status
        now = time.perf_counter_ns()
        for index, spec in rest:
            self.later.add(RequestRecord(
                request_id=spec.request_id, index=index, warmup=spec.warmup, worker=self.worker,
                status="cancelled", error_class="session_aborted",
                error_message=f"not sent: turn {last.turn} of session {spec.session_id} "
                f"ended in {why}", sent_ns=now, done_ns=now, session_id=spec.session_id,
                turn=spec.turn, requested_input_tokens=spec.requested_input_tokens,
                requested_output_tokens=spec.requested_output_tokens,
            ))  # fmt: skip

    def raise_failure(self) -> None:
        """Raises RunAborted if a record could not be handed on."""
        if self.failure is not None:
            raise RunAborted(f"a result could not be recorded, so the run stopped: "
                             f"{self.failure}") from self.failure  # fmt: skip

    async def closed(self, units: Sequence[Unit], concurrency: int, deadline_ns: int | None,
                     check: Callable[[], Awaitable[None]] | None = None) -> None:  # fmt: skip
        """Keep `concurrency` units in flight until all are done or the deadline passes."""
        pending = deque(units)
        pc = time.perf_counter_ns

        async def slot() -> None:
            while pending and not self.stopping and (deadline_ns is None or pc() < deadline_ns):
                await self.run_unit(pending.popleft(), None)

        tasks = [asyncio.create_task(slot()) for _ in range(min(concurrency, len(units)))]
        try:
            await self._supervise(tasks, check)
        finally:
            if self.time_bounded:  # its deadline passed (or the run stopped) before these
                self.not_due += requests_in(pending)

    async def open(self, items: Sequence[tuple[Unit, int]], cap: int | None,
                   check: Callable[[], Awaitable[None]] | None = None) -> None:  # fmt: skip
        """Start each unit at its scheduled `perf_counter_ns` time (later if `cap` units are
        already in flight); return when all have finished."""
        from bench.synth.scheduler import TimerWheel

        loop = asyncio.get_running_loop()
        tasks: set[asyncio.Task[None]] = set()
        waiting: deque[tuple[Unit, int]] = deque()
        left = [len(items)]
        started: set[int] = set()
        all_started = loop.create_future()

        def start(item: tuple[Unit, int]) -> None:
            started.add(id(item))
            task = loop.create_task(self.run_unit(item[0], item[1]))
            tasks.add(task)
            task.add_done_callback(finished)
            left[0] -= 1
            if left[0] == 0 and not all_started.done():
                all_started.set_result(None)

        def finished(task: asyncio.Task[None]) -> None:
            tasks.discard(task)
            if waiting and not self.stopping:
                start(waiting.popleft())

        def due(batch: list[tuple[Unit, int]]) -> None:
            for item in batch:
                if self.stopping:
                    return
                if cap is not None and len(tasks) >= cap:
                    waiting.append(item)
                else:
                    start(item)

        wheel = TimerWheel(loop, WHEEL_SLOT_NS, due)
        try:
            for item in items:
                wheel.add(item, item[1])
            if not items:
                all_started.set_result(None)
            while not all_started.done():
                await asyncio.wait([all_started], timeout=WATCH_PERIOD_S)
                self.raise_failure()
                if check is not None:
                    await check()
        except BaseException:
            await self._cancel(list(tasks))
            raise
        finally:
            wheel.close()
            if self.time_bounded and left[0]:  # not started: due (never sent) or not due
                now = time.perf_counter_ns()
                self.not_due += requests_in(
                    unit for unit, t in (i for i in items if id(i) not in started) if t > now
                )
        await self._supervise(list(tasks), check)

    async def _supervise(self, tasks: list[asyncio.Task[None]],
                         check: Callable[[], Awaitable[None]] | None) -> None:  # fmt: skip
        """Wait for `tasks`, calling `check` every WATCH_PERIOD_S; on any exception from it,
        a failure to record (RunAborted) or cancellation: cancel them, let their records
        out, and re-raise."""
        try:
            while tasks:
                _, still = await asyncio.wait(tasks, timeout=WATCH_PERIOD_S)
                tasks = list(still)
                self.raise_failure()
                if check is not None and tasks:
                    await check()
            self.later.flush()
            self.raise_failure()
        except BaseException:
            await self._cancel(tasks)
            raise

    async def _cancel(self, tasks: list[asyncio.Task[None]]) -> None:
        """Stop: cancel `tasks` (each in-flight request ends in a "cancelled" record) and
        hand on every record still waiting."""
        self.stopping = True
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.later.flush()

    def close(self) -> None:
        self.pool.close()


def _final_check(watchdog: Callable[[], str | None] | None) -> None:
    """The server may die after the last periodic check, the remaining requests then failing
    within microseconds: such a run is not complete either."""
    reason = watchdog() if watchdog is not None else None
    if reason:
        raise RunAborted(reason)


async def drive(
    target: StreamTarget,
    specs: list[RequestSpec],
    load: ConcurrencyLoad | RateLoad,
    *,
    on_record: Callable[[RequestRecord], None],
    duration_s: float | None = None,
    seed: int = 0,
    watchdog: Callable[[], str | None] | None = None,
    workers: int = 1,
    stats: DriveStats | None = None,
) -> DriveStats:
    """Send `specs` (warm-up ones first) at `load`; call `on_record` for each completion.

    `workers > 1` runs the load in that many processes (see `bench.loadgen.workers`).
    `stats`, when given, is filled in place (so what was counted survives an abort).

    Raises:
        RunAborted: `watchdog()` returned a reason, a worker died or `on_record` raised;
            in-flight requests were cancelled and their records (status "cancelled")
            delivered to `on_record` first.
        ValueError: `workers` < 1.
    """
    if workers < 1:
        raise ValueError("workers must be >= 1")
    stats = stats if stats is not None else DriveStats()
    if workers > 1:
        from bench.loadgen.workers import drive_workers

        await drive_workers(target, specs, load, on_record=on_record, duration_s=duration_s,
                            seed=seed, watchdog=watchdog, workers=workers,
                            stats=stats)  # fmt: skip
        _final_check(watchdog)
        return stats
    warmup, measured = indexed_units(specs)
    runner = UnitRunner(target, on_record)

    async def check() -> None:
        if watchdog is not None:
            reason = watchdog()
            if reason:
                raise RunAborted(reason)

    stop_probe = asyncio.Event()
    since = [0]
    probe = asyncio.create_task(
        _loop_lag_probe(stats.loop_lag_s, stop_probe, stats.loop_stalls, since)
    )
    cpu0 = time.process_time()
    try:
        if warmup:
            await run_phase(runner, warmup, load, seed, None, check)
        runner.send_lag_s.clear()
        with frozen_heap():  # its set-up (a freeze of the whole heap) is not the phase's lag
            since[0] = time.perf_counter_ns()
            stats.loop_lag_s.clear()
            stats.loop_stalls.clear()
            cpu0 = time.process_time()
            stats.start_ns = time.perf_counter_ns()
            deadline = stats.start_ns + int(duration_s * NS_PER_S) if duration_s else None
            await run_phase(runner, measured, load, seed, deadline, check,
                            t0_ns=stats.start_ns)  # fmt: skip
            stats.end_ns = time.perf_counter_ns()
        _final_check(watchdog)
    finally:
        stop_probe.set()
        await probe
        runner.close()
        stats.cpu_s = time.process_time() - cpu0
        stats.not_due = runner.not_due
        stats.worker_cpu_s = [stats.cpu_s]
        stats.allowed_cpus = affinity()
        stats.send_lag_s = runner.send_lag_s
        end = stats.end_ns or time.perf_counter_ns()
        stats.wall_s = (end - (stats.start_ns or end)) / NS_PER_S
    return stats


async def run_phase(
    runner: UnitRunner,
    units: Sequence[Unit],
    load: ConcurrencyLoad | RateLoad,
    seed: int,
    deadline_ns: int | None,
    check: Callable[[], Awaitable[None]] | None,
    *,
    t0_ns: int | None = None,
) -> None:
    """One phase in this process: closed loop at the load's concurrency, or open loop on
    the load's arrival schedule from `t0_ns` (default: now)."""
    runner.time_bounded = deadline_ns is not None
    if isinstance(load, ConcurrencyLoad):
        await runner.closed(units, load.concurrency, deadline_ns, check)
        return
    t0 = t0_ns if t0_ns is not None else time.perf_counter_ns()
    times = schedule_ns(len(units), load, seed, t0, deadline_ns)
    runner.not_due += requests_in(units[len(times) :])  # arrivals after the deadline
    await runner.open(list(zip(units, times, strict=False)), load.max_concurrency, check)
