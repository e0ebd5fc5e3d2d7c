"""Turning command-line filter text into a `RunFilter`, and entries into rows to print."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta

from bench.errors import UserError
from bench.render.terminal import TermColumn
from bench.report.trust import TOO_SHORT
from bench.store.db import RunFilter
from bench.store.entry import RunEntry, utc_text


def date_bound(text: str, *, option: str, end: bool = False) -> str:
    """Normalised UTC bound for a `--since` / `--until` value.

    `YYYY-MM-DD` is a whole day: as a start it means that day's 00:00Z; as an end
    (`end=True`) it includes that day, i.e. it means the next day's 00:00Z (exclusive).
    A full ISO-8601 time is used as given (naive = UTC).

    Raises:
        UserError: the text is neither a date nor an ISO-8601 time.
    """
    try:
        day = date.fromisoformat(text)
    except ValueError:
        day = None
    if day is not None and len(text) == 10:
        moment = datetime(day.year, day.month, day.day)
        if end:
            moment += timedelta(days=1)
        return utc_text(moment)
    try:
        return utc_text(text)
    except ValueError:
        raise UserError(
            f"not a date: {text!r}",
            field=option,
            fix="give YYYY-MM-DD or an ISO-8601 time such as 2026-03-02T09:00:00Z",
        ) from None


def make_filter(
    *,
    sku: str | None = None,
    model: str | None = None,
    workload: str | None = None,
    status: str | None = None,
    sweep: str | None = None,
    since: str | None = None,
    until: str | None = None,
) -> RunFilter:
    """A `RunFilter` from command-line values (dates parsed with `date_bound`)."""
    return RunFilter(
        sku=sku,
        model=model,
        workload=workload,
        status=status,
        sweep_id=sweep,
        since_utc=date_bound(since, option="--since") if since else None,
        until_utc=date_bound(until, option="--until", end=True) if until else None,
    )


def _num(value: float | None, scale: float = 1.0, digits: int = 1) -> str:
    return "-" if value is None else f"{value * scale:.{digits}f}"


def _cost(e: RunEntry) -> str:
    """Cost per M output tokens in the run's display currency, `(est.)` when estimated."""
    if e.cost_usd_per_m_output_tokens is None:
        return "-"
    shown = e.cost_usd_per_m_output_tokens * (e.cost_display_per_usd or 1.0)
    estimated = " (est.)" if e.cost_estimated else ""
    return f"{shown:.3f} {e.cost_display_currency or 'USD'}{estimated}"


# (header with unit, priority: 0 always shown, then in order of what a reader needs,
#  right-aligned, cell function) for `bench runs list`
LIST_COLUMNS: list[tuple[str, int, bool, Callable[[RunEntry], str]]] = [
    ("run id", 0, False, lambda e: e.run_id),
    ("created (UTC)", 9, False, lambda e: e.created_utc.replace("T", " ").rstrip("Z")),
    ("sku", 1, False, lambda e: e.sku),
    ("model", 7, False, lambda e: e.model),
    ("workload", 6, False, lambda e: e.workload),
    ("load", 2, False, lambda e: e.load_label),
    ("status", 3, False, lambda e: f"{e.status}, {TOO_SHORT}" if e.too_short else e.status),
    ("ok/failed", 8, True, lambda e: f"{e.requests_ok}/{e.requests_failed}"),
    ("TTFT p50 (ms)", 10, True, lambda e: _num(e.ttft_p50_s, 1e3)),
    ("TPOT p50 (ms)", 5, True, lambda e: _num(e.tpot_p50_s, 1e3, 2)),
    ("out tok/s/GPU", 4, True, lambda e: _num(e.output_tok_per_s_per_gpu)),
    ("J/out tok", 11, True, lambda e: _num(e.energy_j_per_output_token, digits=3)),
    ("cost/M out", 2, True, _cost),
]


def list_table(entries: list[RunEntry]) -> tuple[list[TermColumn], list[list[str]]]:
    """Columns (with their priority) and text rows for printing a listing."""
    columns = [TermColumn(header=h, priority=p, right=r) for h, p, r, _ in LIST_COLUMNS]
    return columns, [[cell(e) for *_, cell in LIST_COLUMNS] for e in entries]
