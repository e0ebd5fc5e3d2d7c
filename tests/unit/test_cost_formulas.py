"""Cost formulas against hand-computed values (docs/cost-model.md worked example)."""

from __future__ import annotations

import math

import pytest

from bench.cost import formulas as f


def test_crf_at_ten_percent_over_four_years() -> None:
    # 0.1 / (1 − 1.1^−4) = 0.1 / (1 − 0.6830135) = 0.3154708
    assert f.capital_recovery_factor(0.10, 4) == pytest.approx(0.3154708, rel=1e-6)


def test_crf_zero_rate_is_straight_line() -> None:
    assert f.capital_recovery_factor(0.0, 5) == pytest.approx(0.2)


def test_crf_one_year_repays_principal_plus_interest() -> None:
    assert f.capital_recovery_factor(0.08, 1) == pytest.approx(1.08)


def test_crf_rejects_bad_inputs() -> None:
    with pytest.raises(ValueError):
        f.capital_recovery_factor(-0.1, 4)
    with pytest.raises(ValueError):
        f.capital_recovery_factor(0.1, 0)


def test_reference_h100_owned_cost_builds_up_to_2_09_per_hour() -> None:
    # reference/cost-and-hardware.md §3e: $40k, 10 %, 4 y, 1.3 kW, PUE 1.3, $0.08, $184, 4 %
    capital = f.capex_per_hour(40_000, 0.10, 4)
    power = f.power_cost_per_hour(1000, 1.3, 1.3, 0.08)
    hosting = f.hosting_cost_per_hour(1.3, 184)
    opex = f.opex_cost_per_hour(40_000, 0.04)
    assert capital == pytest.approx(1.440506, rel=1e-5)  # 40000 × 0.3154708 / 8760
    assert power == pytest.approx(0.1352)  # 1.3 × 1.3 × 0.08
    assert hosting == pytest.approx(0.327671, rel=1e-5)  # 1.3 × 184 × 12 / 8760
    assert opex == pytest.approx(0.182648, rel=1e-5)  # 1600 / 8760
    total = capital + power + hosting + opex
    assert total == pytest.approx(2.086025, rel=1e-5)
    assert f.effective_hour_cost(total, 0.7) == pytest.approx(2.980036, rel=1e-5)


def test_monthly_rent_to_hourly() -> None:
    # broker example: ¥70,000 per 8-GPU server-month = ¥8,750 per card → ¥11.986/GPU-hour
    assert f.monthly_to_hourly(70_000 / 8) == pytest.approx(11.9863, rel=1e-4)


def test_effective_cost_rejects_utilization_outside_unit_interval() -> None:
    assert f.effective_hour_cost(2.0, 0.5) == 4.0
    for bad in (0.0, 1.2, -0.1):
        with pytest.raises(ValueError):
            f.effective_hour_cost(2.0, bad)


def test_cost_per_million_tokens() -> None:
    # $1.69/h at 15,220 tok/s → 54.792 M tok/h → $0.030844/M (reference §4b sanity line)
    assert f.cost_per_million_tokens(1.69, 15_220) == pytest.approx(0.0308440, rel=1e-5)
    assert f.cost_per_million_tokens(1.69, 0.0) is None


def test_tokens_per_kwh() -> None:
    # 1000 tok/s at 500 W: 3.6e6 tok per hour / 0.5 kWh = 7.2e6 tok/kWh
    assert f.tokens_per_kwh(1000, 500) == pytest.approx(7.2e6)
    assert f.tokens_per_kwh(1000, 0) is None


def test_revenue_share_and_breakeven() -> None:
    # 1000 in + 250 out tok/s; $1/M in, $4/M out: 3.6 + 3.6 = $7.2 per busy hour; ×0.5 util
    revenue = f.token_revenue_per_gpu_hour(
        {"input": 1000, "output": 250}, {"input": 1.0, "output": 4.0}, 0.5
    )
    assert revenue == pytest.approx(3.6)
    assert f.lessor_share_income(revenue, 0.25) == pytest.approx(0.9)
    assert f.breakeven_share(1.8, revenue) == pytest.approx(0.5)
    assert f.breakeven_share(1.8, 0.0) is None


def test_margin() -> None:
    assert f.with_margin(2.0, 0.3) == pytest.approx(2.6)
    assert math.isclose(f.with_margin(2.0, 0.0), 2.0)
