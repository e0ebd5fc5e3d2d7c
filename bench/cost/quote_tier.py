"""One tier of a quote: its operating point, prices with their interval, the lessor's view
of one server-month and the scenario prices (money in USD).

Intervals: additive prices vary over the probes' repeat combinations (the split between
input, output and cached tokens; `bench.cost.intervals.price_ranges`); the level varies with
the repeats of the load point the tier uses: throughput T ± h·T (h: relative half-width of
its 95 % interval, the larger of two neighbours when interpolated), so every price's low end
is × 1/(1 + h) and its high end × 1/(1 − h).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import Field

from bench.cost import formulas as f
from bench.cost.additive import cached_fraction
from bench.cost.assumptions import CostAssumptions
from bench.cost.basis import choose_prices
from bench.cost.breakdown import gpu_hour_cost, power_cost_per_gpu_hour, resolve_power
from bench.cost.intervals import Range, RepeatedFit, mix_range, price_ranges
from bench.cost.lessor import LessorInputs, LessorView, lessor_view
from bench.cost.market import MarketPrice
from bench.cost.runs import StoredRun
from bench.cost.scenarios import ScenarioPrice, agent_tokens, chat_tokens
from bench.cost.tiers import QuoteTier, TierPoint, tier_point
from bench.cost.workload_key import WorkloadKey
from bench.errors import UserError
from bench.hardware.schema import HardwareProfile
from bench.records import Basis, Record
from bench.sweep.curve import CurvePoint


class TierContext(Record):
    """What every tier of one quote shares."""

    profile: HardwareProfile
    assumptions: CostAssumptions
    runs: list[StoredRun]
    workload: WorkloadKey
    fit: RepeatedFit | None
    groups: dict[str, tuple[float, list[str]]] = Field(
        description="run dir → (relative throughput half-width, run dirs of its load level)"
    )
    market: MarketPrice | None
    share: float | None
    vision: tuple[float | None, float | None] = Field(
        description="vision tokens per image and per video-second (None: not measured)"
    )
    vision_gpu_s: tuple[float | None, float | None] = Field(
        default=(None, None),
        description="device-seconds per image and per video-second (encoder + prefill share)",
    )
    image_note: str | None = None


def tier_power(
    profile: HardwareProfile, runs: Sequence[StoredRun], dirs: Sequence[str]
) -> tuple[float, Basis]:
    """Power per GPU at a tier: the highest measured among its runs, else board power."""
    measured = [p / r.gpus for r in runs if r.run_dir in dirs and (p := r.power_w) is not None]
    if measured:
        return max(measured), "measured"
    watts, basis, _ = resolve_power(profile, None, 1)
    return watts, basis


class TierQuote(Record):
    """One tier's prices. `cost_*` are at cost; `price_*` include the margin; `_low` /
    `_high` bound a price by the spread of repeated probes and repeated load points."""

    point: TierPoint
    estimated: bool = False
    power_w: float | None = Field(default=None, description="average power per GPU used, W")
    cost_usd_per_m_total: float | None = None
    cost_usd_per_m_input: float | None = None
    cost_usd_per_m_output: float | None = None
    cost_usd_per_m_cached_input: float | None = None
    price_usd_per_m_total: float | None = None
    price_usd_per_m_input: float | None = None
    price_usd_per_m_output: float | None = None
    price_usd_per_m_cached_input: float | None = None
    price_usd_per_m_total_low: float | None = None
    price_usd_per_m_total_high: float | None = None
    price_usd_per_m_input_low: float | None = None
    price_usd_per_m_input_high: float | None = None
    price_usd_per_m_output_low: float | None = None
    price_usd_per_m_output_high: float | None = None
    price_usd_per_m_cached_input_low: float | None = None
    price_usd_per_m_cached_input_high: float | None = None
    price_usd_per_image: float | None = None
    price_usd_per_video_s: float | None = None
    lessor: LessorView | None = None
    scenarios: list[ScenarioPrice] = Field(default_factory=list)


def _level_spread(ctx: TierContext, tp: TierPoint) -> float:
    """h: the largest relative throughput half-width of the load levels the tier uses."""
    return max((ctx.groups.get(d, (0.0, []))[0] for d in tp.run_dirs), default=0.0)


def _widen(r: Range, h: float, margin: float) -> tuple[float, float, float]:
    """(central, low, high) × (1 + margin), the ends widened by the level spread h."""
    m = 1.0 + margin
    return r.central * m, r.low * m / (1 + h), r.high * m / max(1e-9, 1 - h)


def _rent_terms(ctx: TierContext) -> tuple[float, bool] | None:
    """(rent in USD per GPU-hour, does it include power) a lessor gets."""
    a, p = ctx.assumptions, ctx.profile
    if a.rent_price_per_gpu_hour is not None:
        return a.to_usd(a.rent_price_per_gpu_hour), a.rent_includes_power
    rent_a = a.model_copy(update={"basis": "rent"})
    selector = a.price_tier if a.basis == "rent" else None
    try:
        choice = choose_prices({p.sku: p}, rent_a, selector=selector, given={})[p.sku]
    except UserError:
        return None
    usd = getattr(choice, "usd_per_gpu_hour", None)
    if usd is None:
        return None
    return usd, bool(getattr(choice, "includes_power", True))


def _lessor(ctx: TierContext, tp: TierPoint, power_w: float, cached: float) -> LessorView | None:
    a, p, m = ctx.assumptions, ctx.profile, ctx.market
    terms = _rent_terms(ctx)
    if m is None or terms is None:
        return None
    capex = None if a.capex_per_gpu is None else a.to_usd(a.capex_per_gpu)
    if capex is None and p.prices.capex_usd_per_gpu is not None:
        capex = p.prices.capex_usd_per_gpu.value
    inp, out = tp.input_tok_per_s_per_gpu or 0.0, tp.output_tok_per_s_per_gpu or 0.0
    cached_price = m.per_m_cached_input_usd
    prices = {
        "input": m.per_m_input_usd,
        "output": m.per_m_output_usd,
        "cached": m.per_m_input_usd if cached_price is None else cached_price,
    }
    rates = {"input": inp * (1 - cached), "output": out, "cached": inp * cached}
    return lessor_view(
        LessorInputs(
            gpus=p.gpus_per_node,
            utilization=a.utilization,
            rent_usd_per_gpu_hour=terms[0],
            rent_includes_power=terms[1],
            power_usd_per_busy_gpu_hour=power_cost_per_gpu_hour(p, a, power_w),
            opex_usd_per_gpu_hour=None
            if capex is None
            else f.opex_cost_per_hour(capex, a.opex_share),
            revenue_usd_per_busy_gpu_hour=f.token_revenue_per_gpu_hour(rates, prices, 1.0),
            share=ctx.share,
        )
    )


def _scenarios(
    ctx: TierContext, tp: TierPoint, rates: tuple[float, float, float], eff: float, h: float
) -> list[ScenarioPrice]:
    from bench.workloads.spec import SessionsWorkload, TextWorkload
    from bench.workloads.suite import get_workload

    margin = ctx.assumptions.margin
    out: list[ScenarioPrice] = []
    chat, agent = get_workload("chat"), get_workload("agent")
    specs: list[Any] = []
    if isinstance(chat, TextWorkload):
        specs.append(chat_tokens(chat))
    if isinstance(agent, SessionsWorkload):
        specs.append(agent_tokens(agent))
    for t in specs:
        if ctx.fit is None:
            out.append(
                ScenarioPrice(
                    scenario=t.scenario,
                    tier=tp.tier,
                    price_usd=None,
                    basis=t.basis,
                    note="needs --probe runs (additive prices)",
                )
            )
            continue
        tokens = (t.input_tokens, t.output_tokens, t.cached_input_tokens)
        central, low, high = _widen(mix_range(ctx.fit, rates, tokens, eff), h, margin)
        note = t.note or ""
        if ctx.fit.central.gpu_s_per_cached_input_token is None and t.cached_input_tokens:
            note = (note + "; " if note else "") + "cached input priced as input (no cached probe)"
        out.append(
            ScenarioPrice(
                scenario=t.scenario,
                tier=tp.tier,
                price_usd=central,
                low_usd=low,
                high_usd=high,
                basis=t.basis,
                note=note or None,
            )
        )
    per_image, per_video = ctx.vision
    gpu_s_image, gpu_s_video = ctx.vision_gpu_s
    for scenario, per_unit, gpu_s, units in (
        ("4K screenshot", per_image, gpu_s_image, 1.0),
        ("5-second clip", per_video, gpu_s_video, 5.0),
    ):
        note = ctx.image_note if scenario == "4K screenshot" else None
        if gpu_s is not None:
            # measured device time of the vision encoder and the vision tokens' prefill
            usd = gpu_s * units * eff / 3600.0
            central, low, high = _widen(Range(central=usd, low=usd, high=usd), h, margin)
            basis = f"measured vision device-seconds ({ctx.workload.label})"
        elif per_unit is not None and ctx.fit is not None:
            tokens = (per_unit * units, 0.0, 0.0)
            central, low, high = _widen(mix_range(ctx.fit, rates, tokens, eff), h, margin)
            basis = f"measured vision tokens × input price ({ctx.workload.label})"
            note = "; ".join(filter(None, [note, "encoder time not measured separately"]))
        else:
            why = "no image or video runs" if per_unit is None else "needs --probe runs"
            out.append(
                ScenarioPrice(
                    scenario=scenario,
                    tier=tp.tier,
                    price_usd=None,
                    basis="not measured",
                    note=f"not measured: {why}",
                )
            )
            continue
        out.append(
            ScenarioPrice(
                scenario=scenario,
                tier=tp.tier,
                price_usd=central,
                low_usd=low,
                high_usd=high,
                basis=basis,
                note=note,
            )
        )
    return out


def quote_tier(ctx: TierContext, points: Sequence[CurvePoint], tier: QuoteTier) -> TierQuote:
    """Prices, lessor view and scenarios at `tier`'s operating point (module docstring)."""
    a = ctx.assumptions
    tp = tier_point(points, tier)
    if not tp.reached or tp.total_tok_per_s_per_gpu is None:
        return TierQuote(point=tp)
    dirs = [d for run_dir in tp.run_dirs for d in ctx.groups.get(run_dir, (0.0, [run_dir]))[1]]
    power_w, power_basis = tier_power(ctx.profile, ctx.runs, dirs)
    cost, lines = gpu_hour_cost(ctx.profile, a, power_w, power_basis)
    eff = f.effective_hour_cost(cost, a.utilization)
    h = _level_spread(ctx, tp)
    cached_share = cached_fraction([q for r in ctx.runs for q in r.requests])
    out = tp.output_tok_per_s_per_gpu or 0.0
    inp = tp.input_tok_per_s_per_gpu or 0.0
    rates = (inp * (1 - cached_share), out, inp * cached_share)
    total = f.cost_per_million_tokens(eff, tp.total_tok_per_s_per_gpu)
    q: dict[str, Any] = {"cost_usd_per_m_total": total}
    if total is not None:
        central, low, high = _widen(Range(central=total, low=total, high=total), h, a.margin)
        q |= {
            "price_usd_per_m_total": central,
            "price_usd_per_m_total_low": low,
            "price_usd_per_m_total_high": high,
        }
    if ctx.fit is not None:
        ranges = price_ranges(ctx.fit, *rates, eff)
        for kind, key in (("input", "input"), ("output", "output"), ("cached", "cached_input")):
            if kind not in ranges:
                continue
            central, low, high = _widen(ranges[kind], h, a.margin)
            q |= {
                f"cost_usd_per_m_{key}": ranges[kind].central,
                f"price_usd_per_m_{key}": central,
                f"price_usd_per_m_{key}_low": low,
                f"price_usd_per_m_{key}_high": high,
            }
    per_image, per_video = ctx.vision
    price_in = q.get("price_usd_per_m_input")
    if price_in is not None and per_image is not None:
        q["price_usd_per_image"] = per_image * price_in / 1e6
    if price_in is not None and per_video is not None:
        q["price_usd_per_video_s"] = per_video * price_in / 1e6
    return TierQuote(
        point=tp,
        estimated=any(ln.basis == "estimated" for ln in lines),
        power_w=power_w,
        lessor=_lessor(ctx, tp, power_w, cached_share),
        scenarios=_scenarios(ctx, tp, rates, eff, h),
        **q,
    )
