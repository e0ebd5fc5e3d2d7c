"""Unit constants every layer shares, and the wall-clock label.

Durations are `perf_counter_ns()` differences divided by `NS_PER_S`; wall-clock time
appears only as a label (`utc_now`). Money per hour, month and year converts with the hours
below (a month is 1/12 of a 365-day year).
"""

from __future__ import annotations

from datetime import UTC, datetime

NS_PER_S = 1_000_000_000
S_PER_HOUR = 3600.0
HOURS_PER_YEAR = 8760.0  # 365 × 24
HOURS_PER_MONTH = HOURS_PER_YEAR / 12  # 730
J_PER_KWH = 3.6e6  # 1000 W × 3600 s


def utc_now() -> str:
    """Wall-clock label, ISO 8601 UTC to the second (labels only, never durations)."""
    return datetime.now(UTC).isoformat(timespec="seconds")
