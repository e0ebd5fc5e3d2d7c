"""Prices with their uncertainty: repeated probes, the spread of the additive fit, and the
held-out check against it.

Each probe workload (prefill-heavy, decode-heavy, cached) is run `repeats` times. The
central fit uses every run. The interval comes from refitting on every combination of one
repeat per probe workload (R₁ × R₂ × … fits): the prices any single set of probe runs would
have given. A held-out workload's additive prediction therefore has a range [low, high];
its measured cost per request (the mean over its repeats) should lie inside it, and a quote
says so when it does not — then the prices are less certain than the probes' spread shows.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Sequence

from bench.cost.additive import AdditiveFit, FitSample, fit_additive
from bench.records import Record
from bench.sweep.repeat import MeanCI, mean_ci

MAX_COMBINATIONS = 4096


class ProbeSpread(Record):
    """One probe workload over its repeats: GPU-seconds per request, mean ± CI and cv."""

    workload: str
    run_ids: list[str]
    gpu_s_per_request: MeanCI


class Coefficients(Record):
    """GPU-seconds per input, output and cached-input token of one fit (cached None: no
    probe had cached tokens, so cached input costs what input does)."""

    input: float
    output: float
    cached: float | None

    def cached_or_input(self) -> float:
        return self.input if self.cached is None else self.cached


class RepeatedFit(Record):
    """The central fit over all probe runs and the fits over one repeat per probe."""

    central: AdditiveFit
    probes: list[ProbeSpread]
    combinations: list[Coefficients]

    @property
    def repeated(self) -> bool:
        """True when some probe was repeated (an interval exists)."""
        return len(self.combinations) > 1


class Range(Record):
    """A central value and the range around it (low ≤ central ≤ high is not guaranteed
    for ranges over refits; both ends are reported as they come)."""

    central: float
    low: float
    high: float

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high

    @property
    def rel(self) -> tuple[float, float]:
        """(low, high) relative to central: (low − c)/c, (high − c)/c."""
        c = self.central
        return (self.low - c) / c, (self.high - c) / c


class HoldoutRange(Record):
    """A held-out workload: its measured cost per request in USD (mean, lowest and highest
    repeat) against the additive prediction's range."""

    workload: str
    run_ids: list[str]
    measured_usd_per_request: float
    measured_low_usd: float
    measured_high_usd: float
    predicted_usd: Range
    rel_error: float
    inside: bool


def _coef(fit: AdditiveFit) -> Coefficients:
    return Coefficients(
        input=fit.gpu_s_per_input_token,
        output=fit.gpu_s_per_output_token,
        cached=fit.gpu_s_per_cached_input_token,
    )


def repeated_fit(groups: Sequence[tuple[str, Sequence[FitSample]]]) -> RepeatedFit:
    """Central fit over every run of every probe workload, plus one fit per combination of
    one repeat per workload (all of them up to 4,096, else the first 4,096 in order).

    Raises:
        UserError: the runs cannot identify the fit (see `fit_additive`).
    """
    everything = [s for _, samples in groups for s in samples]
    central = fit_additive(everything)
    combos = [
        _coef(fit_additive(list(combo)))
        for combo in itertools.islice(
            itertools.product(*(samples for _, samples in groups)), MAX_COMBINATIONS
        )
    ]
    spreads = [
        ProbeSpread(
            workload=name,
            run_ids=[s.run_id for s in samples],
            gpu_s_per_request=mean_ci([s.gpu_s_per_request for s in samples]),
        )
        for name, samples in groups
    ]
    return RepeatedFit(central=central, probes=spreads, combinations=combos)


def cost_per_request(c: Coefficients, sample: FitSample, per_gpu_s: float) -> float:
    """Additive cost of one request = (a·in + b·out + c·cached) GPU-s × cost per GPU-second.

    Cached tokens are priced at the cached coefficient, or the input one when the fit has
    none (not identifiable).
    """
    gpu_s = c.input * sample.input_tokens + c.output * sample.output_tokens
    return (gpu_s + c.cached_or_input() * sample.cached_input_tokens) * per_gpu_s


def holdout_range(
    fit: RepeatedFit, workload: str, samples: Sequence[FitSample], usd_per_gpu_s: float
) -> HoldoutRange:
    """A held-out workload's measured mean cost per request against the additive range.

    measured = mean over its repeats of GPU-s per request × USD per GPU-s; predicted
    = additive cost of the mean request, central fit and every repeat combination.
    """
    mean = FitSample(
        run_id=workload,
        gpus=samples[0].gpus,
        gpu_s_per_request=statistics.fmean(s.gpu_s_per_request for s in samples),
        input_tokens=statistics.fmean(s.input_tokens for s in samples),
        cached_input_tokens=statistics.fmean(s.cached_input_tokens for s in samples),
        output_tokens=statistics.fmean(s.output_tokens for s in samples),
    )
    measured = [s.gpu_s_per_request * usd_per_gpu_s for s in samples]
    central = cost_per_request(_coef(fit.central), mean, usd_per_gpu_s)
    each = [cost_per_request(c, mean, usd_per_gpu_s) for c in fit.combinations] or [central]
    predicted = Range(central=central, low=min([*each, central]), high=max([*each, central]))
    m = statistics.fmean(measured)
    return HoldoutRange(
        workload=workload,
        run_ids=[s.run_id for s in samples],
        measured_usd_per_request=m,
        measured_low_usd=min(measured),
        measured_high_usd=max(measured),
        predicted_usd=predicted,
        rel_error=(central - m) / m,
        inside=predicted.contains(m),
    )


def price_ranges(
    fit: RepeatedFit,
    input_tok_per_s: float,
    output_tok_per_s: float,
    cached_tok_per_s: float,
    per_gpu_hour: float,
) -> dict[str, Range]:
    """Additive prices per M tokens at an operating point, central and over repeats.

    Each fit is re-levelled to the point (scale = 1 / (a·in + b·out + c·cached)), so every
    fit's prices add up to the point's cost; what varies is the split between input, output
    and cached tokens. Keys: input, output, and cached when the fit prices cached input.
    """

    def prices(c: Coefficients) -> dict[str, float]:
        cached = c.cached_or_input()
        used = c.input * input_tok_per_s + c.output * output_tok_per_s + cached * cached_tok_per_s
        per_gpu_s = per_gpu_hour / 3600.0 * 1e6 / used
        out = {"input": c.input * per_gpu_s, "output": c.output * per_gpu_s}
        if c.cached is not None:
            out["cached"] = c.cached * per_gpu_s
        return out

    central = prices(_coef(fit.central))
    each = [prices(c) for c in fit.combinations] or [central]
    return {
        k: Range(
            central=central[k],
            low=min(min(p[k] for p in each), central[k]),
            high=max(max(p[k] for p in each), central[k]),
        )
        for k in central
    }


def mix_range(
    fit: RepeatedFit,
    rates: tuple[float, float, float],
    tokens: tuple[float, float, float],
    per_gpu_hour: float,
) -> Range:
    """Cost of a token mix (input, output, cached tokens) at an operating point with token
    rates `rates` (per GPU, tok/s), central and over repeat combinations: Σ tokens_k × p_k,
    each fit re-levelled to the point as in `price_ranges`."""

    def cost(c: Coefficients) -> float:
        k = (c.input, c.output, c.cached_or_input())
        used = sum(ki * r for ki, r in zip(k, rates, strict=True))
        return sum(ki * t for ki, t in zip(k, tokens, strict=True)) * per_gpu_hour / 3600 / used

    central = cost(_coef(fit.central))
    each = [cost(c) for c in fit.combinations] or [central]
    return Range(central=central, low=min([*each, central]), high=max([*each, central]))
