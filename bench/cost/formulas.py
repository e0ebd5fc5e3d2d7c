"""Cost formulas: small pure functions, each with its formula and units.

Money is in whatever single currency the caller uses (the report's currency); power in W,
energy in kWh, time in hours or seconds as named. docs/cost-model.md shows every formula
with a worked example that tests/unit/test_cost_formulas.py checks.
"""

from __future__ import annotations

from bench.units import HOURS_PER_MONTH, HOURS_PER_YEAR


def capital_recovery_factor(rate: float, years: float) -> float:
    """CRF = r / (1 − (1 + r)^−N): the share of a loan repaid each year over N years at rate r.

    r = 0 gives the limit 1/N. Example: r = 0.10, N = 4 → 0.315471.

    Raises:
        ValueError: rate < 0 or years ≤ 0.
    """
    if rate < 0 or years <= 0:
        raise ValueError(f"need rate ≥ 0 and years > 0, got {rate}, {years}")
    if rate == 0:
        return 1.0 / years
    return rate / (1.0 - (1.0 + rate) ** -years)


def monthly_to_hourly(price_per_month: float) -> float:
    """Hourly price = monthly price / 730 (hours in an average month)."""
    return price_per_month / HOURS_PER_MONTH


def capex_per_hour(capex: float, rate: float, years: float) -> float:
    """Capital cost per hour = capex × CRF(r, N) / 8760."""
    return capex * capital_recovery_factor(rate, years) / HOURS_PER_YEAR


def power_cost_per_hour(
    power_w: float, node_overhead_factor: float, pue: float, price_per_kwh: float
) -> float:
    """Electricity cost per hour = power_w / 1000 × node overhead × PUE × price per kWh.

    `power_w` is the device's average draw; the node overhead factor adds its share of CPU,
    fans and NICs; PUE adds the facility (cooling, conversion losses).
    """
    return power_w / 1000.0 * node_overhead_factor * pue * price_per_kwh


def hosting_cost_per_hour(provisioned_kw: float, price_per_kw_month: float) -> float:
    """Colocation cost per hour = provisioned kW × price per kW-month × 12 / 8760."""
    return provisioned_kw * price_per_kw_month * 12.0 / HOURS_PER_YEAR


def opex_cost_per_hour(capex: float, opex_share_per_year: float) -> float:
    """Operating cost per hour (support, staff, software) = capex × share per year / 8760."""
    return capex * opex_share_per_year / HOURS_PER_YEAR


def effective_hour_cost(hour_cost: float, utilization: float) -> float:
    """Cost per busy hour = cost per billed hour / utilization (0 < utilization ≤ 1).

    Raises:
        ValueError: utilization outside (0, 1].
    """
    if not 0 < utilization <= 1:
        raise ValueError(f"utilization must be in (0, 1], got {utilization}")
    return hour_cost / utilization


def tokens_per_hour_millions(tok_per_s: float) -> float:
    """Millions of tokens per hour = tok/s × 3600 / 1e6."""
    return tok_per_s * 3600.0 / 1e6


def cost_per_million_tokens(effective_cost_per_hour: float, tok_per_s: float) -> float | None:
    """Price per 1M tokens = effective cost per GPU-hour / (tok/s per GPU × 3600 / 1e6).

    Returns None when no tokens were produced (a price per token does not exist).
    """
    if tok_per_s <= 0:
        return None
    return effective_cost_per_hour / tokens_per_hour_millions(tok_per_s)


def tokens_per_kwh(tok_per_s: float, power_w: float) -> float | None:
    """Tokens per kWh = tok/s × 3600 / (power_w / 1000); None without a power figure."""
    if power_w <= 0:
        return None
    return tok_per_s * 3600.0 / (power_w / 1000.0)


def with_margin(cost: float, margin: float) -> float:
    """Price = cost × (1 + margin); margin 0.3 is a 30 % markup on cost."""
    return cost * (1.0 + margin)


def token_revenue_per_gpu_hour(
    tok_per_s: dict[str, float], price_per_m: dict[str, float], utilization: float
) -> float:
    """Revenue per billed GPU-hour = Σ_k price_k per M × tok/s_k × 3600 / 1e6 × utilization.

    `tok_per_s` and `price_per_m` are keyed by token kind (input, output, cached); kinds
    without a price earn nothing.
    """
    per_busy_hour = sum(
        price_per_m[k] * tokens_per_hour_millions(tok_per_s.get(k, 0.0)) for k in price_per_m
    )
    return per_busy_hour * utilization


def lessor_share_income(revenue_per_gpu_hour: float, share: float) -> float:
    """Lessor income per GPU-hour under revenue share = share × token revenue per GPU-hour."""
    return share * revenue_per_gpu_hour


def breakeven_share(rent_per_gpu_hour: float, revenue_per_gpu_hour: float) -> float | None:
    """Share of token revenue that pays the lessor as much as rent = rent / revenue.

    None when there is no revenue; a value above 1 means no share can match the rent.
    """
    if revenue_per_gpu_hour <= 0:
        return None
    return rent_per_gpu_hour / revenue_per_gpu_hour
