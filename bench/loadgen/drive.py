"""Drive a list of requests at a target load and stream each record out as it completes.

Closed loop keeps `concurrency` units in flight; open loop starts units at scheduled
arrival times (optionally capped by `max_concurrency`). A unit is one request, or one
multi-turn session whose turns go strictly in order. Warm-up requests run first, at the
same load, and are flagged `warmup` so metrics exclude them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp

from bench.config.run import ConcurrencyLoad, RateLoad
from bench.loadgen.arrivals import arrival_offsets_s
from bench.loadgen.client import StreamTarget, send_streaming
from bench.records import RequestRecord, RequestSpec

NS_PER_S = 1_000_000_000
LOOP_LAG_PERIOD_S = 0.01


class RunAborted(Exception):
    """The watchdog saw the server die (or the user interrupted); in-flight work cancelled."""


@dataclass
class DriveStats:
    """What the client measured about itself while driving the load."""

    cpu_s: float = 0.0
    wall_s: float = 0.0
    loop_lag_s: list[float] = field(default_factory=list)
    send_lag_s: list[float] = field(default_factory=list)
    start_ns: int = 0
    end_ns: int = 0


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


async def _loop_lag_probe(samples: list[float], stop: asyncio.Event) -> None:
    """Sleep a fixed period and record how late the loop woke us: the client's own load."""
    while not stop.is_set():
        t0 = time.perf_counter_ns()
        await asyncio.sleep(LOOP_LAG_PERIOD_S)
        samples.append(max(0.0, (time.perf_counter_ns() - t0) / NS_PER_S - LOOP_LAG_PERIOD_S))


async def drive(
    target: StreamTarget,
    specs: list[RequestSpec],
    load: ConcurrencyLoad | RateLoad,
    *,
    on_record: Callable[[RequestRecord], None],
    duration_s: float | None = None,
    seed: int = 0,
    watchdog: Callable[[], str | None] | None = None,
) -> DriveStats:
    """Send `specs` (warm-up ones first) at `load`; call `on_record` for each completion.

    Raises:
        RunAborted: `watchdog()` returned a reason; in-flight requests were cancelled and
            their records (status "cancelled") delivered to `on_record` first.
    """
    warmup = [s for s in specs if s.warmup]
    measured = [s for s in specs if not s.warmup]
    stats = DriveStats()
    limit = load.concurrency if isinstance(load, ConcurrencyLoad) else (load.max_concurrency or 0)
    connector = aiohttp.TCPConnector(limit=limit, limit_per_host=0, ttl_dns_cache=None)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=30)
    stop_probe = asyncio.Event()
    cpu0 = time.process_time()
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        probe = asyncio.create_task(_loop_lag_probe(stats.loop_lag_s, stop_probe))
        counter = iter(range(len(specs)))

        async def run_unit(unit: list[RequestSpec], scheduled_ns: int | None) -> None:
            for k, spec in enumerate(unit):
                rec = await send_streaming(
                    session,
                    target,
                    spec,
                    next(counter),
                    scheduled_ns=scheduled_ns if k == 0 else None,
                )
                if scheduled_ns is not None and k == 0:
                    stats.send_lag_s.append((rec.sent_ns - scheduled_ns) / NS_PER_S)
                on_record(rec)
                if rec.status != "ok":
                    break  # a broken session cannot continue its context

        async def phase(units: list[list[RequestSpec]], bounded: bool) -> None:
            deadline = (
                time.perf_counter_ns() + int(duration_s * NS_PER_S)
                if bounded and duration_s
                else None
            )
            tasks: set[asyncio.Task[None]] = set()
            try:
                if isinstance(load, ConcurrencyLoad):
                    await _closed_loop(units, load.concurrency, run_unit, deadline, tasks, watchdog)
                else:
                    await _open_loop(units, load, seed, run_unit, deadline, tasks, watchdog)
            except RunAborted:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                raise

        try:
            if warmup:
                await phase(group_units(warmup), bounded=False)
            stats.start_ns = time.perf_counter_ns()
            await phase(group_units(measured), bounded=True)
            stats.end_ns = time.perf_counter_ns()
        finally:
            stop_probe.set()
            await probe
            stats.cpu_s = time.process_time() - cpu0
            stats.wall_s = (
                time.perf_counter_ns() - (stats.start_ns or time.perf_counter_ns())
            ) / NS_PER_S
    return stats


async def _watch(
    tasks: set[asyncio.Task[None]], watchdog: Callable[[], str | None] | None, wait_s: float
) -> None:
    """Wait up to `wait_s` for any task to finish, checking the watchdog meanwhile."""
    if tasks:
        await asyncio.wait(tasks, timeout=wait_s, return_when=asyncio.FIRST_COMPLETED)
    else:
        await asyncio.sleep(wait_s)
    if watchdog is not None:
        reason = watchdog()
        if reason:
            raise RunAborted(reason)


async def _closed_loop(units, concurrency, run_unit, deadline, tasks, watchdog) -> None:  # type: ignore[no-untyped-def]
    pending = list(reversed(units))
    while pending or tasks:
        expired = deadline is not None and time.perf_counter_ns() >= deadline
        while pending and len(tasks) < concurrency and not expired:
            task = asyncio.create_task(run_unit(pending.pop(), None))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if expired:
            pending.clear()
        if not tasks:
            break
        await _watch(tasks, watchdog, 0.5)


async def _open_loop(units, load: RateLoad, seed, run_unit, deadline, tasks, watchdog) -> None:  # type: ignore[no-untyped-def]
    offsets = arrival_offsets_s(
        len(units), load.rate_per_s, load.arrival, burstiness=load.burstiness, seed=seed
    )
    cap = load.max_concurrency
    t0 = time.perf_counter_ns()
    for unit, offset in zip(units, offsets, strict=True):
        scheduled = t0 + int(offset * NS_PER_S)
        if deadline is not None and scheduled >= deadline:
            break
        while True:
            now = time.perf_counter_ns()
            if now >= scheduled and (cap is None or len(tasks) < cap):
                break
            wait = max(0.0, (scheduled - now) / NS_PER_S) if now < scheduled else 0.05
            await _watch(tasks if now >= scheduled else set(), watchdog, min(wait, 0.5))
        task = asyncio.create_task(run_unit(unit, scheduled))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    while tasks:
        await _watch(tasks, watchdog, 0.5)
