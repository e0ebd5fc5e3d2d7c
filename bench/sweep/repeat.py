"""Repeatability of a load point: mean and Student-t confidence interval over N repeats, and
a flag when the spread (coefficient of variation) is above a stated threshold.

The t quantile is computed here (no SciPy in the environment) from the regularised
incomplete beta function, evaluated by its continued fraction (Lentz's method).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

from bench.config.run import LoadKind
from bench.records import Distribution, Record
from bench.sweep.curve import CurvePoint


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz, 1e-14 relative)."""
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        for num in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + num / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-14:
            break
    return h


def regularized_beta(a: float, b: float, x: float) -> float:
    """I_x(a, b) = B(x; a, b) / B(a, b), for 0 ≤ x ≤ 1."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _betacf(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """Student-t CDF: F(t) = 1 − ½·I_{ν/(ν+t²)}(ν/2, ½) for t ≥ 0, symmetric for t < 0."""
    tail = 0.5 * regularized_beta(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t >= 0 else tail


def t_quantile(p: float, df: float) -> float:
    """The t with t_cdf(t, df) = p, by bisection to 1e-12. Example: p=0.975, df=4 → 2.7764.

    Raises:
        ValueError: p not in (0, 1) or df ≤ 0.
    """
    if not 0.0 < p < 1.0 or df <= 0:
        raise ValueError("need 0 < p < 1 and df > 0")
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < p:
        hi *= 2.0
    while hi - lo > 1e-12 * max(1.0, hi):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if t_cdf(mid, df) < p else (lo, mid)
    return 0.5 * (lo + hi)


class MeanCI(Record):
    """Mean of n repeats with a two-sided Student-t confidence interval.

    half_width = t_{(1+confidence)/2, n−1} · s / √n (s: sample standard deviation);
    cv = s / |mean|. With n = 1 there is no spread: stdev, cv and the interval are None.
    """

    n: int
    mean: float
    stdev: float | None
    cv: float | None
    confidence: float
    half_width: float | None
    low: float | None
    high: float | None


def mean_ci(values: Sequence[float], confidence: float = 0.95) -> MeanCI:
    """Mean and confidence interval of `values`. Raises ValueError when `values` is empty."""
    if not values:
        raise ValueError("no values")
    if not 0.0 < confidence < 1.0:
        raise ValueError("confidence must be in (0, 1)")
    n, mean = len(values), statistics.fmean(values)
    if n == 1:
        return MeanCI(
            n=1, mean=mean, stdev=None, cv=None, confidence=confidence,
            half_width=None, low=None, high=None,
        )  # fmt: skip
    s = statistics.stdev(values)
    half = t_quantile(0.5 + confidence / 2.0, n - 1) * s / math.sqrt(n)
    cv = s / abs(mean) if mean else (0.0 if s == 0 else math.inf)
    return MeanCI(
        n=n, mean=mean, stdev=s, cv=cv, confidence=confidence,
        half_width=half, low=mean - half, high=mean + half,
    )  # fmt: skip


class RepeatedPoint(Record):
    """One load level measured `repeats` times: mean ± CI per metric, flagged when unstable.

    `unstable` lists the metrics whose cv exceeds `cv_threshold`; `flagged` = any.
    `mean_point` is the curve point of the means (each latency statistic averaged).
    """

    load_kind: LoadKind
    load: float
    repeats: int
    run_dirs: list[str]
    total_tok_per_s_per_gpu: MeanCI
    input_tok_per_s_per_gpu: MeanCI
    output_tok_per_s_per_gpu: MeanCI
    interactivity_tok_per_s: MeanCI | None
    ttft_p50_s: MeanCI | None
    e2e_p50_s: MeanCI | None
    cv_threshold: float
    unstable: list[str]
    flagged: bool
    mean_point: CurvePoint


def _mean_dist(dists: Sequence[Distribution]) -> Distribution:
    fields: dict[str, float | None] = {}
    for name in ("mean", "min", "max", "p50", "p90", "p95", "p99"):
        values = [v for d in dists if (v := getattr(d, name)) is not None]
        fields[name] = statistics.fmean(values) if len(values) == len(dists) else None
    return Distribution(count=sum(d.count for d in dists), **fields)


def _ci_of(values: list[float | None], confidence: float) -> MeanCI | None:
    if any(v is None for v in values):
        return None
    return mean_ci([float(v) for v in values if v is not None], confidence)


def summarize_repeats(
    points: Sequence[CurvePoint], *, confidence: float = 0.95, cv_threshold: float = 0.05
) -> RepeatedPoint:
    """Mean and CI over repeats of one load level; flag metrics with cv > `cv_threshold`.

    Raises:
        ValueError: no points, or points from different load levels.
    """
    if not points:
        raise ValueError("no repeats")
    first = points[0]
    key = (first.load_kind, first.load, first.gpus)
    if any((p.load_kind, p.load, p.gpus) != key for p in points):
        raise ValueError("repeats must share load kind, load level and GPU count")
    total = mean_ci([p.total_tok_per_s_per_gpu for p in points], confidence)
    tin = mean_ci([p.input_tok_per_s_per_gpu for p in points], confidence)
    tout = mean_ci([p.output_tok_per_s_per_gpu for p in points], confidence)
    inter = _ci_of([p.interactivity_tok_per_s for p in points], confidence)
    ttft = _ci_of([p.ttft_s.p50 for p in points], confidence)
    e2e = _ci_of([p.e2e_s.p50 for p in points], confidence)
    metrics = {
        "total_tok_per_s_per_gpu": total,
        "input_tok_per_s_per_gpu": tin,
        "output_tok_per_s_per_gpu": tout,
        "interactivity_tok_per_s": inter,
        "ttft_p50_s": ttft,
        "e2e_p50_s": e2e,
    }
    unstable = [
        name for name, ci in metrics.items() if ci and ci.cv is not None and ci.cv > cv_threshold
    ]
    tpot = _mean_dist([p.tpot_s for p in points])
    ok, failed = sum(p.requests_ok for p in points), sum(p.requests_failed for p in points)
    mean_point = first.model_copy(
        update={
            "run_dir": None,
            "total_tok_per_s_per_gpu": total.mean,
            "input_tok_per_s_per_gpu": tin.mean,
            "output_tok_per_s_per_gpu": tout.mean,
            "request_per_s": statistics.fmean(p.request_per_s for p in points),
            "interactivity_tok_per_s": 1.0 / tpot.p50 if tpot.p50 else None,
            "ttft_s": _mean_dist([p.ttft_s for p in points]),
            "tpot_s": tpot,
            "e2e_s": _mean_dist([p.e2e_s for p in points]),
            "requests_ok": ok,
            "requests_failed": failed,
            "error_rate": failed / (ok + failed) if ok + failed else 0.0,
            "meets_slo": None,
            "slo_margin": None,
        }
    )
    return RepeatedPoint(
        load_kind=first.load_kind,
        load=first.load,
        repeats=len(points),
        run_dirs=[p.run_dir for p in points if p.run_dir],
        total_tok_per_s_per_gpu=total,
        input_tok_per_s_per_gpu=tin,
        output_tok_per_s_per_gpu=tout,
        interactivity_tok_per_s=inter,
        ttft_p50_s=ttft,
        e2e_p50_s=e2e,
        cv_threshold=cv_threshold,
        unstable=unstable,
        flagged=bool(unstable),
        mean_point=mean_point,
    )
