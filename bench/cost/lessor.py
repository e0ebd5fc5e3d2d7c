"""The lessor's view: one server leased for rent, or run for a share of token revenue.

Per server (`gpus` GPUs) per month (730 h), money in USD:

    rent income      = rent per GPU-hour × 730 × gpus          (the contract price only)
    power            = power cost per busy GPU-hour × u × 730 × gpus
    opex             = opex per GPU-hour × 730 × gpus           (capex × opex share / 8760)
    token revenue    = Σ_k market price_k × tokens_k per busy GPU-hour × u × 730 × gpus
    share income     = share × token revenue
    share, net       = share income − power − opex              (under a share the lessor
                                                                 runs the servers: pays both)
    rent, net        = rent income − opex − power if the lease includes power
    break-even share = (rent + (1 − inc) · P · u) / (R · u)     (share, net = rent, net)
    break-even u     = rent / (share · R − (1 − inc) · P)       (at the given share)

with u the utilization, R the token revenue per busy GPU-hour, P the power cost per busy
GPU-hour and inc 1 when the lease price includes power. Power is drawn while busy only (idle
power is not counted). A lease that includes power leaves the lessor paying it either way, so
it cancels out of the break-even share; one that excludes power shifts it to the lessor under
a share, which raises the break-even share by P / R.
"""

from __future__ import annotations

from bench.records import Record
from bench.units import HOURS_PER_MONTH


class LessorInputs(Record):
    """What the lessor's view is computed from (USD per GPU-hour unless named)."""

    gpus: int
    utilization: float
    rent_usd_per_gpu_hour: float
    rent_includes_power: bool
    power_usd_per_busy_gpu_hour: float
    opex_usd_per_gpu_hour: float | None
    revenue_usd_per_busy_gpu_hour: float
    share: float | None


class LessorView(Record):
    """One server for one month under rent and under a revenue share (USD)."""

    inputs: LessorInputs
    hours_per_month: float
    rent_income_usd: float
    power_usd: float
    opex_usd: float | None
    token_revenue_usd: float
    share_income_usd: float | None
    share_net_usd: float | None
    rent_net_usd: float
    breakeven_share: float | None
    breakeven_utilization: float | None
    notes: list[str]


def breakeven_share(
    rent: float, revenue_busy: float, power_busy: float, utilization: float, includes_power: bool
) -> float | None:
    """Share of token revenue whose net equals the net of rent: (rent + (1 − inc)·P·u) / (R·u).

    Per GPU-hour; None when there is no revenue. Above 1: no share matches the rent.
    """
    if revenue_busy <= 0:
        return None
    extra_power = 0.0 if includes_power else power_busy * utilization
    return (rent + extra_power) / (revenue_busy * utilization)


def breakeven_utilization(
    rent: float, revenue_busy: float, power_busy: float, share: float, includes_power: bool
) -> float | None:
    """Utilization at which the share's net equals rent's net: rent / (s·R − (1 − inc)·P).

    None when no utilization does (the share of revenue does not even cover power).
    A value above 1 means the share never pays as much as rent.
    """
    margin = share * revenue_busy - (0.0 if includes_power else power_busy)
    return None if margin <= 0 else rent / margin


def lessor_view(i: LessorInputs) -> LessorView:
    """The month of one `i.gpus`-GPU server under rent and under a revenue share."""
    hours = HOURS_PER_MONTH * i.gpus  # GPU-hours per server-month
    u = i.utilization
    rent = i.rent_usd_per_gpu_hour * hours
    power = i.power_usd_per_busy_gpu_hour * u * hours
    opex = None if i.opex_usd_per_gpu_hour is None else i.opex_usd_per_gpu_hour * hours
    revenue = i.revenue_usd_per_busy_gpu_hour * u * hours
    notes = ["power is counted while busy only (utilization × hours); idle power is not"]
    if opex is None:
        notes.append("opex not known (no capex for this SKU): net figures leave it out")
    cost_both = opex or 0.0
    share_income = None if i.share is None else i.share * revenue
    share_net = None if share_income is None else share_income - power - cost_both
    rent_net = rent - cost_both - (power if i.rent_includes_power else 0.0)
    be_util = (
        None
        if i.share is None
        else breakeven_utilization(
            i.rent_usd_per_gpu_hour,
            i.revenue_usd_per_busy_gpu_hour,
            i.power_usd_per_busy_gpu_hour,
            i.share,
            i.rent_includes_power,
        )
    )
    if i.share is None:
        notes.append("no revenue share given (--revenue-share): share income not computed")
    elif be_util is None:
        notes.append("the share of token revenue does not cover power: no utilization breaks even")
    elif be_util > 1:
        notes.append(f"break-even utilization {be_util:.0%} > 100 %: the share never matches rent")
    return LessorView(
        inputs=i,
        hours_per_month=HOURS_PER_MONTH,
        rent_income_usd=rent,
        power_usd=power,
        opex_usd=opex,
        token_revenue_usd=revenue,
        share_income_usd=share_income,
        share_net_usd=share_net,
        rent_net_usd=rent_net,
        breakeven_share=breakeven_share(
            i.rent_usd_per_gpu_hour,
            i.revenue_usd_per_busy_gpu_hour,
            i.power_usd_per_busy_gpu_hour,
            u,
            i.rent_includes_power,
        ),
        breakeven_utilization=be_util,
        notes=notes,
    )
