"""docs/cost-model.md's worked example: every number recomputed from the formulas."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bench.cost import formulas as f
from bench.cost.additive import AdditiveFit, prices_from_fit, scale_to_point

DOC = Path(__file__).resolve().parents[2] / "docs" / "cost-model.md"


def _documented() -> dict[str, float]:
    block = re.search(r"```worked-example\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert block, "docs/cost-model.md lost its worked-example block"
    values = {}
    for line in block.group(1).splitlines():
        name, _, rest = line.partition("=")
        values[name.strip()] = float(rest.split("#")[0])
    return values


def _computed() -> dict[str, float]:
    capital = f.capex_per_hour(40_000, 0.10, 4)
    power = f.power_cost_per_hour(1000, 1.3, 1.3, 0.08)
    hosting = f.hosting_cost_per_hour(1.3, 184)
    opex = f.opex_cost_per_hour(40_000, 0.04)
    hour = capital + power + hosting + opex
    eff = f.effective_hour_cost(hour, 0.7)
    fit = AdditiveFit(
        gpu_s_per_input_token=2.5e-5,
        gpu_s_per_output_token=4.25e-4,
        gpu_s_per_cached_input_token=None,
        residuals=[],
        rms_rel_error=0,
        max_abs_rel_error=0,
    )
    probe = prices_from_fit(fit, eff)
    scale = scale_to_point(fit, 16_000, 4_000)
    at_point = prices_from_fit(fit, eff, scale)
    revenue = f.token_revenue_per_gpu_hour(
        {"input": 16_000, "output": 4_000}, {"input": 0.10, "output": 0.40}, 0.7
    )
    return {
        "crf": f.capital_recovery_factor(0.10, 4),
        "capital_cost_per_hour": capital,
        "power_cost_per_hour": power,
        "hosting_cost_per_hour": hosting,
        "opex_cost_per_hour": opex,
        "gpu_hour_cost": hour,
        "effective_hour_cost": eff,
        "per_m_total": f.cost_per_million_tokens(eff, 20_000),
        "per_m_output_whole_hour": f.cost_per_million_tokens(eff, 4_000),
        "per_m_input_whole_hour": f.cost_per_million_tokens(eff, 16_000),
        "probe_per_m_input": probe.usd_per_m_input,
        "probe_per_m_output": probe.usd_per_m_output,
        "mixed_request_cost": eff * (1536 * 2.5e-5 + 384 * 4.25e-4) / 3600,
        "mixed_request_additive": (1536 * probe.usd_per_m_input + 384 * probe.usd_per_m_output)
        / 1e6,
        "scale_at_operating_point": scale,
        "per_m_input": at_point.usd_per_m_input,
        "per_m_output": at_point.usd_per_m_output,
        "rent_per_m_total": f.cost_per_million_tokens(1.30, 20_000),
        "cny_per_gpu_hour": f.monthly_to_hourly(70_000 / 8),
        "revenue_per_gpu_hour": revenue,
        "share_income_per_gpu_hour": f.lessor_share_income(revenue, 0.3),
        "breakeven_share": f.breakeven_share(1.30, revenue),
    }  # type: ignore[dict-item]


def test_worked_example_matches_the_formulas() -> None:
    documented, computed = _documented(), _computed()
    assert documented.keys() == computed.keys()
    for name, value in documented.items():
        assert computed[name] == pytest.approx(value, rel=5e-6), name


def test_additive_prices_reproduce_the_hour_and_the_mistake_doubles_it() -> None:
    d = _documented()
    additive_hour = (16_000 * d["per_m_input"] + 4_000 * d["per_m_output"]) * 3600 / 1e6
    assert additive_hour == pytest.approx(d["effective_hour_cost"], rel=1e-5)
    wrong = (16_000 * d["per_m_input_whole_hour"] + 4_000 * d["per_m_output_whole_hour"]) * 0.0036
    assert wrong == pytest.approx(2 * d["effective_hour_cost"], rel=1e-5)  # $5.96 vs $2.98
