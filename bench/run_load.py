"""The middle of `bench run`: drive the load, with the side channels beside it.

`drive_load` sends the run's requests (`bench.loadgen.drive`), appends each record to the
run's request log as it completes, and scrapes the server's /metrics meanwhile. Whatever
happens (a dead server, a full disk, a failing side channel) it returns a `LoadOutcome`:
the records are in the log, `failure` says why the run stopped early, and side channels
only ever add `notes`. Interrupts (Ctrl-C and the signals `bench` turns into one) still
propagate, after every in-flight request has been recorded as cancelled.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.records import RequestRecord, RequestSpec
from bench.report.io import RequestLog


@dataclass
class LoadOutcome:
    """What driving the load left behind.

    `stats` is filled in place even when the run stopped early; `finished` says the drive
    ran to its end (so the client's self-measurement is whole). `planned` counts the
    measured requests the run set out to send (see `planned_requests`).
    """

    stats: Any
    finished: bool = False
    failure: str | None = None
    scraper: Any = None
    notes: list[str] = field(default_factory=list)
    planned: int = 0


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

    A dead server (watchdog), a dead client worker or a record that cannot be written end
    the run early with `failure` set; the requests then in flight are recorded as
    cancelled first.

    Raises:
        KeyboardInterrupt: interrupted; in-flight requests were recorded as cancelled.
    """
    from bench.engines.prometheus import Scraper, scrape_period_s
    from bench.loadgen.drive import DriveStats, RunAborted, drive

    outcome = LoadOutcome(stats=DriveStats())

    def record(rec: RequestRecord) -> None:
        log.append(rec)
        if on_record:
            on_record(rec)

    async def main() -> None:
        if scrape_url:
            cfg = plan.config
            period = cfg.scrape_period_s or scrape_period_s(cfg.duration_s)
            outcome.scraper = Scraper(scrape_url, period_s=period)
            await outcome.scraper.start()
        try:
            await drive(target, specs, plan.config.load, on_record=record,
                        duration_s=plan.config.duration_s, seed=seed, watchdog=watchdog,
                        workers=plan.config.workers, stats=outcome.stats)  # fmt: skip
        finally:
            if outcome.scraper is not None:
                await _stop_scraper(outcome)

    try:
        event_loop_runner()(main())
        outcome.finished = True
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
        outcome.notes.append(f"server /metrics scraping failed: {type(exc).__name__}: {exc}")
        outcome.scraper = None
