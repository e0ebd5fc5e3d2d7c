"""Cost of one run on one hardware profile, line by line (DESIGN.md "Cost model").

Everything here is in USD: prices a person typed in another currency are converted on the
way in (`CostAssumptions.to_usd`), CNY-priced tiers at the given FX rate; the display
currency is recorded in `CostBreakdown.display` and applied only when rendering.

`gpu_hour_cost` builds the cost of one GPU-hour on the rent or owned basis; `run_cost` adds
utilization and the run's measured throughput and returns the `CostBreakdown` record. Every
line carries its unit and basis: measured (from the run), configured (profile or
assumptions), estimated (board power standing in for a measurement) or derived (arithmetic).
"""

from __future__ import annotations

from bench.cost import formulas as f
from bench.cost.assumptions import (
    DEFAULT_ELECTRICITY_USD_PER_KWH,
    DEFAULT_HOSTING_USD_PER_KW_MONTH,
    CostAssumptions,
)
from bench.errors import UserError
from bench.hardware.schema import HardwareProfile, RentTier, Sourced
from bench.records import MONEY_UNIT, Basis, CostBreakdown, CostLine, RunSummary

# Line names other modules read back from stored reports (compare, quote).
LINE_POWER = "average power per GPU"
LINE_TOKENS_PER_KWH = "total tokens per kWh"


def _cite(fig: Sourced) -> str:
    return f"{fig.source}, {fig.date}, {fig.reliability}"


def _profile_file(profile: HardwareProfile) -> str:
    return f"{profile.sku}.yaml"


def _line(name: str, value: float, unit: str, basis: Basis, note: str | None = None) -> CostLine:
    return CostLine(name=name, value=value, unit=unit, basis=basis, note=note)


def device_word(profile: HardwareProfile) -> str:
    """'GPU' for GPU profiles, 'host' for CPU profiles (one device = the whole host)."""
    return "GPU" if profile.kind == "gpu" else "host"


def resolve_power(
    profile: HardwareProfile, measured_power_w: float | None, gpus: int
) -> tuple[float, Basis, str]:
    """Average power per device (W), its basis and a note.

    measured_power_w is the run's average draw of all `gpus` devices together; without it
    the profile's board power stands in, labelled "estimated".
    """
    if measured_power_w is not None and measured_power_w > 0:
        return measured_power_w / gpus, "measured", f"run average {measured_power_w:.1f} W / {gpus}"
    board = profile.board_power_w
    return board.value, "estimated", f"no measurement: board power ({_cite(board)})"


def _power_lines(
    profile: HardwareProfile, a: CostAssumptions, power_w: float, power_basis: Basis
) -> tuple[float, list[CostLine]]:
    """Electricity cost per GPU-hour (USD) and its working."""
    cur, dev = MONEY_UNIT, device_word(profile)
    overhead, overhead_note = _overhead(profile, a)
    price, price_note = _electricity_price(a)
    cost = f.power_cost_per_hour(power_w, overhead, a.pue, price)
    lines = [
        _line("node overhead factor", overhead, "x", "configured", overhead_note),
        _line("PUE", a.pue, "x", "configured"),
        _line("electricity price", price, f"{cur}/kWh", "configured", price_note),
        _line(
            "power cost",
            cost,
            f"{cur}/{dev}-hour",
            "estimated" if power_basis == "estimated" else "derived",
            "power W / 1000 × node overhead × PUE × price per kWh",
        ),
    ]
    return cost, lines


def _electricity_price(a: CostAssumptions) -> tuple[float, str]:
    """Electricity price per kWh in USD and where it came from."""
    if a.electricity_price_per_kwh is not None:
        return a.to_usd(a.electricity_price_per_kwh), "assumptions"
    return (
        DEFAULT_ELECTRICITY_USD_PER_KWH,
        "default: US industrial base case $0.08/kWh (EIA, Apr 2025)",
    )


def _overhead(profile: HardwareProfile, a: CostAssumptions) -> tuple[float, str]:
    if a.node_overhead_factor is not None:
        return a.node_overhead_factor, "assumptions"
    if profile.node_overhead_factor is not None:
        return profile.node_overhead_factor.value, _cite(profile.node_overhead_factor)
    return 1.0, "default: no node overhead known for this profile"


def tier_price_usd(tier: RentTier, a: CostAssumptions) -> float:
    """A rent tier's price per GPU-hour in USD (monthly / 730; CNY at the FX rate).

    Raises:
        UserError: a CNY tier without an FX rate.
    """
    if tier.usd_per_gpu_hour is not None:
        return tier.usd_per_gpu_hour
    if tier.cny_per_gpu_hour is not None:
        cny = tier.cny_per_gpu_hour
    else:
        assert tier.cny_per_gpu_month is not None
        cny = f.monthly_to_hourly(tier.cny_per_gpu_month)
    converted = a.cny_to_usd(cny)
    if converted is None:
        raise UserError(
            f"tier {tier.tier} is priced in CNY and no exchange rate was given",
            field="fx_cny_per_usd",
            fix="give the exchange rate (fx_cny_per_usd, --fx-cny-per-usd, e.g. 7.2)",
        )
    return converted


def _rent_cost(
    profile: HardwareProfile, a: CostAssumptions, power_w: float, power_basis: Basis
) -> tuple[float, list[CostLine]]:
    cur, dev = MONEY_UNIT, device_word(profile)
    if a.rent_price_per_gpu_hour is not None:
        rent, includes_power = a.to_usd(a.rent_price_per_gpu_hour), a.rent_includes_power
        note = "assumptions"
    else:
        tier = profile.prices.rent_tier(a.price_tier)
        if tier is None:
            names = ", ".join(t.tier for t in profile.prices.rent)
            raise UserError(
                f"no rent tier {a.price_tier!r} for {profile.sku}"
                if names
                else f"no sourced rent price for {profile.sku}",
                file=_profile_file(profile),
                field="prices.rent",
                fix=(f"use one of: {names}; or " if names else "")
                + "give your own price (rent_price_per_gpu_hour, --rent-price-per-gpu-hour)",
            )
        includes_power, note = tier.includes_power, f"tier {tier.tier}: {_cite(tier)}"
        rent = tier_price_usd(tier, a)
    lines = [_line("rent price", rent, f"{cur}/{dev}-hour", "configured", note)]
    if includes_power:
        lines.append(
            _line(
                "power cost", 0.0, f"{cur}/{dev}-hour", "configured", "included in the rent price"
            )
        )
        return rent, lines
    power_cost, power_lines = _power_lines(profile, a, power_w, power_basis)
    return rent + power_cost, lines + power_lines


def _capex(profile: HardwareProfile, a: CostAssumptions) -> tuple[float, str]:
    if a.capex_per_gpu is not None:
        return a.to_usd(a.capex_per_gpu), "assumptions"
    capex = profile.prices.capex_usd_per_gpu
    if capex is None:
        owned = ", ".join(t.tier for t in profile.prices.owned) or "(none)"
        raise UserError(
            f"the owned basis needs a capex per GPU and {profile.sku} has none",
            file=_profile_file(profile),
            field="prices.capex_usd_per_gpu",
            fix=f"give capex_per_gpu (--capex-per-gpu), or price_tier an owned tier: {owned}",
        )
    return capex.value, _cite(capex)


def _owned_cost(
    profile: HardwareProfile, a: CostAssumptions, power_w: float, power_basis: Basis
) -> tuple[float, list[CostLine]]:
    cur, dev = MONEY_UNIT, device_word(profile)
    unit = f"{cur}/{dev}-hour"
    if a.price_tier is not None:
        tier = profile.prices.owned_tier(a.price_tier)
        if tier is None:
            names = ", ".join(t.tier for t in profile.prices.owned) or "(none)"
            raise UserError(
                f"no owned tier {a.price_tier!r} for {profile.sku}",
                file=_profile_file(profile),
                field="prices.owned",
                fix=f"use one of: {names}; or leave price_tier unset to build cost from capex",
            )
        cost = tier.usd_per_gpu_hour
        note = f"modelled all-in owning cost, tier {tier.tier}: {_cite(tier)}"
        return cost, [_line("owned cost", cost, unit, "configured", note)]
    capex, capex_note = _capex(profile, a)
    crf = f.capital_recovery_factor(a.cost_of_capital, a.life_years)
    capital = f.capex_per_hour(capex, a.cost_of_capital, a.life_years)
    overhead, _ = _overhead(profile, a)
    provisioned_kw = profile.board_power_w.value * overhead / 1000.0
    if a.hosting_per_kw_month is not None:
        hosting_price, hosting_note = a.to_usd(a.hosting_per_kw_month), "assumptions"
    else:
        hosting_price = DEFAULT_HOSTING_USD_PER_KW_MONTH
        hosting_note = "default: CBRE North America H2 2024, $184.06/kW-month"
    hosting = f.hosting_cost_per_hour(provisioned_kw, hosting_price)
    opex = f.opex_cost_per_hour(capex, a.opex_share)
    power_cost, power_lines = _power_lines(profile, a, power_w, power_basis)
    lines = [
        _line("capex per GPU", capex, cur, "configured", capex_note),
        _line("cost of capital", a.cost_of_capital, "1/year", "configured"),
        _line("life", a.life_years, "years", "configured"),
        _line("capital recovery factor", crf, "1/year", "derived", "r / (1 − (1 + r)^−N)"),
        _line("capital cost", capital, unit, "derived", "capex × CRF / 8760"),
        *power_lines,
        _line(
            "provisioned power per GPU",
            provisioned_kw,
            "kW",
            "derived",
            "board power × node overhead factor",
        ),
        _line("hosting price", hosting_price, f"{cur}/kW-month", "configured", hosting_note),
        _line(
            "hosting cost",
            hosting,
            unit,
            "derived",
            "provisioned kW × price per kW-month × 12 / 8760",
        ),
        _line("opex share", a.opex_share, "1/year", "configured", "of capex"),
        _line("opex cost", opex, unit, "derived", "capex × opex share / 8760"),
    ]
    return capital + power_cost + hosting + opex, lines


def gpu_hour_cost(
    profile: HardwareProfile, a: CostAssumptions, power_w: float, power_basis: Basis
) -> tuple[float, list[CostLine]]:
    """Cost of one billed GPU-hour in USD on `a.basis`, with its working lines.

    rent:  contract price per GPU-hour (monthly / 730) + power if the contract excludes it.
    owned: capex × CRF / 8760 + power + hosting + opex (or a modelled owned tier's price).
    power: power_w / 1000 × node overhead × PUE × price per kWh.

    Raises:
        UserError: unknown price tier, CNY tier without FX rate, owned basis without capex.
    """
    if a.basis == "rent":
        cost, lines = _rent_cost(profile, a, power_w, power_basis)
    else:
        cost, lines = _owned_cost(profile, a, power_w, power_basis)
    dev = device_word(profile)
    lines.append(
        _line(f"{dev}-hour cost", cost, f"{MONEY_UNIT}/{dev}-hour", "derived", f"{a.basis} basis")
    )
    return cost, lines


def run_cost(
    profile: HardwareProfile,
    assumptions: CostAssumptions,
    *,
    summary: RunSummary,
    gpus: int,
    measured_power_w: float | None,
) -> CostBreakdown:
    """Cost per token of one run: GPU-hour cost, utilization, throughput per GPU, $/M tokens.

    effective = GPU-hour cost / utilization; $/M = effective / (tok/s per GPU × 3600 / 1e6),
    tok/s per GPU = window throughput / gpus (steady state when the run has one). The output
    price charges the whole GPU-hour to output tokens (an upper bound, not additive with an
    input price; additive prices come from bench.cost.additive).

    Args:
        measured_power_w: the run's average power of all `gpus` devices together (W), or None
            (then board power is used and the breakdown is `estimated`).

    Raises:
        UserError: gpus < 1, or a price input is missing (see `gpu_hour_cost`).
    """
    if gpus < 1:
        raise UserError(f"gpus must be ≥ 1, got {gpus}", field="gpus", fix="give --gpus N ≥ 1")
    cur, dev = MONEY_UNIT, device_word(profile)
    window = summary.steady_state or summary.whole_run
    power_w, power_basis, power_note = resolve_power(profile, measured_power_w, gpus)
    hour_cost, lines = gpu_hour_cost(profile, assumptions, power_w, power_basis)
    effective = f.effective_hour_cost(hour_cost, assumptions.utilization)
    total = window.total_tok_per_s / gpus
    output = window.output_tok_per_s / gpus
    per_m_out = f.cost_per_million_tokens(effective, output)
    per_m_total = f.cost_per_million_tokens(effective, total)
    measured = f"{window.label} window, {window.duration_s:.1f} s, / {gpus} {dev}(s)"
    per_kwh = f.tokens_per_kwh(total, power_w)
    lines += [
        _line(
            "utilization",
            assumptions.utilization,
            "fraction",
            "configured",
            "busy hours / billed hours",
        ),
        _line(
            f"effective {dev}-hour cost",
            effective,
            f"{cur}/{dev}-hour",
            "derived",
            f"{dev}-hour cost / utilization",
        ),
        _line(
            "input throughput per GPU", window.input_tok_per_s / gpus, "tok/s", "measured", measured
        ),
        _line("output throughput per GPU", output, "tok/s", "measured", measured),
        _line("total throughput per GPU", total, "tok/s", "measured", measured),
        _line(LINE_POWER, power_w, "W", power_basis, power_note),
    ]
    if per_kwh is not None:
        lines.append(
            _line(
                LINE_TOKENS_PER_KWH,
                per_kwh,
                "tok/kWh",
                "estimated" if power_basis == "estimated" else "derived",
                "device power only (no node overhead or PUE)",
            )
        )
    if per_m_out is not None:
        lines.append(
            _line(
                "cost per M output tokens",
                per_m_out,
                f"{cur}/Mtok",
                "derived",
                "whole GPU-hour charged to output tokens (upper bound)",
            )
        )
    if per_m_total is not None:
        lines.append(
            _line(
                "cost per M total tokens",
                per_m_total,
                f"{cur}/Mtok",
                "derived",
                "effective cost / total (input + output) tokens per hour",
            )
        )
    cost_inputs = [ln for ln in lines if ln.name not in (LINE_POWER, LINE_TOKENS_PER_KWH)]
    return CostBreakdown(
        display=assumptions.display,
        cost_basis=assumptions.basis,
        hardware_sku=profile.sku,
        gpus=gpus,
        throughput_window=window.label,
        gpu_hour_cost_usd=hour_cost,
        effective_gpu_hour_cost_usd=effective,
        cost_usd_per_m_output_tokens=per_m_out,
        cost_usd_per_m_total_tokens=per_m_total,
        lines=lines,
        estimated=any(ln.basis == "estimated" for ln in cost_inputs),
    )


def power_inputs(profile: HardwareProfile, a: CostAssumptions) -> tuple[float, float, float]:
    """(node overhead factor, PUE, electricity price in USD per kWh) as used."""
    return _overhead(profile, a)[0], a.pue, _electricity_price(a)[0]


def power_cost_per_gpu_hour(profile: HardwareProfile, a: CostAssumptions, power_w: float) -> float:
    """Electricity per busy GPU-hour in USD: W / 1000 × node overhead × PUE × price per kWh."""
    return f.power_cost_per_hour(power_w, *power_inputs(profile, a))
