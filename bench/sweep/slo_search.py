"""Find the highest load that meets an SLO with few runs: bracket, then refine on the margin.

1. Bracket: measure `start_load`, grow geometrically (× `growth`) until a point fails the
   SLO, `max_load` is reached, the error rate crosses the SLO's limit, or throughput stops
   increasing while latency grows (saturation).
2. Refine: between the highest passing load L and the lowest failing load H, estimate the
   root of the log margin by regula falsi in log(load), then probe a third of the tolerance
   past the estimate on the side that has not moved yet, so one probe moves each end; fall
   back to the geometric midpoint when the margin is unusable (failure by errors or a failed
   run) or when two probes did not halve the bracket. Stop when H / L − 1 ≤ `tolerance`
   (or no integer load lies between them).

The answer is always a measured load: "not_reached" when even the lowest load fails.
`measure(load)` is injected; it returns a `CurvePoint` or raises `ProbeFailed`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

from pydantic import Field, model_validator

from bench.config.loading import StrictConfig
from bench.records import Record
from bench.sweep.curve import CurvePoint
from bench.sweep.slo import SweepSLO, slo_margin


class ProbeFailed(Exception):
    """`measure` could not produce a point at this load (the run failed); a failing probe."""


class SearchSettings(StrictConfig):
    """How the search moves. `tolerance` is relative: stop when high / low − 1 ≤ tolerance."""

    start_load: float = Field(gt=0)
    max_load: float = Field(gt=0)
    growth: float = Field(default=2.0, gt=1)
    tolerance: float = Field(default=0.1, gt=0)
    integer: bool = True
    max_runs: int = Field(default=20, ge=1)
    saturation_gain: float | None = Field(default=0.05, ge=0, description="None: never stop")

    @model_validator(mode="after")
    def _ordered(self) -> SearchSettings:
        if self.max_load < self.start_load:
            raise ValueError("max_load must be ≥ start_load")
        if self.integer and self.start_load != int(self.start_load):
            raise ValueError("start_load must be a whole number for integer (concurrency) loads")
        return self


Phase = Literal["bracket", "refine"]


class Probe(Record):
    """One measured load. `margin` is the SLO log margin (None: not measured / run failed)."""

    index: int
    phase: Phase
    load: float
    point: CurvePoint | None
    margin: float | None
    limiting: str | None
    meets: bool
    failure: str | None = None


EscalationStop = Literal[
    "slo_failed", "error_rate", "run_failed", "saturated", "max_load", "max_runs"
]
StopReason = Literal["converged", "lowest_fails", "max_load", "saturated", "max_runs"]


class SearchResult(Record):
    """Outcome of an SLO search; `best_load` is the highest measured load meeting the SLO.

    `bracket_low` / `bracket_high`: highest passing and lowest failing measured loads
    (high is None when nothing above low failed). `runs` = number of probes.
    """

    status: Literal["found", "not_reached"]
    best_load: float | None
    best: Probe | None
    bracket_low: float | None
    bracket_high: float | None
    tolerance: float
    converged: bool
    escalation_stop: EscalationStop
    stop_reason: StopReason
    runs: int
    probes: list[Probe]
    note: str


def _probe(
    measure: Callable[[float], CurvePoint], slo: SweepSLO, load: float, index: int, phase: Phase
) -> Probe:
    try:
        point = measure(load)
    except ProbeFailed as exc:
        return Probe(
            index=index,
            phase=phase,
            load=load,
            point=None,
            margin=None,
            limiting="run failed",
            meets=False,
            failure=str(exc),
        )
    m = slo_margin(slo, point)
    return Probe(
        index=index,
        phase=phase,
        load=load,
        point=point,
        margin=m.margin,
        limiting=m.limiting,
        meets=m.meets,
    )


def _why_failed(probe: Probe) -> EscalationStop:
    if probe.point is None:
        return "run_failed"
    if probe.margin is not None and probe.margin >= 0:
        return "error_rate"
    return "slo_failed"


def is_saturated(prev: CurvePoint, cur: CurvePoint, min_gain: float) -> bool:
    """More load bought < `min_gain` relative throughput while median E2E latency grew.

    saturated ⇔ total_cur ≤ total_prev · (1 + min_gain) and e2e_p50_cur > e2e_p50_prev.
    """
    grew = (cur.e2e_s.p50 or 0.0) > (prev.e2e_s.p50 or 0.0)
    flat = cur.total_tok_per_s_per_gpu <= prev.total_tok_per_s_per_gpu * (1.0 + min_gain)
    return grew and flat


def _next_bracket_load(load: float, s: SearchSettings) -> float:
    nxt = min(load * s.growth, s.max_load)
    return float(min(max(round(nxt), int(load) + 1), int(s.max_load))) if s.integer else nxt


def _falsi_usable(lo: Probe, hi: Probe) -> bool:
    return (
        lo.margin is not None
        and hi.margin is not None
        and math.isfinite(lo.margin)
        and math.isfinite(hi.margin)
        and hi.margin < 0 <= lo.margin
    )


def next_refine_load(
    lo: Probe, hi: Probe, s: SearchSettings, last_moved: str, bisect: bool
) -> float | None:
    """The next load strictly inside (lo, hi), or None when no integer load lies between.

    Regula falsi on (ln load, margin): x* = x_lo + (x_hi − x_lo)·m_lo / (m_lo − m_hi), then
    shifted by ln(1 + tolerance/3) towards the end that did not move last; the geometric
    midpoint when `bisect` or the margins are unusable. Clamped to the inner 90 % of the
    bracket in log space.
    """
    x_lo, x_hi = math.log(lo.load), math.log(hi.load)
    if bisect or not _falsi_usable(lo, hi):
        x = 0.5 * (x_lo + x_hi)
    else:
        m_lo, m_hi = lo.margin or 0.0, hi.margin or 0.0
        x = x_lo + (x_hi - x_lo) * m_lo / (m_lo - m_hi)
        shift = math.log(1.0 + s.tolerance / 3.0)
        x = x + shift if last_moved == "lo" else x - shift
        pad = 0.05 * (x_hi - x_lo)
        x = min(max(x, x_lo + pad), x_hi - pad)
    load = math.exp(x)
    if not s.integer:
        return load
    if hi.load - lo.load <= 1:
        return None
    return float(min(max(round(load), int(lo.load) + 1), int(hi.load) - 1))


def _converged(lo: Probe, hi: Probe, s: SearchSettings) -> bool:
    return hi.load / lo.load - 1.0 <= s.tolerance or (s.integer and hi.load - lo.load <= 1)


def search_max_load(
    measure: Callable[[float], CurvePoint], slo: SweepSLO, settings: SearchSettings
) -> SearchResult:
    """Highest load meeting `slo`, bracketed within `settings.tolerance`; see module doc."""
    probes: list[Probe] = []

    def run(load: float, phase: Phase) -> Probe:
        probes.append(_probe(measure, slo, load, len(probes), phase))
        return probes[-1]

    def result(
        lo: Probe | None, hi: Probe | None, esc: EscalationStop, stop: StopReason
    ) -> SearchResult:
        converged = lo is not None and hi is not None and _converged(lo, hi, settings)
        return SearchResult(
            status="found" if lo is not None else "not_reached",
            best_load=lo.load if lo else None,
            best=lo,
            bracket_low=lo.load if lo else None,
            bracket_high=hi.load if hi else None,
            tolerance=settings.tolerance,
            converged=converged,
            escalation_stop=esc,
            stop_reason=stop,
            runs=len(probes),
            probes=probes,
            note=_note(lo, hi, esc, stop, len(probes)),
        )

    lo: Probe | None = None
    load = float(settings.start_load)
    while True:
        p = run(load, "bracket")
        if not p.meets:
            if lo is None:
                return result(None, p, _why_failed(p), "lowest_fails")
            hi, esc = p, _why_failed(p)
            break
        gain = settings.saturation_gain
        if (
            gain is not None
            and lo
            and lo.point
            and p.point
            and is_saturated(lo.point, p.point, gain)
        ):
            return result(p, None, "saturated", "saturated")
        lo = p
        if load >= settings.max_load:
            return result(lo, None, "max_load", "max_load")
        if len(probes) >= settings.max_runs:
            return result(lo, None, "max_runs", "max_runs")
        load = _next_bracket_load(load, settings)

    last_moved, widths = "hi", [math.log(hi.load / lo.load)]
    while not _converged(lo, hi, settings):
        if len(probes) >= settings.max_runs:
            return result(lo, hi, esc, "max_runs")
        bisect = len(widths) >= 3 and widths[-1] > 0.5 * widths[-3]
        nxt = next_refine_load(lo, hi, settings, last_moved, bisect)
        if nxt is None:
            break
        p = run(nxt, "refine")
        if p.meets:
            lo, last_moved = p, "lo"
        else:
            hi, last_moved = p, "hi"
        widths.append(math.log(hi.load / lo.load))
    return result(lo, hi, esc, "converged")


def _note(lo: Probe | None, hi: Probe | None, esc: str, stop: str, runs: int) -> str:
    if lo is None:
        first = hi.load if hi else float("nan")
        why = hi.limiting if hi else "?"
        return f"SLO not reached: even the lowest load {first:g} fails ({why}); {runs} run(s)"
    text = f"highest measured load meeting the SLO: {lo.load:g}"
    if hi is not None:
        text += f"; lowest failing: {hi.load:g} ({hi.limiting})"
    reasons = {
        "saturated": "escalation stopped: throughput stopped increasing while latency grew",
        "max_load": "the SLO still holds at max_load; higher load was not measured",
        "max_runs": "stopped at the run limit before the bracket reached the tolerance",
        "error_rate": "escalation stopped: error rate crossed the SLO's limit",
        "run_failed": "escalation stopped: a run failed",
    }
    if stop in reasons:
        text += f"; {reasons[stop]}"
    elif esc in reasons:
        text += f"; {reasons[esc]}"
    return f"{text}; {runs} run(s)"
