"""Throughput-per-GPU against interactivity (or TTFT / E2E) curves, their Pareto front, and
the operating point read off the front at a target.

A `CurvePoint` is one measured load level, built from a run's `Report`. The operating point
at a target is interpolated along the front with monotone PCHIP between the two
neighbouring measured points, or is the measured point itself; a target outside the
measured range is "not_reached" — never extrapolated.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from bench.config.run import LoadKind
from bench.errors import UserError
from bench.records import Distribution, Record
from bench.report.records import Report
from bench.sweep.monotone import pchip
from bench.sweep.slo import SweepSLO, distribution_stat, slo_margin

ThroughputKind = Literal["total", "input", "output"]
XMetric = Literal["interactivity_tok_per_s", "ttft_s", "tpot_s", "e2e_s"]


class CurvePoint(Record):
    """One measured load level of a sweep, throughput normalised per GPU.

    `interactivity_tok_per_s` = 1 / `tpot_s.p50` (tokens/s a median user sees).
    Throughput is over `throughput_window` (steady state when the run had one).
    `error_rate` = failed / (ok + failed) measured requests.
    """

    load_kind: LoadKind
    load: float
    gpus: int
    run_dir: str | None = None
    throughput_window: Literal["steady_state", "whole_run"]
    total_tok_per_s_per_gpu: float
    input_tok_per_s_per_gpu: float
    output_tok_per_s_per_gpu: float
    request_per_s: float
    interactivity_tok_per_s: float | None
    ttft_s: Distribution
    tpot_s: Distribution
    e2e_s: Distribution
    requests_ok: int
    requests_failed: int
    error_rate: float
    meets_slo: bool | None = None
    slo_margin: float | None = None


def point_from_report(
    report: Report,
    *,
    gpus: int,
    run_dir: str | Path | None = None,
    slo: SweepSLO | None = None,
) -> CurvePoint:
    """Build a curve point from a run's report: throughput / `gpus`, latency distributions.

    Raises:
        UserError: the run has no summary (it failed before measuring anything) or gpus < 1.
    """
    where = Path(run_dir) / "report.json" if run_dir is not None else report.run_id
    if gpus < 1:
        raise UserError(f"gpus must be ≥ 1, got {gpus}", file=where, field="gpus")
    summary = report.summary
    if summary is None:
        raise UserError(
            f"run {report.run_id} has no summary (status {report.status})",
            file=where,
            field="summary",
            fix="rerun this load point",
        )
    load_kind, load = report.config.load.kind, report.config.load.level
    window = summary.steady_state or summary.whole_run
    measured = summary.requests_ok + summary.requests_failed
    tpot_p50 = summary.tpot_s.p50
    point = CurvePoint(
        load_kind=load_kind,
        load=load,
        gpus=gpus,
        run_dir=str(run_dir) if run_dir is not None else None,
        throughput_window=window.label,
        total_tok_per_s_per_gpu=window.total_tok_per_s / gpus,
        input_tok_per_s_per_gpu=window.input_tok_per_s / gpus,
        output_tok_per_s_per_gpu=window.output_tok_per_s / gpus,
        request_per_s=window.request_per_s,
        interactivity_tok_per_s=1.0 / tpot_p50 if tpot_p50 else None,
        ttft_s=summary.ttft_s,
        tpot_s=summary.tpot_s,
        e2e_s=summary.e2e_s,
        requests_ok=summary.requests_ok,
        requests_failed=summary.requests_failed,
        error_rate=summary.requests_failed / measured if measured else 0.0,
    )
    return with_slo(point, slo) if slo is not None else point


def with_slo(point: CurvePoint, slo: SweepSLO) -> CurvePoint:
    """The point with `meets_slo` and `slo_margin` filled in against `slo`."""
    m = slo_margin(slo, point)
    return point.model_copy(update={"meets_slo": m.meets, "slo_margin": m.margin})


def x_value(point: CurvePoint, x_metric: XMetric, x_stat: str = "p50") -> float | None:
    """The curve's x for a point: interactivity = 1 / TPOT at `x_stat`, else the latency."""
    if x_metric == "interactivity_tok_per_s":
        tpot = distribution_stat(point.tpot_s, x_stat)
        return 1.0 / tpot if tpot else None
    return distribution_stat(getattr(point, x_metric), x_stat)


def throughput_of(point: CurvePoint, kind: ThroughputKind) -> float:
    """Throughput per GPU of the given kind, tok/s."""
    return float(getattr(point, f"{kind}_tok_per_s_per_gpu"))


def pareto_front(
    points: Sequence[CurvePoint],
    *,
    x_metric: XMetric = "interactivity_tok_per_s",
    x_stat: str = "p50",
    throughput: ThroughputKind = "total",
) -> list[CurvePoint]:
    """Points not dominated in (throughput per GPU ↑, interactivity ↑ / latency ↓), by x.

    A point is dominated when another is at least as good on both axes and better on one;
    exact duplicates keep the first. Points without an x are left out. Sorted by x
    ascending: throughput falls along it for interactivity, rises for latency.
    """
    sign = 1.0 if x_metric == "interactivity_tok_per_s" else -1.0
    scored = []
    for p in points:
        x = x_value(p, x_metric, x_stat)
        if x is not None and math.isfinite(x):
            scored.append((x, sign * x, throughput_of(p, throughput), p))
    front: list[tuple[float, CurvePoint]] = []
    for i, (x, g, t, p) in enumerate(scored):
        dominated = any(
            (g2 >= g and t2 >= t and (g2 > g or t2 > t)) or (g2 == g and t2 == t and j < i)
            for j, (_, g2, t2, _) in enumerate(scored)
            if j != i
        )
        if not dominated:
            front.append((x, p))
    front.sort(key=lambda item: item[0])
    return [p for _, p in front]


class OperatingPoint(Record):
    """Throughput per GPU at a target x on the measured front, and how it was obtained.

    status: "measured" (`point` is the measured front point read: at the target x, or the
    plateau's end when more loaded points gave no more throughput), "interpolated" (monotone
    PCHIP between `lower` and `upper`, the front neighbours with the next smaller / larger
    x), or "not_reached" (target outside every measured x: no throughput; `nearest` is the
    closest end of the front). total = input + output at an interpolated point.
    """

    status: Literal["measured", "interpolated", "not_reached"]
    x_metric: XMetric
    x_stat: str
    target: float
    total_tok_per_s_per_gpu: float | None
    input_tok_per_s_per_gpu: float | None
    output_tok_per_s_per_gpu: float | None
    point: CurvePoint | None = None
    lower: CurvePoint | None = None
    upper: CurvePoint | None = None
    nearest: CurvePoint | None = None
    note: str


def operating_point(
    points: Sequence[CurvePoint],
    target: float,
    *,
    x_metric: XMetric = "interactivity_tok_per_s",
    x_stat: str = "p50",
    throughput: ThroughputKind = "total",
    rel_tol: float = 1e-9,
) -> OperatingPoint:
    """Read throughput per GPU at `target` x off the Pareto front of `points`.

    - within `rel_tol` of a front point's x → that point ("measured");
    - strictly between two front points → PCHIP of input and output throughput over the
      front's x ("interpolated", never beyond its two neighbours);
    - looser than the front's loose end (lower interactivity / higher latency) but inside
      the range of all measured points → the front's highest-throughput point ("measured":
      the more loaded points measured there gave no more throughput);
    - outside every measured x, or no points → "not_reached" (never extrapolated).
    """
    front = pareto_front(points, x_metric=x_metric, x_stat=x_stat, throughput=throughput)
    base: dict[str, Any] = {"x_metric": x_metric, "x_stat": x_stat, "target": target}
    if not front:
        return _not_reached(base, "not reached: no measured points", None)
    xs = [x_value(p, x_metric, x_stat) or 0.0 for p in front]
    all_xs = [x for p in points if (x := x_value(p, x_metric, x_stat)) is not None]
    interactive = x_metric == "interactivity_tok_per_s"
    loose_end = 0 if interactive else len(front) - 1
    for x, p in zip(xs, front, strict=True):
        if math.isclose(x, target, rel_tol=rel_tol):
            return _measured(p, base, f"measured at load {p.load:g}")
    if xs[0] < target < xs[-1]:
        return _interpolated(front, xs, target, base)
    looser = target < xs[0] if interactive else target > xs[-1]
    if looser and min(all_xs) <= target <= max(all_xs):
        p = front[loose_end]
        note = (
            f"measured at load {p.load:g}: the more loaded points measured beyond it gave "
            "no more throughput (plateau)"
        )
        return _measured(p, base, note)
    if looser:
        note = (
            "not reached: target is looser than every measured point; the highest-throughput "
            "point meets it but higher load was not measured; extend the sweep upward"
        )
    else:
        note = "not reached: target is stricter than every measured point, even the lightest load"
    nearest = front[loose_end] if looser else front[len(front) - 1 - loose_end]
    return _not_reached(base, note, nearest)


def _not_reached(base: dict[str, Any], note: str, nearest: CurvePoint | None) -> OperatingPoint:
    return OperatingPoint(
        status="not_reached",
        total_tok_per_s_per_gpu=None,
        input_tok_per_s_per_gpu=None,
        output_tok_per_s_per_gpu=None,
        nearest=nearest,
        note=note,
        **base,
    )


def _measured(p: CurvePoint, base: dict[str, Any], note: str) -> OperatingPoint:
    return OperatingPoint(
        status="measured",
        total_tok_per_s_per_gpu=p.total_tok_per_s_per_gpu,
        input_tok_per_s_per_gpu=p.input_tok_per_s_per_gpu,
        output_tok_per_s_per_gpu=p.output_tok_per_s_per_gpu,
        point=p,
        note=note,
        **base,
    )


def _interpolated(
    front: list[CurvePoint], xs: list[float], target: float, base: dict[str, Any]
) -> OperatingPoint:
    k = max(i for i, x in enumerate(xs) if x < target)
    tin = pchip(xs, [p.input_tok_per_s_per_gpu for p in front], target)
    tout = pchip(xs, [p.output_tok_per_s_per_gpu for p in front], target)
    return OperatingPoint(
        status="interpolated",
        total_tok_per_s_per_gpu=tin + tout,
        input_tok_per_s_per_gpu=tin,
        output_tok_per_s_per_gpu=tout,
        lower=front[k],
        upper=front[k + 1],
        note=f"interpolated (monotone PCHIP) between loads {front[k].load:g} and "
        f"{front[k + 1].load:g}",
        **base,
    )
