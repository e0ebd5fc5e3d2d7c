"""`bench quote`: a price sheet for one model × SKU × workload at SLO tiers, from stored runs.

Pipeline: runs (a load sweep of one workload; repeats of a load are averaged) → curve
points → per tier the operating point → effective GPU-hour cost → $/M tokens; repeated
probes → additive fit and its spread (`bench.cost.intervals`) → $/M input, output, cached
(re-levelled to each tier's operating point, so they add up to its cost) with an interval;
held-out workloads checked against that interval; × (1 + margin); per tier the lessor's
view of one server-month (`bench.cost.lessor`) and the scenario prices
(`bench.cost.scenarios`). Money in the records is USD; `Quote.display` is the currency
the renderers show it in.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pydantic import Field

from bench.cost import formulas as f
from bench.cost.additive import AdditiveFit, cached_fraction, sample_from_run, vision_tokens
from bench.cost.assumptions import CostAssumptions
from bench.cost.breakdown import gpu_hour_cost, power_inputs
from bench.cost.intervals import HoldoutRange, RepeatedFit, holdout_range, repeated_fit
from bench.cost.market import MarketPrice
from bench.cost.quote_tier import TierContext, TierQuote, quote_tier, tier_power
from bench.cost.runs import StoredRun
from bench.cost.tiers import QuoteTier
from bench.cost.workload_key import group_by_workload, one_workload
from bench.errors import UserError
from bench.hardware.schema import HardwareProfile
from bench.records import CostLine, DisplayCurrency, Record
from bench.sweep.curve import CurvePoint, point_from_report
from bench.sweep.repeat import summarize_repeats

DEFAULT_PROBE_REPEATS = 3


class Quote(Record):
    model: str
    hardware_sku: str
    hardware_name: str
    workload: str
    display: DisplayCurrency
    cost_basis: str
    utilization: float
    margin: float
    gpu_hour_cost_usd: float
    effective_gpu_hour_cost_usd: float
    gpu_hour_price_ex_power_usd: float = Field(description="GPU-hour cost without electricity")
    power_included: bool = Field(description="the price pays for electricity (cloud rent)")
    node_overhead_factor: float
    pue: float
    electricity_price_usd_per_kwh: float
    cached_input_share: float = Field(description="share of input tokens served from cache")
    cost_lines: list[CostLine]
    estimated: bool
    runs: list[str]
    probes: list[str] = Field(default_factory=list)
    fit: AdditiveFit | None = None
    probe_fit: RepeatedFit | None = None
    holdouts: list[HoldoutRange] = Field(default_factory=list)
    market: MarketPrice | None = None
    share: float | None = None
    tiers: list[TierQuote]
    notes: list[str] = Field(default_factory=list)


def check_same_target(runs: Sequence[StoredRun], what: str) -> tuple[str, str]:
    """(model, sku) shared by all `runs`.

    Raises:
        UserError: runs of different models or SKUs mixed together.
    """
    pairs = {(r.model, r.sku) for r in runs}
    if len(pairs) != 1:
        raise UserError(
            f"{what} mix models/SKUs: {sorted(pairs)}",
            field=what,
            fix="quote one model on one SKU at a time (compare handles several SKUs)",
        )
    return next(iter(pairs))


def curve_points(runs: Sequence[StoredRun]) -> list[CurvePoint]:
    """One sweep curve point per run (throughput per GPU, latency distributions)."""
    return [point_from_report(r.report, gpus=r.gpus, run_dir=r.run_dir) for r in runs]


def averaged_points(
    runs: Sequence[StoredRun],
) -> tuple[list[CurvePoint], dict[str, tuple[float, list[str]]]]:
    """Curve points with the repeats of a load averaged, and by run directory: the relative
    half-width of the 95 % interval of its level's total throughput (0 when the load was run
    once) and the run directories of that level.

    An averaged point carries its first repeat's run directory.
    """
    by_load: dict[tuple[str, float], list[CurvePoint]] = {}
    for p in curve_points(runs):
        by_load.setdefault((p.load_kind, p.load), []).append(p)
    points: list[CurvePoint] = []
    groups: dict[str, tuple[float, list[str]]] = {}
    for level in by_load.values():
        dirs = [p.run_dir or "" for p in level]
        if len(level) == 1:
            points.append(level[0])
            groups[dirs[0]] = (0.0, dirs)
            continue
        ci = summarize_repeats(level).total_tok_per_s_per_gpu
        half = (ci.half_width or 0.0) / ci.mean if ci.mean else 0.0
        mean = summarize_repeats(level).mean_point
        points.append(mean.model_copy(update={"run_dir": dirs[0]}))
        groups |= {d: (half, dirs) for d in dirs}
    return points, groups


def measured_vision_gpu_s(runs: Sequence[StoredRun]) -> tuple[float | None, float | None]:
    """Mean measured device-seconds per image and per video-second over the runs whose report
    has them (vision encoder + prefill share; bench.workloads.accounting), else None."""
    summaries = [r.report.workload.outcome.vision for r in runs if r.report.workload]
    image = [v.gpu_s_per_image for v in summaries if v and v.gpu_s_per_image is not None]
    video = [v.gpu_s_per_video_s for v in summaries if v and v.gpu_s_per_video_s is not None]
    return (
        sum(image) / len(image) if image else None,
        sum(video) / len(video) if video else None,
    )


def image_note(runs: Sequence[StoredRun]) -> str | None:
    """Which screenshot sizes an image workload measured, when not 4K alone."""
    from bench.workloads.spec import ImageWorkload

    info = runs[0].report.workload.info if runs[0].report.workload else None
    if info is None or not isinstance(info.spec, ImageWorkload):
        return None
    sizes = sorted({f"{w}x{h}" for w, h in info.spec.resolutions})
    if sizes == ["3840x2160"]:
        return None
    return f"per image over the run's mix of {', '.join(sizes)} screenshots, not 4K alone"


def _fit_probes(
    probes: Sequence[StoredRun], repeats: int
) -> tuple[RepeatedFit, list[tuple[str, list[StoredRun]]]]:
    """The repeated fit over probe workloads, each needing at least `repeats` runs.

    Raises:
        UserError: a probe workload with fewer runs than `repeats` (named, with its runs).
    """
    groups = group_by_workload(probes, lambda r: r.workload)
    short = {label: rs for label, rs in groups.items() if len(rs) < repeats}
    if short:
        listing = "; ".join(
            f"{label}: {len(rs)} ({', '.join(r.run_dir for r in rs)})"
            for label, rs in short.items()
        )
        raise UserError(
            f"each probe workload needs {repeats} repeats for a price interval; {listing}",
            field="--probe-repeats",
            fix=f"run the probes {repeats} times each (bench quote --plan prints the runs), "
            "or pass --probe-repeats 1 for prices without an interval",
        )
    samples = [
        (label, [sample_from_run(r.report, r.requests, gpus=r.gpus) for r in rs])
        for label, rs in groups.items()
    ]
    return repeated_fit(samples), list(groups.items())


def make_quote(
    runs: Sequence[StoredRun],
    profile: HardwareProfile,
    assumptions: CostAssumptions,
    *,
    tiers: Sequence[QuoteTier],
    probes: Sequence[StoredRun] = (),
    holdouts: Sequence[StoredRun] = (),
    market: MarketPrice | None = None,
    share: float | None = None,
    probe_repeats: int = DEFAULT_PROBE_REPEATS,
) -> Quote:
    """Price sheet for the model × SKU × workload of `runs` at each tier (module docstring).

    Raises:
        UserError: mixed models, SKUs or workloads (the runs named), a profile other than
            the runs', probes with too few repeats, a failed fit, or a missing price input.
    """
    model, sku = check_same_target(runs, "RUNS")
    one_workload(group_by_workload(runs, lambda r: r.workload), lambda r: r.run_dir, "RUNS")
    if profile.sku not in (sku, Path(sku).stem):  # runs may name a profile by YAML path
        raise UserError(
            f"the runs were made on {sku!r} but the profile is {profile.sku!r}",
            field="--hardware",
            fix=f"quote with --hardware {sku} (or leave it out)",
        )
    a, d = assumptions, assumptions.display
    hour_cost, lines = gpu_hour_cost(
        profile, a, *tier_power(profile, runs, [r.run_dir for r in runs])
    )
    effective = f.effective_hour_cost(hour_cost, a.utilization)
    included = not any(ln.name == "electricity price" for ln in lines)
    power_cost = 0.0 if included else next(ln.value for ln in lines if ln.name == "power cost")
    overhead, pue, kwh = power_inputs(profile, a)
    notes: list[str] = []
    fit: RepeatedFit | None = None
    checks: list[HoldoutRange] = []
    if probes:
        check_same_target([*runs[:1], *probes], "--probe")
        fit, _ = _fit_probes(probes, probe_repeats)
        if not fit.repeated:
            notes.append("probes not repeated: the additive prices carry no interval")
        for label, rs in group_by_workload(holdouts, lambda r: r.workload).items():
            check_same_target([*runs[:1], *rs], "--holdout")
            samples = [sample_from_run(r.report, r.requests, gpus=r.gpus) for r in rs]
            checks.append(holdout_range(fit, label, samples, effective / 3600.0))
    else:
        notes.append(
            "no --probe runs: only the blended $/M total is priced; give prefill-heavy and "
            "decode-heavy probe runs for additive input / output / cached prices"
        )
    for h in checks:
        lo, hi = h.predicted_usd.rel
        spread = f"[{lo:+.1%}, {hi:+.1%}] around its central prediction"
        if not h.inside:
            notes.append(
                f"held-out {h.workload}: measured {d.amount(h.measured_usd_per_request):.4g} "
                f"{d.currency}/request is "
                f"OUTSIDE the probes' interval {spread} (error {h.rel_error:+.1%}): the prices "
                "are less certain than their interval says"
            )
    points, groups = averaged_points(runs)
    ctx = TierContext(
        profile=profile,
        assumptions=a,
        runs=list(runs),
        workload=runs[0].workload,
        fit=fit,
        groups=groups,
        market=market,
        share=share,
        vision=vision_tokens([q for r in runs for q in r.requests]),
        vision_gpu_s=measured_vision_gpu_s(runs),
        image_note=image_note(runs),
    )
    quotes = [quote_tier(ctx, points, tier) for tier in tiers]
    return Quote(
        model=model,
        hardware_sku=sku,
        hardware_name=profile.name,
        workload=runs[0].workload.label,
        display=d,
        cost_basis=a.basis,
        utilization=a.utilization,
        margin=a.margin,
        gpu_hour_cost_usd=hour_cost,
        effective_gpu_hour_cost_usd=effective,
        gpu_hour_price_ex_power_usd=hour_cost - power_cost,
        power_included=included,
        node_overhead_factor=overhead,
        pue=pue,
        electricity_price_usd_per_kwh=kwh,
        cached_input_share=cached_fraction([q for r in runs for q in r.requests]),
        cost_lines=lines,
        estimated=any(ln.basis == "estimated" for ln in lines) or any(t.estimated for t in quotes),
        runs=[r.run_dir for r in runs],
        probes=[p.run_dir for p in probes],
        fit=None if fit is None else fit.central,
        probe_fit=fit,
        holdouts=checks,
        market=market,
        share=share,
        tiers=quotes,
        notes=notes,
    )
