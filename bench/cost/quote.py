"""`bench quote`: a price sheet for one model × SKU at SLO tiers, from stored runs.

Pipeline: runs (a load sweep of one workload) → curve points → per tier the operating point
→ effective GPU-hour cost → $/M tokens; probes → additive fit → $/M input, output, cached
(re-levelled to each tier's operating point, so they add up to its cost); × (1 + margin);
and the token revenue-share comparison against rent. All money in the records is USD;
`Quote.display` is the currency the renderers show it in.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pydantic import Field

from bench.config.loading import StrictConfig
from bench.cost import formulas as f
from bench.cost.additive import (
    AdditiveFit,
    HoldoutCheck,
    cached_fraction,
    check_holdout,
    fit_additive,
    prices_from_fit,
    sample_from_run,
    scale_to_point,
    vision_tokens,
)
from bench.cost.assumptions import CostAssumptions
from bench.cost.breakdown import gpu_hour_cost, resolve_power
from bench.cost.runs import StoredRun
from bench.cost.tiers import QuoteTier, TierPoint, tier_point
from bench.errors import UserError
from bench.hardware.schema import HardwareProfile
from bench.records import Basis, CostLine, DisplayCurrency, Record
from bench.sweep.curve import CurvePoint, point_from_report


class MarketPrices(StrictConfig):
    """Market token prices (per M tokens, in the display currency) and the lessor's share."""

    per_m_input: float = Field(ge=0)
    per_m_output: float = Field(ge=0)
    per_m_cached_input: float | None = Field(default=None, ge=0)
    share: float = Field(gt=0, le=1)


class RevenueShare(Record):
    """Lessor income per GPU-hour (USD): rent vs a share of the token revenue at market prices."""

    revenue_usd_per_gpu_hour: float
    share: float
    share_income_usd_per_gpu_hour: float
    rent_usd_per_gpu_hour: float | None
    breakeven_share: float | None


class TierQuote(Record):
    """One tier's prices in USD. `cost_*` are at cost; `price_*` include the margin."""

    point: TierPoint
    cost_usd_per_m_total: float | None = None
    cost_usd_per_m_input: float | None = None
    cost_usd_per_m_output: float | None = None
    cost_usd_per_m_cached_input: float | None = None
    price_usd_per_m_total: float | None = None
    price_usd_per_m_input: float | None = None
    price_usd_per_m_output: float | None = None
    price_usd_per_m_cached_input: float | None = None
    price_usd_per_image: float | None = None
    price_usd_per_video_s: float | None = None
    revenue: RevenueShare | None = None


class Quote(Record):
    model: str
    hardware_sku: str
    hardware_name: str
    display: DisplayCurrency
    cost_basis: str
    utilization: float
    margin: float
    gpu_hour_cost_usd: float
    effective_gpu_hour_cost_usd: float
    cost_lines: list[CostLine]
    estimated: bool
    runs: list[str]
    probes: list[str] = Field(default_factory=list)
    fit: AdditiveFit | None = None
    holdout: HoldoutCheck | None = None
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


def tier_power(
    profile: HardwareProfile, runs: Sequence[StoredRun], dirs: Sequence[str]
) -> tuple[float, Basis]:
    """Power per GPU at a tier: the highest measured among its runs, else board power."""
    measured = [p / r.gpus for r in runs if r.run_dir in dirs and (p := r.power_w) is not None]
    if measured:
        return max(measured), "measured"
    watts, basis, _ = resolve_power(profile, None, 1)
    return watts, basis


def _revenue(
    market: MarketPrices,
    a: CostAssumptions,
    in_unc: float,
    out: float,
    cached: float,
    rent: float | None,
) -> RevenueShare:
    cached_price = market.per_m_cached_input
    prices = {
        "input": a.to_usd(market.per_m_input),
        "output": a.to_usd(market.per_m_output),
        "cached": a.to_usd(cached_price if cached_price is not None else market.per_m_input),
    }
    rates = {"input": in_unc, "output": out, "cached": cached}
    revenue = f.token_revenue_per_gpu_hour(rates, prices, a.utilization)
    return RevenueShare(
        revenue_usd_per_gpu_hour=revenue,
        share=market.share,
        share_income_usd_per_gpu_hour=f.lessor_share_income(revenue, market.share),
        rent_usd_per_gpu_hour=rent,
        breakeven_share=None if rent is None else f.breakeven_share(rent, revenue),
    )


def _rent_price(profile: HardwareProfile, a: CostAssumptions) -> float | None:
    """The rent per GPU-hour (USD) a lessor would get (rent basis of the same assumptions)."""
    rent_a = a.model_copy(update={"basis": "rent"})
    if a.basis == "owned":  # an owned tier name is not a rent tier
        rent_a = rent_a.model_copy(update={"price_tier": None})
    try:
        cost, _ = gpu_hour_cost(profile, rent_a, profile.board_power_w.value, "estimated")
    except UserError:
        return None
    return cost


def make_quote(
    runs: Sequence[StoredRun],
    profile: HardwareProfile,
    assumptions: CostAssumptions,
    *,
    tiers: Sequence[QuoteTier],
    probes: Sequence[StoredRun] = (),
    holdout: StoredRun | None = None,
    market: MarketPrices | None = None,
) -> Quote:
    """Price sheet for the model × SKU of `runs` at each tier (see module docstring).

    Raises:
        UserError: mixed models/SKUs, a profile other than the runs', a failed fit, or a
            missing price input.
    """
    model, sku = check_same_target(runs, "RUNS")
    if profile.sku not in (sku, Path(sku).stem):  # runs may name a profile by YAML path
        raise UserError(
            f"the runs were made on {sku!r} but the profile is {profile.sku!r}",
            field="--hardware",
            fix=f"quote with --hardware {sku} (or leave it out)",
        )
    a = assumptions
    all_dirs = [r.run_dir for r in runs]
    hour_cost, lines = gpu_hour_cost(profile, a, *tier_power(profile, runs, all_dirs))
    effective = f.effective_hour_cost(hour_cost, a.utilization)
    notes: list[str] = []
    fit = holdout_check = None
    if probes:
        check_same_target([*runs[:1], *probes], "--probe")
        fit = fit_additive([sample_from_run(p.report, p.requests, gpus=p.gpus) for p in probes])
        if holdout is not None:
            check_same_target([*runs[:1], holdout], "--holdout")
            sample = sample_from_run(holdout.report, holdout.requests, gpus=holdout.gpus)
            holdout_check = check_holdout(prices_from_fit(fit, effective), sample)
    else:
        notes.append(
            "no --probe runs: only the blended $/M total is priced; give prefill-heavy and "
            "decode-heavy probe runs for additive input / output / cached prices"
        )
    cached_share = cached_fraction([q for r in runs for q in r.requests])
    per_image_tok, per_video_tok = vision_tokens([q for r in runs for q in r.requests])
    rent = _rent_price(profile, a) if market is not None else None
    points = curve_points(runs)
    quotes = []
    estimated = any(ln.basis == "estimated" for ln in lines)
    for tier in tiers:
        tp = tier_point(points, tier)
        if not tp.reached or tp.total_tok_per_s_per_gpu is None:
            quotes.append(TierQuote(point=tp))
            continue
        power_w, power_basis = tier_power(profile, runs, tp.run_dirs)
        tier_cost, tier_lines = gpu_hour_cost(profile, a, power_w, power_basis)
        estimated = estimated or any(ln.basis == "estimated" for ln in tier_lines)
        tier_eff = f.effective_hour_cost(tier_cost, a.utilization)
        out = tp.output_tok_per_s_per_gpu or 0.0
        inp = tp.input_tok_per_s_per_gpu or 0.0
        in_unc, cached = inp * (1 - cached_share), inp * cached_share
        q: dict[str, float | None] = {
            "cost_usd_per_m_total": f.cost_per_million_tokens(tier_eff, tp.total_tok_per_s_per_gpu)
        }
        if fit is not None:
            scale = scale_to_point(fit, in_unc, out, cached)
            p = prices_from_fit(fit, tier_eff, scale)
            q |= {
                "cost_usd_per_m_input": p.usd_per_m_input,
                "cost_usd_per_m_output": p.usd_per_m_output,
                "cost_usd_per_m_cached_input": p.usd_per_m_cached_input,
            }
        m = a.margin
        for kind in ("total", "input", "output", "cached_input"):
            cost = q.get(f"cost_usd_per_m_{kind}")
            q[f"price_usd_per_m_{kind}"] = None if cost is None else f.with_margin(cost, m)
        price_in = q.get("price_usd_per_m_input")
        if price_in is not None and per_image_tok is not None:
            q["price_usd_per_image"] = per_image_tok * price_in / 1e6
        if price_in is not None and per_video_tok is not None:
            q["price_usd_per_video_s"] = per_video_tok * price_in / 1e6
        revenue = None if market is None else _revenue(market, a, in_unc, out, cached, rent)
        quotes.append(TierQuote(point=tp, revenue=revenue, **q))
    return Quote(
        model=model,
        hardware_sku=sku,
        hardware_name=profile.name,
        display=a.display,
        cost_basis=a.basis,
        utilization=a.utilization,
        margin=a.margin,
        gpu_hour_cost_usd=hour_cost,
        effective_gpu_hour_cost_usd=effective,
        cost_lines=lines,
        estimated=estimated,
        runs=[r.run_dir for r in runs],
        probes=[p.run_dir for p in probes],
        fit=fit,
        holdout=holdout_check,
        tiers=quotes,
        notes=notes,
    )
