"""docs/cost-model.md's worked examples: every number recomputed from the code.

Blocks: `worked-example` (owned cost, additive prices), `bases-example` (like-for-like
prices on the fixture runs), `projection-example` (bounded projection of H20 from H100),
`lessor-example` (one server-month under rent and under a revenue share).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bench.cost import formulas as f
from bench.cost.additive import AdditiveFit, prices_from_fit, scale_to_point

DOC = Path(__file__).resolve().parents[2] / "docs" / "cost-model.md"


RUNS = Path(__file__).resolve().parents[1] / "fixtures" / "runs"


def _documented(name: str = "worked-example") -> dict[str, float]:
    block = re.search(rf"```{name}\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert block, f"docs/cost-model.md lost its {name} block"
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


def _check(name: str, computed: dict[str, float], rel: float = 5e-6) -> None:
    documented = _documented(name)
    assert documented.keys() == computed.keys()
    for key, value in documented.items():
        assert computed[key] == pytest.approx(value, rel=rel), key


def test_bases_example_matches_compare_on_the_fixture_runs() -> None:
    from bench.cost import CostAssumptions
    from bench.cost.compare import make_comparison
    from bench.cost.runs import load_runs
    from bench.cost.tiers import DEFAULT_TIERS

    runs = load_runs([RUNS / s / "sweep-c64" for s in ("h100-sxm", "l40s")])
    tiers = [t for t in DEFAULT_TIERS if t.name == "batch"]
    like = make_comparison(runs, CostAssumptions(price_tier="on-demand"), tiers=tiers)
    mixed = make_comparison(runs, CostAssumptions(), tiers=tiers, allow_mixed_basis=True)
    h100, l40s = (next(r for r in like.rows if r.sku == s) for s in ("h100-sxm", "l40s"))
    h100_3yr = next(r for r in mixed.rows if r.sku == "h100-sxm")
    assert (h100.price, l40s.price, h100_3yr.price) == (
        "runpod-secure",
        "runpod-secure",
        "semianalysis-3yr-rental",
    )
    _check(
        "bases-example",
        {
            "h100_tok_per_s_per_gpu": h100.total_tok_per_s_per_gpu,
            "l40s_tok_per_s_per_gpu": l40s.total_tok_per_s_per_gpu,
            "h100_on_demand_per_m": h100.usd_per_m_total,
            "l40s_on_demand_per_m": l40s.usd_per_m_total,
            "like_for_like_saving": 1 - h100.usd_per_m_total / l40s.usd_per_m_total,
            "h100_3yr_per_m": h100_3yr.usd_per_m_total,
            "mixed_basis_saving": 1 - h100_3yr.usd_per_m_total / l40s.usd_per_m_total,
        },  # type: ignore[dict-item, operator]
    )


def test_projection_example_matches_the_projection_code() -> None:
    from bench.catalog import load_catalog
    from bench.cost.projection import decode_roofline, model_facts, prefill_roofline, project
    from bench.cost.quote import curve_points
    from bench.cost.runs import load_runs
    from bench.hardware import load_profile

    h100, h20 = load_profile("h100-sxm"), load_profile("h20")
    entry = load_catalog()[0].find("llama-3.1-8b")
    assert entry is not None
    facts = model_facts(entry, [], h100)
    point = curve_points(load_runs([RUNS / "h100-sxm" / "sweep-c64"]))
    proj = project(point, facts, h100, h20)
    (scale,) = proj.points
    kv = facts.kv_bytes_per_token or 0.0
    curves = {e: proj.curves[e][0] for e in ("low", "mid", "high")}
    _check(
        "projection-example",
        {
            "h100_input_tok_per_s": point[0].input_tok_per_s_per_gpu,
            "h100_output_tok_per_s": point[0].output_tok_per_s_per_gpu,
            "h100_prefill_roofline": prefill_roofline(989, facts.active_params),
            "h20_prefill_roofline": prefill_roofline(148, facts.active_params),
            "h100_decode_roofline": decode_roofline(3350, facts.weight_bytes, kv, 64, 1152),
            "h20_decode_roofline": decode_roofline(4000, facts.weight_bytes, kv, 64, 1152),
            "phi_prefill": scale.phi_prefill,
            "phi_decode": scale.phi_decode,
            "compute_ratio": proj.compute_ratio,
            "bandwidth_ratio": proj.bandwidth_ratio,
            "scale_low": scale.low,
            "scale_mid": scale.mid,
            "scale_high": scale.high,
            "h20_total_low": curves["low"].total_tok_per_s_per_gpu,
            "h20_total_mid": curves["mid"].total_tok_per_s_per_gpu,
            "h20_total_high": curves["high"].total_tok_per_s_per_gpu,
            "h20_input_high": curves["high"].input_tok_per_s_per_gpu,
            "bandwidth_only": point[0].total_tok_per_s_per_gpu * proj.bandwidth_ratio,
        },
    )
    assert curves["high"].input_tok_per_s_per_gpu <= prefill_roofline(148, facts.active_params)


def test_lessor_example_matches_the_lessor_code() -> None:
    from bench.cost.lessor import LessorInputs, lessor_view

    # stored in USD, shown in CNY at 7.2 as the example is written
    fx = 7.2
    rent = f.monthly_to_hourly(70_000 / 8) / fx
    power = f.power_cost_per_hour(620, 1.82, 1.2, 0.08)
    opex = f.opex_cost_per_hour(40_000, 0.04)
    v = lessor_view(
        LessorInputs(
            gpus=8,
            utilization=0.7,
            rent_usd_per_gpu_hour=rent,
            rent_includes_power=False,
            power_usd_per_busy_gpu_hour=power,
            opex_usd_per_gpu_hour=opex,
            revenue_usd_per_busy_gpu_hour=40.0 / fx,
            share=0.3,
        )
    )
    _check(
        "lessor-example",
        {
            "rent_per_gpu_hour": rent * fx,
            "power_per_busy_gpu_hour": power * fx,
            "opex_per_gpu_hour": opex * fx,
            "rent_income": v.rent_income_usd * fx,
            "power": v.power_usd * fx,
            "opex": (v.opex_usd or 0.0) * fx,
            "token_revenue": v.token_revenue_usd * fx,
            "share_income": (v.share_income_usd or 0.0) * fx,
            "share_net": (v.share_net_usd or 0.0) * fx,
            "rent_net": v.rent_net_usd * fx,
            "breakeven_share": v.breakeven_share,
            "rent_over_revenue": rent / (40.0 / fx * 0.7),
            "breakeven_utilization": v.breakeven_utilization,
        },  # type: ignore[dict-item]
    )
