"""The middle of `bench run`: drive the load, with the side channels beside it.

`drive_load` sends the run's requests (`bench.loadgen.drive`), appends each record to the
run's request log as it completes, and scrapes the server's /metrics meanwhile. Whatever
happens (a dead server, a full disk, a failing side channel) it returns a `LoadOutcome`:
the records are in the log, `failure` says why the run stopped early, and side channels
only ever add `notes`. A stop signal (SIGINT, SIGTERM, SIGHUP) arriving while the load
runs cancels it between two callbacks: every request in flight is recorded as cancelled,
and `interrupted` names the signal (the caller writes the partial report, then raises).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from bench import signals
from bench.records import RequestRecord, RequestSpec
from bench.report.io import RequestLog

T = TypeVar("T")


@dataclass
class LoadOutcome:
    """What driving the load left behind.

    `stats` is filled in place even when the run stopped early; `finished` says the drive
    ran to its end (so the client's self-measurement is whole). `planned` counts the
    measured requests the run set out to send (see `planned_requests`). `interrupted`: the
    stop signal that ended the run, if one did.
    """

    stats: Any
    finished: bool = False
    failure: str | None = None
    scraper: Any = None
    notes: list[str] = field(default_factory=list)
    planned: int = 0
    interrupted: int | None = None


def planned_requests(specs: list[RequestSpec], not_due: int) -> int:
    """Measured requests planned: the measured specs, less those a run bounded by time
    never reached (`not_due`: the deadline, or the end of the run, came first)."""
    return sum(not s.warmup for s in specs) - not_due


def never_sent_failure(planned: int, records: list[RequestRecord]) -> str | None:
    """Why a run that recorded fewer measured requests than it planned is not complete."""
    missing = planned - sum(not r.warmup for r in records)
    if missing <= 0:
        return None
    return f"{missing} of {planned} planned requests were never sent"


def event_loop_runner() -> Callable[[Any], Any]:
    try:
        import uvloop

        return uvloop.run  # type: ignore[no-any-return]
    except ImportError:
        return asyncio.run


def drive_load(
    plan: Any,
    specs: list[RequestSpec],
    target: Any,
    log: RequestLog,
    *,
    scrape_url: str | None,
    watchdog: Callable[[], str | None] | None,
    on_record: Callable[[RequestRecord], None] | None,
    seed: int,
) -> LoadOutcome:
    """Send `specs` at the plan's load; every record goes to `log` (then `on_record`).

    A dead server (watchdog), a dead client worker, a record that cannot be written or a
    stop signal end the run early with `failure` set (and `interrupted` for a signal); the
    requests then in flight are recorded as cancelled first.
    """
    from bench.engines.prometheus import Scraper, scrape_period_s
    from bench.loadgen.drive import DriveStats, RunAborted, drive

    outcome = LoadOutcome(stats=DriveStats())

    def record(rec: RequestRecord) -> None:
        log.append(rec)
        if on_record:
            on_record(rec)

    async def main() -> None:
        task = asyncio.current_task()
        assert task is not None

        def stop(signum: int) -> None:
            if outcome.interrupted is None:
                outcome.interrupted = signum
                task.cancel()

        restore = signals.on_loop(asyncio.get_running_loop(), stop)
        try:
            if scrape_url:
                cfg = plan.config
                period = cfg.scrape_period_s or scrape_period_s(cfg.duration_s)
                outcome.scraper = Scraper(scrape_url, period_s=period)
                await outcome.scraper.start()
            await drive(target, specs, plan.config.load, on_record=record,
                        duration_s=plan.config.duration_s, seed=seed, watchdog=watchdog,
                        workers=plan.config.workers, stats=outcome.stats)  # fmt: skip
        except asyncio.CancelledError:
            if outcome.interrupted is None:
                raise
        finally:
            if outcome.scraper is not None:
                await _stop_scraper(outcome)
            restore()

    try:
        event_loop_runner()(main())
        if outcome.interrupted is None:
            outcome.finished = True
        else:
            outcome.failure = f"interrupted by {signals.signal_name(outcome.interrupted)}"
    except RunAborted as exc:
        outcome.failure = str(exc)
    finally:
        outcome.planned = planned_requests(specs, outcome.stats.not_due)
    if outcome.failure is None:
        outcome.failure = log.error or never_sent_failure(outcome.planned, log.records)
        short = ran_out_note(plan.config.duration_s, outcome.stats)
        outcome.notes += [short] if short else []
    return outcome


def ran_out_note(duration_s: float | None, stats: Any) -> str | None:
    """A run bounded by time that sent every prepared request before its deadline measured
    a shorter run than asked for: say so (1 % of the duration is allowed for the drain)."""
    if not duration_s or stats.not_due or stats.wall_s >= 0.99 * duration_s:
        return None
    return (
        f"every prepared request was sent after {stats.wall_s:.1f} s of the {duration_s:g} s "
        "asked for, so the run is shorter than asked; pass --num-requests (with --duration) "
        "to prepare more"
    )


async def _stop_scraper(outcome: LoadOutcome) -> None:
    """Stop the /metrics scraper; a failure there becomes a note, never the run's end."""
    try:
        await outcome.scraper.stop()
    except Exception as exc:  # a side channel can only add a note
        outcome.notes.append(f"server /metrics: not measured ({type(exc).__name__}: {exc})")
        outcome.scraper = None


def side_channel(notes: list[str], what: str, measure: Callable[[], T]) -> T | None:
    """`measure()`, or None and a note saying `what` was not measured and why: a side
    channel (server counters, energy meters) can add a note to a run, never end it."""
    try:
        return measure()
    except Exception as exc:  # whatever it was, the report must still be written
        notes.append(f"{what}: not measured ({type(exc).__name__}: {exc})"[:500])
        return None
