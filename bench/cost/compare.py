"""`bench compare`: the procurement table of several SKUs for one model at matched SLO tiers.

Per tier and SKU: tokens/s per GPU at the tier's operating point, $/M total tokens on the
rent and the owned basis, tokens per kWh (device power), tokens/s per $1k of capex; ranked
by $/M (rent, else owned), and one plain sentence per tier on whether the high-end card
(highest dense BF16 TFLOPS) is cheaper per token and by how much. SKUs without runs are
projected from a measured SKU's curve only when asked, and labelled "projected". Money in
the records is USD; `Comparison.display` is the currency the renderers show it in.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import Field

from bench.cost import formulas as f
from bench.cost.assumptions import CostAssumptions
from bench.cost.breakdown import gpu_hour_cost
from bench.cost.quote import curve_points, tier_power
from bench.cost.runs import StoredRun
from bench.cost.tiers import QuoteTier, TierPoint, tier_point
from bench.errors import UserError
from bench.hardware.profiles import load_profile
from bench.hardware.schema import HardwareProfile
from bench.records import Basis, DisplayCurrency, Distribution, Record
from bench.sweep.curve import CurvePoint


class CompareRow(Record):
    sku: str
    name: str
    tier: str
    status: str
    projected: bool = False
    note: str
    total_tok_per_s_per_gpu: float | None = None
    output_tok_per_s_per_gpu: float | None = None
    rent_usd_per_m_total: float | None = None
    owned_usd_per_m_total: float | None = None
    owned_method: str | None = None
    tokens_per_kwh: float | None = None
    power_basis: Basis | None = None
    tok_per_s_per_kusd_capex: float | None = None
    rank: int | None = None


class Comparison(Record):
    model: str
    display: DisplayCurrency
    utilization: float
    tiers: list[str]
    rows: list[CompareRow]
    verdicts: list[str]
    notes: list[str] = Field(default_factory=list)


def _per_m(
    profile: HardwareProfile, a: CostAssumptions, power_w: float, basis: Basis, tok_s: float
) -> tuple[float | None, str | None]:
    try:
        cost, lines = gpu_hour_cost(profile, a, power_w, basis)
    except UserError as exc:
        return None, exc.message
    method = next((ln.note for ln in lines if ln.name == "owned cost"), "capex build-up")
    return f.cost_per_million_tokens(f.effective_hour_cost(cost, a.utilization), tok_s), method


def _owned_assumptions(profile: HardwareProfile, a: CostAssumptions) -> CostAssumptions:
    """Owned basis per SKU: capex build-up when the profile has capex, else the neocloud tier."""
    tier = None
    if profile.prices.capex_usd_per_gpu is None:
        names = [t.tier for t in profile.prices.owned]
        tier = "semianalysis-neocloud" if "semianalysis-neocloud" in names else None
    return a.model_copy(update={"basis": "owned", "price_tier": tier, "capex_per_gpu": None})


def _row(
    profile: HardwareProfile,
    a: CostAssumptions,
    tp: TierPoint,
    power: tuple[float, Basis],
    projected: bool,
) -> CompareRow:
    base = CompareRow(
        sku=profile.sku,
        name=profile.name,
        tier=tp.tier,
        status=tp.status,
        projected=projected,
        note=tp.note,
    )
    tok_s = tp.total_tok_per_s_per_gpu
    if not tp.reached or tok_s is None:
        return base
    power_w, power_basis = power
    rent_a = a.model_copy(update={"basis": "rent", "price_tier": None, "capex_per_gpu": None})
    rent, _ = _per_m(profile, rent_a, power_w, power_basis, tok_s)
    owned, method = _per_m(profile, _owned_assumptions(profile, a), power_w, power_basis, tok_s)
    capex = profile.prices.capex_usd_per_gpu
    return base.model_copy(
        update={
            "total_tok_per_s_per_gpu": tok_s,
            "output_tok_per_s_per_gpu": tp.output_tok_per_s_per_gpu,
            "rent_usd_per_m_total": rent,
            "owned_usd_per_m_total": owned,
            "owned_method": method if owned is not None else f"n/a: {method}",
            "tokens_per_kwh": f.tokens_per_kwh(tok_s, power_w),
            "power_basis": power_basis,
            "tok_per_s_per_kusd_capex": None if capex is None else tok_s / (capex.value / 1e3),
        }
    )


def _scaled(d: Distribution, factor: float) -> Distribution:
    update = {
        k: getattr(d, k) * factor
        for k in ("mean", "min", "max", "p50", "p90", "p95", "p99")
        if getattr(d, k) is not None
    }
    return d.model_copy(update=update)


def project_points(
    points: list[CurvePoint], ref: HardwareProfile, target: HardwareProfile
) -> list[CurvePoint]:
    """A measured SKU's curve projected onto another SKU (roofline-style, labelled projected).

    Decode is memory-bandwidth bound: throughput × r and TPOT / r with r = BW_target /
    BW_ref; prefill is compute bound: TTFT / c with c = BF16_target / BF16_ref.
    """
    r = target.memory_bandwidth_gbps.value / ref.memory_bandwidth_gbps.value
    ref_tf, tgt_tf = ref.bf16_dense_tflops, target.bf16_dense_tflops
    c = tgt_tf.value / ref_tf.value if ref_tf is not None and tgt_tf is not None else r
    return [
        p.model_copy(
            update={
                "total_tok_per_s_per_gpu": p.total_tok_per_s_per_gpu * r,
                "input_tok_per_s_per_gpu": p.input_tok_per_s_per_gpu * r,
                "output_tok_per_s_per_gpu": p.output_tok_per_s_per_gpu * r,
                "request_per_s": p.request_per_s * r,
                "tpot_s": _scaled(p.tpot_s, 1 / r),
                "ttft_s": _scaled(p.ttft_s, 1 / c),
                "e2e_s": _scaled(p.e2e_s, 1 / r),
                "run_dir": None,
            }
        )
        for p in points
    ]


def _rank_key(rows: list[CompareRow]) -> str:
    """Rank on the basis that prices more rows: rent, else owned (ties go to rent)."""
    rent = sum(r.rent_usd_per_m_total is not None for r in rows)
    owned = sum(r.owned_usd_per_m_total is not None for r in rows)
    return "rent_usd_per_m_total" if rent >= owned else "owned_usd_per_m_total"


def _ranked(rows: list[CompareRow], key: str) -> list[CompareRow]:
    """Rows with rank 1 = cheapest per token on `key`; unpriced rows unranked, last."""
    ordered = sorted(
        (r for r in rows if getattr(r, key) is not None), key=lambda r: getattr(r, key)
    )
    rank = {r.sku: i + 1 for i, r in enumerate(ordered)}
    out = [r.model_copy(update={"rank": rank.get(r.sku)}) for r in rows]
    return sorted(out, key=lambda r: (r.rank is None, r.rank or 0))


def _compute(profile: HardwareProfile) -> float:
    """Dense BF16 TFLOPS (INT8 TOPS when no BF16 figure); 0 for CPU hosts."""
    figure = profile.bf16_dense_tflops or profile.int8_dense_tops
    return figure.value if figure is not None and profile.kind == "gpu" else 0.0


def _verdict(
    tier: str,
    rows: list[CompareRow],
    key: str,
    profiles: dict[str, HardwareProfile],
    display: DisplayCurrency,
) -> str:
    """One sentence: is the high-end card (most dense compute) cheaper per token, by how much.

    The sentence is text for a person, so its two prices are written in `display`'s currency.
    """
    if len(rows) < 2:
        return f"{tier}: only one SKU, nothing to compare"
    basis = key.split("_")[0]
    high = max(rows, key=lambda r: _compute(profiles[r.sku]))
    others = [r for r in rows if r.sku != high.sku and getattr(r, key) is not None]
    h = getattr(high, key)
    if h is None:
        why = "does not reach this tier" if not high.total_tok_per_s_per_gpu else "has no price"
        return f"{tier}: {high.sku} (high-end) {why} on the {basis} basis ({high.note})"
    if not others:
        return f"{tier}: no other SKU reaches this tier with a {basis}-basis price"
    best = min(others, key=lambda r: getattr(r, key))
    o = getattr(best, key)
    word = "cheaper" if h < o else "more expensive"
    label = " [projected]" if high.projected or best.projected else ""
    return (
        f"{tier}: {high.sku} (high-end) is {abs(o - h) / o:.0%} {word} per token than "
        f"{best.sku}, the cheapest other card ({display.amount(h):.4g} vs "
        f"{display.amount(o):.4g} {display.currency} per M total tokens, {basis} basis){label}"
    )


def make_comparison(
    runs: Sequence[StoredRun],
    assumptions: CostAssumptions,
    *,
    tiers: Sequence[QuoteTier],
    project: Sequence[str] = (),
) -> Comparison:
    """The procurement table for the one model of `runs` across their SKUs (+ projections).

    Raises:
        UserError: runs of several models; a projected SKU with no measured SKU of its kind.
    """
    models = sorted({r.model for r in runs})
    if len(models) != 1:
        raise UserError(
            f"runs of several models: {models}", field="RUNS", fix="compare one model at a time"
        )
    by_sku: dict[str, list[StoredRun]] = {}
    for r in runs:
        by_sku.setdefault(r.sku, []).append(r)
    profiles = {sku: load_profile(sku) for sku in [*by_sku, *project]}
    a = assumptions
    notes = [
        "owned basis per SKU: capex build-up where the profile has capex, else the "
        "SemiAnalysis neocloud owning cost; capex_per_gpu / price_tier are ignored"
    ]
    curves = {sku: curve_points(rs) for sku, rs in by_sku.items()}
    projected: dict[str, tuple[list[CurvePoint], str]] = {}
    for sku in project:
        if sku in by_sku:
            continue
        tgt = profiles[sku]
        refs = [s for s in by_sku if profiles[s].kind == tgt.kind]
        if not refs:
            raise UserError(
                f"cannot project {sku}: no measured {tgt.kind} SKU to calibrate on",
                field="--project",
                fix="add runs of a SKU of the same kind",
            )
        bw = tgt.memory_bandwidth_gbps.value
        ref = min(refs, key=lambda s: abs(profiles[s].memory_bandwidth_gbps.value - bw))
        projected[sku] = (project_points(curves[ref], profiles[ref], tgt), ref)
    rows: list[CompareRow] = []
    verdicts = []
    for tier in tiers:
        tier_rows = []
        for sku, rs in by_sku.items():
            tp = tier_point(curves[sku], tier)
            power = tier_power(profiles[sku], rs, tp.run_dirs)
            tier_rows.append(_row(profiles[sku], a, tp, power, projected=False))
        for sku, (points, ref) in projected.items():
            tp = tier_point(points, tier)
            ratio = (
                profiles[sku].memory_bandwidth_gbps.value
                / profiles[ref].memory_bandwidth_gbps.value
            )
            tp = tp.model_copy(
                update={"note": f"projected from {ref} × bandwidth ratio {ratio:.2f}; {tp.note}"}
            )
            estimate: tuple[float, Basis] = (profiles[sku].board_power_w.value, "estimated")
            tier_rows.append(_row(profiles[sku], a, tp, estimate, projected=True))
        key = _rank_key(tier_rows)
        tier_rows = _ranked(tier_rows, key)
        rows += tier_rows
        verdicts.append(_verdict(tier.name, tier_rows, key, profiles, a.display))
    return Comparison(
        model=models[0],
        display=a.display,
        utilization=a.utilization,
        tiers=[t.name for t in tiers],
        rows=rows,
        verdicts=verdicts,
        notes=notes,
    )
