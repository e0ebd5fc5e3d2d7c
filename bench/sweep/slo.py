"""Latency targets for sweeps and the SLO search, and the margin a measured point has.

A sweep SLO is a list of bounds, each on one statistic of one metric: TTFT, TPOT and E2E
percentiles must be at most their limit; interactivity (1 / TPOT at that statistic) must be
at least its limit. The margin of a point is the smallest log-ratio over the bounds, so
"meets the SLO" is margin ≥ 0 and the margin is smooth enough to root-find on.
"""

from __future__ import annotations

import math
from typing import Literal, Protocol

from pydantic import Field

from bench.config.loading import StrictConfig
from bench.errors import UserError
from bench.records import Distribution, Record


class MeasuredPoint(Protocol):
    """What an SLO is judged on (a sweep's `CurvePoint` offers it): the latency
    distributions of the measured requests, in seconds, and the share that failed."""

    @property
    def ttft_s(self) -> Distribution: ...

    @property
    def tpot_s(self) -> Distribution: ...

    @property
    def e2e_s(self) -> Distribution: ...

    @property
    def error_rate(self) -> float: ...


Stat = Literal["mean", "p50", "p90", "p95", "p99"]
BoundMetric = Literal["ttft_s", "tpot_s", "e2e_s", "interactivity_tok_per_s"]
STATS: tuple[str, ...] = ("mean", "p50", "p90", "p95", "p99")
BOUND_METRICS: tuple[str, ...] = ("ttft_s", "tpot_s", "e2e_s", "interactivity_tok_per_s")


class SLOBound(StrictConfig):
    """`stat` of `metric` ≤ `limit` (seconds); for interactivity ≥ `limit` (tok/s per user).

    Interactivity at a statistic is 1 / TPOT at that statistic: "p90 interactivity ≥ 20"
    means 90 % of requests have TPOT ≤ 1/20 s.
    """

    metric: BoundMetric
    stat: Stat = "p90"
    limit: float = Field(gt=0, allow_inf_nan=False)

    @property
    def label(self) -> str:
        op = ">=" if self.metric == "interactivity_tok_per_s" else "<="
        return f"{self.metric}.{self.stat}{op}{self.limit:g}"


class SweepSLO(StrictConfig):
    """All bounds must hold and at most `max_error_rate` of measured requests may fail."""

    bounds: list[SLOBound] = Field(min_length=1)
    max_error_rate: float = Field(default=0.01, ge=0, le=1)


class SLOMargin(Record):
    """How far a point is inside (≥ 0) or outside (< 0) its SLO.

    `margin` = min over bounds of ln(limit / value) (ln(value / limit) for interactivity);
    None when a bound's statistic was not measured. `limiting` is the bound that set it.
    """

    margin: float | None
    limiting: str | None
    error_rate: float
    meets: bool


def distribution_stat(dist: Distribution, stat: str) -> float | None:
    """`stat` ('mean', 'p50', ...) of a Distribution, None when not measured."""
    value = getattr(dist, stat)
    return None if value is None else float(value)


def bound_value(bound: SLOBound, point: MeasuredPoint) -> float | None:
    """The measured value a bound compares: a latency in s, or 1/TPOT in tok/s per user."""
    if bound.metric == "interactivity_tok_per_s":
        tpot = distribution_stat(point.tpot_s, bound.stat)
        if tpot is None:
            return None
        return math.inf if tpot <= 0 else 1.0 / tpot
    return distribution_stat(getattr(point, bound.metric), bound.stat)


def bound_margin(bound: SLOBound, value: float) -> float:
    """ln(limit / value) for latency bounds, ln(value / limit) for interactivity.

    Example: TTFT p90 limit 2 s, measured 1 s → ln 2 = 0.693 (inside); 4 s → −0.693.
    """
    if bound.metric == "interactivity_tok_per_s":
        return -math.inf if value <= 0 else math.log(value / bound.limit)
    return math.inf if value <= 0 else math.log(bound.limit / value)


def slo_margin(slo: SweepSLO, point: MeasuredPoint) -> SLOMargin:
    """The point's margin against every bound and whether it meets the SLO.

    A point meets the SLO when every bound was measured, the margin is ≥ 0 and its error
    rate is at most `slo.max_error_rate`.
    """
    worst: float | None = math.inf
    limiting: str | None = None
    for bound in slo.bounds:
        value = bound_value(bound, point)
        if value is None:
            worst, limiting = None, f"{bound.label} (not measured)"
            break
        m = bound_margin(bound, value)
        if worst is not None and m < worst:
            worst, limiting = m, bound.label
    meets = worst is not None and worst >= 0 and point.error_rate <= slo.max_error_rate
    if worst is not None and worst >= 0 and not meets:
        limiting = f"error_rate<={slo.max_error_rate:g}"
    return SLOMargin(margin=worst, limiting=limiting, error_rate=point.error_rate, meets=meets)


def parse_bound(text: str) -> SLOBound:
    """Parse the CLI form `metric:stat:limit`, e.g. `ttft_s:p90:2.0` or `tpot_s:p50:0.05`.

    Raises:
        UserError: wrong shape, unknown metric or statistic, or a limit that is not > 0.
    """
    parts = text.split(":")
    fix = f"write METRIC:STAT:LIMIT with METRIC in {BOUND_METRICS} and STAT in {STATS}"
    if len(parts) != 3:
        raise UserError(f"cannot read SLO bound {text!r}", field="--slo", fix=fix)
    metric, stat, limit_text = parts
    if metric not in BOUND_METRICS or stat not in STATS:
        raise UserError(f"unknown metric or statistic in {text!r}", field="--slo", fix=fix)
    try:
        limit = float(limit_text)
    except ValueError:
        raise UserError(f"limit {limit_text!r} is not a number", field="--slo", fix=fix) from None
    if not limit > 0 or math.isinf(limit):
        raise UserError(f"limit {limit_text!r} must be > 0 and finite", field="--slo", fix=fix)
    return SLOBound.model_validate({"metric": metric, "stat": stat, "limit": limit})
