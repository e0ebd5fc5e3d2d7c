"""`bench compare`: the procurement table of several SKUs for one model at matched SLO tiers.

Like for like on both axes:
- workloads: runs are grouped by workload (`bench.cost.workload_key`); only workloads every
  measured SKU ran are compared, each on its own; the others are named in a note;
- prices: every SKU is priced on the basis asked (`--basis rent|owned`) by a price of one
  kind (`bench.cost.basis`): `--price-tier KIND` takes the matching tier of each SKU,
  `--price SKU=VALUE` gives a SKU's price; prices of different kinds are refused unless
  `--allow-mixed-basis`, and then every verdict says so.

Per workload, tier and SKU: tokens/s per GPU at the tier's operating point, the SKU's
price per GPU-hour with its tier, kind and date, $/M total tokens, tokens per kWh (device
power) and tokens/s per $1k of capex; ranked by $/M, with one sentence per tier on whether
the high-end card (most dense compute) is cheaper per token and by how much. SKUs without
runs are projected only when asked (`bench.cost.projection`: bounded, a low–high range,
labelled projected everywhere, across vendors only with `--cross-vendor`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pydantic import Field

from bench.cost import formulas as f
from bench.cost.assumptions import CostAssumptions
from bench.cost.basis import PriceChoice, Unpriced, check_like_for_like, choose_prices
from bench.cost.breakdown import gpu_hour_cost
from bench.cost.projection import (
    ESTIMATES,
    Estimate,
    Projection,
    choose_reference,
    model_facts,
)
from bench.cost.projection import project as project_curve
from bench.cost.quote import curve_points, tier_power
from bench.cost.runs import StoredRun
from bench.cost.tiers import QuoteTier, TierPoint, tier_point
from bench.cost.workload_key import group_by_workload
from bench.errors import UserError
from bench.hardware.profiles import load_profile
from bench.hardware.schema import HardwareProfile
from bench.records import Basis, DisplayCurrency, Record


class CompareRow(Record):
    """One SKU at one tier of one workload. Money in USD (shown in `Comparison.display`).

    `gpu_hour_price_usd` is the price the SKU is compared on (contract rent, modelled owning
    cost, or the capex build-up's total), `gpu_hour_cost_usd` adds power when the price
    excludes it. Projected rows carry `_low` / `_high` throughputs and prices (module docstring).
    """

    sku: str
    name: str
    workload: str
    tier: str
    status: str
    projected: bool = False
    note: str
    basis: str
    price: str | None = None
    price_kind: str | None = None
    price_date: str | None = None
    gpu_hour_price_usd: float | None = None
    gpu_hour_cost_usd: float | None = None
    total_tok_per_s_per_gpu: float | None = None
    input_tok_per_s_per_gpu: float | None = None
    output_tok_per_s_per_gpu: float | None = None
    total_tok_per_s_per_gpu_low: float | None = None
    total_tok_per_s_per_gpu_high: float | None = None
    input_tok_per_s_per_gpu_low: float | None = None
    input_tok_per_s_per_gpu_high: float | None = None
    output_tok_per_s_per_gpu_low: float | None = None
    output_tok_per_s_per_gpu_high: float | None = None
    usd_per_m_total: float | None = None
    usd_per_m_total_low: float | None = None
    usd_per_m_total_high: float | None = None
    tokens_per_kwh: float | None = None
    power_basis: Basis | None = None
    tok_per_s_per_kusd_capex: float | None = None
    scenario: str | None = None
    usd_per_scenario: float | None = None
    usd_per_scenario_low: float | None = None
    usd_per_scenario_high: float | None = None
    rank: int | None = None


SCENARIOS = {
    "chat": "chat answer",
    "agent": "agent booking (whole session)",
    "image": "screenshot request",
    "video": "5-second clip request",
}
"""Standard workloads whose runs price a scenario: the cost of one request (one whole task
for the agent) = $/M total × its measured tokens."""


def scenario_tokens(runs: Sequence[StoredRun]) -> tuple[str, float] | None:
    """(scenario, mean tokens per request — per task for the agent) when `runs` are one of
    the standard scenario workloads, else None."""
    name = runs[0].workload.label.split(" ")[0]
    if runs[0].workload.detail.startswith("shape") or name not in SCENARIOS:
        return None
    if name == "agent":
        sessions = [r.report.workload.outcome.sessions for r in runs if r.report.workload]
        values = [float(s.tokens_per_task.mean) for s in sessions if s and s.tokens_per_task.mean]
    else:
        windows = [r.report.summary.steady_state or r.report.summary.whole_run
                   for r in runs if r.report.summary]  # fmt: skip
        values = [w.total_tok_per_s / w.request_per_s for w in windows if w.request_per_s > 0]
    return (SCENARIOS[name], sum(values) / len(values)) if values else None


class Comparison(Record):
    model: str
    display: DisplayCurrency
    utilization: float
    basis: str
    price_tier: str | None
    tiers: list[str]
    workloads: list[str]
    rows: list[CompareRow]
    verdicts: list[str]
    notes: list[str] = Field(default_factory=list)


def _price_row(
    row: CompareRow,
    profile: HardwareProfile,
    a: CostAssumptions,
    choice: PriceChoice | Unpriced,
    power: tuple[float, Basis],
) -> CompareRow:
    """`row` with its price, GPU-hour cost and $/M total (low/high where it has a range)."""
    if isinstance(choice, Unpriced):
        return row.model_copy(update={"price": f"none: {choice.reason.split(' (')[0]}"})
    cost, lines = gpu_hour_cost(profile, choice.assumptions(a), *power)
    price = next((ln.value for ln in lines if ln.name in ("rent price", "owned cost")), cost)
    effective = f.effective_hour_cost(cost, a.utilization)

    def per_m(tok_s: float | None) -> float | None:
        return None if tok_s is None else f.cost_per_million_tokens(effective, tok_s)

    return row.model_copy(
        update={
            "price": choice.label,
            "price_kind": choice.kind,
            "price_date": choice.date,
            "gpu_hour_price_usd": price,
            "gpu_hour_cost_usd": cost,
            "usd_per_m_total": per_m(row.total_tok_per_s_per_gpu),
            "usd_per_m_total_low": per_m(row.total_tok_per_s_per_gpu_high),
            "usd_per_m_total_high": per_m(row.total_tok_per_s_per_gpu_low),
        }
    )


def _measured_row(
    profile: HardwareProfile, workload: str, tp: TierPoint, power: tuple[float, Basis], basis: str
) -> CompareRow:
    tok_s = tp.total_tok_per_s_per_gpu if tp.reached else None
    capex = profile.prices.capex_usd_per_gpu
    return CompareRow(
        sku=profile.sku,
        name=profile.name,
        workload=workload,
        tier=tp.tier,
        status=tp.status,
        note=tp.note,
        basis=basis,
        total_tok_per_s_per_gpu=tok_s,
        input_tok_per_s_per_gpu=tp.input_tok_per_s_per_gpu if tok_s else None,
        output_tok_per_s_per_gpu=tp.output_tok_per_s_per_gpu if tok_s else None,
        tokens_per_kwh=None if tok_s is None else f.tokens_per_kwh(tok_s, power[0]),
        power_basis=power[1] if tok_s else None,
        tok_per_s_per_kusd_capex=None
        if tok_s is None or capex is None
        else tok_s / (capex.value / 1e3),
    )


def _projected_row(
    profile: HardwareProfile, workload: str, points: Mapping[Estimate, TierPoint], proj: Projection,
    basis: str,
) -> CompareRow:  # fmt: skip
    mid, low, high = points["mid"], points["low"], points["high"]
    reached = mid.reached and mid.total_tok_per_s_per_gpu is not None
    note = "; ".join([*proj.notes, mid.note])
    row = _measured_row(profile, workload, mid, (profile.board_power_w.value, "estimated"), basis)
    update: dict[str, object] = {"projected": True, "status": "projected", "note": note}
    if reached:
        for kind in ("total", "input", "output"):
            update[f"{kind}_tok_per_s_per_gpu_low"] = getattr(low, f"{kind}_tok_per_s_per_gpu")
            update[f"{kind}_tok_per_s_per_gpu_high"] = getattr(high, f"{kind}_tok_per_s_per_gpu")
    elif not proj.fits:
        update["status"] = "does not fit"
    return row.model_copy(update=update)


def _with_scenario(row: CompareRow, scenario: str, tokens: float) -> CompareRow:
    """`row` with the cost of one scenario = $/M total × tokens / 1e6 (and its range)."""

    def cost(per_m: float | None) -> float | None:
        return None if per_m is None else per_m * tokens / 1e6

    return row.model_copy(
        update={
            "scenario": scenario,
            "usd_per_scenario": cost(row.usd_per_m_total),
            "usd_per_scenario_low": cost(row.usd_per_m_total_low),
            "usd_per_scenario_high": cost(row.usd_per_m_total_high),
        }
    )


def _ranked(rows: list[CompareRow]) -> list[CompareRow]:
    """Rows with rank 1 = cheapest per token; unpriced rows unranked, last."""
    priced = [r for r in rows if r.usd_per_m_total is not None]
    ordered = sorted(priced, key=lambda r: r.usd_per_m_total or 0.0)
    rank = {r.sku: i + 1 for i, r in enumerate(ordered)}
    out = [r.model_copy(update={"rank": rank.get(r.sku)}) for r in rows]
    return sorted(out, key=lambda r: (r.rank is None, r.rank or 0))


def _compute(profile: HardwareProfile) -> float:
    """Dense BF16 TFLOPS (INT8 TOPS when no BF16 figure); 0 for CPU hosts."""
    figure = profile.bf16_dense_tflops or profile.int8_dense_tops
    return figure.value if figure is not None and profile.kind == "gpu" else 0.0


def _range(r: CompareRow, d: DisplayCurrency) -> str:
    low, high = d.amount(r.usd_per_m_total_low), d.amount(r.usd_per_m_total_high)
    return "" if low is None or high is None else f", projected range {low:.4g}–{high:.4g}"


def verdict(
    tier: str, workload: str, rows: list[CompareRow], profiles: Mapping[str, HardwareProfile],
    display: DisplayCurrency, mixed: str | None,
) -> str:  # fmt: skip
    """One sentence: is the high-end card (most dense compute) cheaper per token, by how much,
    on which prices (tier, kind, date of each)."""
    head = f"{tier} ({workload})" + (" — MIXED BASIS, not like for like" if mixed else "")
    if len(rows) < 2:
        return f"{head}: only one SKU, nothing to compare"
    basis = rows[0].basis
    high = max(rows, key=lambda r: _compute(profiles[r.sku]))
    others = [r for r in rows if r.sku != high.sku and r.usd_per_m_total is not None]
    if high.usd_per_m_total is None:
        why = "has no price" if high.total_tok_per_s_per_gpu else "does not reach this tier"
        return f"{head}: {high.sku} (high-end) {why} on the {basis} basis ({high.note})"
    if not others:
        return f"{head}: no other SKU reaches this tier with a {basis}-basis price"
    best = min(others, key=lambda r: r.usd_per_m_total or 0.0)
    h, o = high.usd_per_m_total, best.usd_per_m_total or 0.0
    word = "cheaper" if h < o else "more expensive"
    label = " [projected]" if high.projected or best.projected else ""
    d, cur = display, display.currency
    prices = "; ".join(
        f"{r.sku} {d.amount(r.gpu_hour_price_usd) or 0.0:.4g} {cur}/GPU-h, {r.price} "
        f"({r.price_kind}, {r.price_date or 'your price'})"
        for r in (high, best)
    )
    return (
        f"{head}: {high.sku} (high-end) is {abs(o - h) / o:.0%} {word} per token than "
        f"{best.sku}, the cheapest other card ({d.amount(h):.4g}{_range(high, d)} vs "
        f"{d.amount(o):.4g}{_range(best, d)} {cur} per M total tokens; {basis} basis: "
        f"{prices}){label}"
    )


def _projections(
    project_args: Sequence[str],
    workload_runs: Mapping[str, list[StoredRun]],
    profiles: dict[str, HardwareProfile],
    cross_vendor: bool,
) -> tuple[dict[str, Projection], list[str]]:
    """Projections of the asked SKUs onto one workload's measured curves, with warnings."""
    from bench.catalog import load_catalog

    out: dict[str, Projection] = {}
    warnings: list[str] = []
    measured = [profiles[s] for s in workload_runs]
    for sku in project_args:
        target = profiles[sku]
        ref, warning = choose_reference(target, measured, cross_vendor=cross_vendor)
        runs = workload_runs[ref.sku]
        entry = load_catalog()[0].find(runs[0].model)
        if entry is None:
            raise UserError(
                f"cannot project {runs[0].model}: it is not in the model catalog",
                file="models.yaml",
                field="--project",
                fix="add the model (parameters, layers, KV heads, head size) to models.yaml",
            )
        facts = model_facts(entry, runs[0].report.config.engine_extra_args, ref)
        out[sku] = project_curve(curve_points(runs), facts, ref, target)
        warnings += [warning] if warning else []
    return out, warnings


def make_comparison(
    runs: Sequence[StoredRun],
    assumptions: CostAssumptions,
    *,
    tiers: Sequence[QuoteTier],
    project: Sequence[str] = (),
    prices: Mapping[str, float] | None = None,
    allow_mixed_basis: bool = False,
    cross_vendor: bool = False,
) -> Comparison:
    """The procurement table for the one model of `runs` across their SKUs (+ projections).

    Raises:
        UserError: runs of several models; no workload every SKU ran; one price for every SKU
            (`rent_price_per_gpu_hour` / `capex_per_gpu`); prices of different kinds without
            `allow_mixed_basis`; a projection that cannot be made (see `projection`).
    """
    models = sorted({r.model for r in runs})
    if len(models) != 1:
        raise UserError(
            f"runs of several models: {models}", field="RUNS", fix="compare one model at a time"
        )
    a = assumptions
    if a.rent_price_per_gpu_hour is not None or a.capex_per_gpu is not None:
        raise UserError(
            "one price for every SKU does not compare SKUs",
            field="rent_price_per_gpu_hour" if a.rent_price_per_gpu_hour else "capex_per_gpu",
            fix="give each SKU's own price with --price SKU=VALUE (repeat)",
        )
    by_sku: dict[str, list[StoredRun]] = {}
    for r in runs:
        by_sku.setdefault(r.sku, []).append(r)
    profiles = {sku: load_profile(sku) for sku in by_sku}
    projected = [load_profile(arg) for arg in project]
    notes = [f"{p.sku} has runs: not projected" for p in projected if p.sku in profiles]
    profiles |= {p.sku: p for p in projected if p.sku not in by_sku}
    to_project = [p.sku for p in projected if p.sku not in by_sku]
    choices = choose_prices(profiles, a, selector=a.price_tier, given=prices or {})
    mixed = check_like_for_like(choices, profiles, allow_mixed=allow_mixed_basis)
    notes += [mixed] if mixed else []
    notes += [f"{c.sku}: {c.reason}; {c.fix}" for c in choices.values() if isinstance(c, Unpriced)]
    shared = _shared_workloads(by_sku, notes)
    rows: list[CompareRow] = []
    verdicts = []
    for label, workload_runs in shared.items():
        projections, warnings = _projections(to_project, workload_runs, profiles, cross_vendor)
        notes += warnings
        curves = {sku: curve_points(rs) for sku, rs in workload_runs.items()}
        for tier in tiers:
            tier_rows = []
            for sku, rs in workload_runs.items():
                tp = tier_point(curves[sku], tier)
                power = tier_power(profiles[sku], rs, tp.run_dirs)
                row = _measured_row(profiles[sku], label, tp, power, a.basis)
                tier_rows.append(_price_row(row, profiles[sku], a, choices[sku], power))
            for sku, proj in projections.items():
                points = {e: tier_point(proj.curves[e], tier) for e in ESTIMATES}
                row = _projected_row(profiles[sku], label, points, proj, a.basis)
                board: tuple[float, Basis] = (profiles[sku].board_power_w.value, "estimated")
                tier_rows.append(_price_row(row, profiles[sku], a, choices[sku], board))
            tier_rows = _ranked(tier_rows)
            scenario = scenario_tokens([r for rs in workload_runs.values() for r in rs])
            if scenario is not None:
                tier_rows = [_with_scenario(r, *scenario) for r in tier_rows]
            rows += tier_rows
            verdicts.append(verdict(tier.name, label, tier_rows, profiles, a.display, mixed))
    return Comparison(
        model=models[0],
        display=a.display,
        utilization=a.utilization,
        basis=a.basis,
        price_tier=a.price_tier,
        tiers=[t.name for t in tiers],
        workloads=list(shared),
        rows=rows,
        verdicts=verdicts,
        notes=list(dict.fromkeys(notes)),
    )


def _shared_workloads(
    by_sku: Mapping[str, list[StoredRun]], notes: list[str]
) -> dict[str, dict[str, list[StoredRun]]]:
    """Workload label → SKU → runs, for the workloads every SKU ran; the others go to notes.

    Raises:
        UserError: no workload was run on every SKU (the message names each SKU's workloads).
    """
    all_runs = [r for rs in by_sku.values() for r in rs]
    groups = group_by_workload(all_runs, lambda r: r.workload)
    shared: dict[str, dict[str, list[StoredRun]]] = {}
    for label, members in groups.items():
        skus = {r.sku for r in members}
        if skus == set(by_sku):
            shared[label] = {sku: [r for r in members if r.sku == sku] for sku in by_sku}
        else:
            runs = ", ".join(r.run_dir for r in members)
            notes.append(
                f"workload {label} not compared: only {', '.join(sorted(skus))} ran it ({runs})"
            )
    if not shared:
        listing = "; ".join(
            f"{sku}: {', '.join(sorted({r.workload.label for r in rs}))}"
            for sku, rs in by_sku.items()
        )
        raise UserError(
            f"no workload was run on every SKU, so nothing is like for like: {listing}",
            field="RUNS",
            fix="give runs of the same workload (shape, lengths, API, modality) for each SKU",
        )
    return shared
