"""run_cost: every line hand-checked, on the rent and owned bases, in USD and CNY.

Money is stored in USD; CNY figures are checked as shown (`cost.display`).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from cost_testkit import make_summary

from bench.cost import CostAssumptions, load_assumptions, run_cost, with_overrides
from bench.errors import UserError
from bench.hardware import load_profile
from bench.records import CostLine, DisplayCurrency

SUMMARY = make_summary(input_tok_per_s=200.0, output_tok_per_s=100.0, request_per_s=2.0)


def _fig(value: float, reliability: str = "assumption") -> dict[str, object]:
    return {"value": value, "source": "test", "date": "2026", "reliability": reliability}


OWNED_PROFILE = {
    "sku": "test-owned",
    "name": "Test GPU for the reference owned-cost example",
    "vendor": "test",
    "kind": "gpu",
    "gpus_per_node": 8,
    "memory_gb": _fig(80),
    "memory_bandwidth_gbps": _fig(3350),
    "bf16_dense_tflops": _fig(989),
    "board_power_w": _fig(1000),
    "node_overhead_factor": _fig(1.3),
    "prices": {
        "default_rent_tier": "lease",
        "rent": [
            {
                "tier": "lease",
                "kind": "5-year",
                "provider": "test-broker",
                "cny_per_gpu_month": 8750,
                "includes_power": False,
                "source": "test broker",
                "date": "2024",
                "reliability": "secondary",
            },
        ],
        "owned": [
            {
                "tier": "modelled",
                "provider": "test-model",
                "usd_per_gpu_hour": 1.69,
                "source": "test",
                "date": "2026-04-03",
                "reliability": "verified",
            },
        ],
        "capex_usd_per_gpu": {**_fig(40000, "derived"), "kind": "all-in"},
    },
}


def _line(breakdown, name):  # type: ignore[no-untyped-def]
    return next(ln for ln in breakdown.lines if ln.name == name)


@pytest.fixture
def owned_profile(tmp_path: Path):  # type: ignore[no-untyped-def]
    path = tmp_path / "test-owned.yaml"
    path.write_text(yaml.safe_dump(OWNED_PROFILE))
    return load_profile("test-owned", tmp_path)


def test_cpu_local_rent_includes_power() -> None:
    profile = load_profile("cpu-local")
    cost = run_cost(profile, CostAssumptions(), summary=SUMMARY, gpus=1, measured_power_w=None)
    # $0.0816/host-hour; 100 out tok/s = 0.36 M/h; 300 total tok/s = 1.08 M/h
    assert cost.gpu_hour_cost_usd == pytest.approx(0.0816)
    assert cost.effective_gpu_hour_cost_usd == pytest.approx(0.0816)
    assert cost.cost_usd_per_m_output_tokens == pytest.approx(0.0816 / 0.36)
    assert cost.cost_usd_per_m_total_tokens == pytest.approx(0.0816 / 1.08)
    assert cost.throughput_window == "steady_state"
    assert _line(cost, "power cost").value == 0.0
    # power is only estimated (no meter) but does not enter a price included in the rent
    assert _line(cost, "average power per GPU").basis == "estimated"
    assert cost.estimated is False
    assert {ln.basis for ln in cost.lines} <= {"measured", "configured", "estimated", "derived"}
    assert all(ln.unit for ln in cost.lines)


def test_utilization_divides_and_gpus_share_throughput() -> None:
    profile = load_profile("cpu-local")
    a = CostAssumptions(utilization=0.5)
    cost = run_cost(profile, a, summary=SUMMARY, gpus=2, measured_power_w=None)
    # 0.0816 / 0.5 = 0.1632; per device 50 out tok/s = 0.18 M/h → 0.906667 $/M
    assert cost.effective_gpu_hour_cost_usd == pytest.approx(0.1632)
    assert cost.cost_usd_per_m_output_tokens == pytest.approx(0.1632 / 0.18)


def test_rent_without_power_adds_measured_power_in_cny(owned_profile) -> None:  # type: ignore[no-untyped-def]
    a = CostAssumptions(currency="CNY", fx_cny_per_usd=7.2, electricity_price_per_kwh=0.5)
    cost = run_cost(owned_profile, a, summary=SUMMARY, gpus=2, measured_power_w=1400.0)
    rent = 8750 / 730  # ¥11.9863/GPU-hour
    power = 0.7 * 1.3 * 1.2 * 0.5  # 700 W per GPU × overhead 1.3 × PUE 1.2 × ¥0.5 = ¥0.546
    shown = cost.display
    assert shown.line(_line(cost, "rent price")) == (pytest.approx(rent), "CNY/GPU-hour")
    assert _line(cost, "rent price").value == pytest.approx(rent / 7.2)  # stored in USD
    assert shown.line(_line(cost, "average power per GPU")) == (pytest.approx(700.0), "W")
    assert _line(cost, "average power per GPU").basis == "measured"
    assert shown.line(_line(cost, "power cost"))[0] == pytest.approx(power)
    assert shown.amount(cost.gpu_hour_cost_usd) == pytest.approx(rent + power)
    assert cost.gpu_hour_cost_usd == pytest.approx((rent + power) / 7.2)
    assert shown.currency == "CNY"
    assert shown.per_usd == pytest.approx(7.2)
    assert cost.estimated is False


def test_power_estimated_from_board_power_marks_breakdown(owned_profile) -> None:  # type: ignore[no-untyped-def]
    a = CostAssumptions(currency="CNY", fx_cny_per_usd=7.2)
    cost = run_cost(owned_profile, a, summary=SUMMARY, gpus=1, measured_power_w=None)
    # default electricity $0.08 → ¥0.576; 1000 W × 1.3 × 1.2 × 0.576 = ¥0.89856
    assert cost.display.line(_line(cost, "power cost"))[0] == pytest.approx(0.89856)
    assert _line(cost, "power cost").value == pytest.approx(0.1248)  # $, stored
    assert _line(cost, "power cost").basis == "estimated"
    assert cost.estimated is True


def test_owned_basis_reproduces_reference_example(owned_profile) -> None:  # type: ignore[no-untyped-def]
    a = CostAssumptions(basis="owned", pue=1.3, hosting_per_kw_month=184, utilization=0.7)
    cost = run_cost(owned_profile, a, summary=SUMMARY, gpus=1, measured_power_w=1000.0)
    assert _line(cost, "capital recovery factor").value == pytest.approx(0.3154708, rel=1e-6)
    assert _line(cost, "capital cost").value == pytest.approx(1.440506, rel=1e-5)
    assert _line(cost, "power cost").value == pytest.approx(0.1352)
    assert _line(cost, "hosting cost").value == pytest.approx(0.327671, rel=1e-5)
    assert _line(cost, "opex cost").value == pytest.approx(0.182648, rel=1e-5)
    assert cost.gpu_hour_cost_usd == pytest.approx(2.086025, rel=1e-5)
    assert cost.effective_gpu_hour_cost_usd == pytest.approx(2.980036, rel=1e-5)
    assert cost.cost_usd_per_m_total_tokens == pytest.approx(2.980036 / 1.08, rel=1e-5)


def test_owned_tier_price(owned_profile) -> None:  # type: ignore[no-untyped-def]
    a = CostAssumptions(basis="owned", price_tier="modelled")
    cost = run_cost(owned_profile, a, summary=SUMMARY, gpus=1, measured_power_w=None)
    assert cost.gpu_hour_cost_usd == pytest.approx(1.69)
    assert cost.estimated is False


def test_whole_run_window_used_without_steady_state() -> None:
    summary = make_summary(
        input_tok_per_s=50.0, output_tok_per_s=50.0, request_per_s=1.0, steady=False
    )
    cost = run_cost(
        load_profile("cpu-local"),
        CostAssumptions(),
        summary=summary,
        gpus=1,
        measured_power_w=None,
    )
    assert cost.throughput_window == "whole_run"
    assert cost.cost_usd_per_m_total_tokens == pytest.approx(0.0816 / 0.36)


def test_owned_without_capex_names_field() -> None:
    with pytest.raises(UserError) as err:
        run_cost(
            load_profile("cpu-local"),
            CostAssumptions(basis="owned"),
            summary=SUMMARY,
            gpus=1,
            measured_power_w=None,
        )
    assert err.value.field == "prices.capex_usd_per_gpu"
    assert "capex" in (err.value.fix or "")


def test_unknown_price_tier_lists_known() -> None:
    with pytest.raises(UserError) as err:
        run_cost(
            load_profile("cpu-local"),
            CostAssumptions(price_tier="nope"),
            summary=SUMMARY,
            gpus=1,
            measured_power_w=None,
        )
    assert err.value.field == "prices.rent"
    assert "aws-m7g-large-on-demand" in (err.value.fix or "")


def test_cny_tier_in_usd_report_needs_fx(owned_profile) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UserError) as err:
        run_cost(owned_profile, CostAssumptions(), summary=SUMMARY, gpus=1, measured_power_w=1.0)
    assert err.value.field == "fx_cny_per_usd"


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("utilization: 0\n", "utilization"),
        ("utilization: 1.2\n", "utilization"),
        ("currency: EUR\n", "currency"),
        ("currency: CNY\n", "fx_cny_per_usd"),
        ("rent_price_per_gpu_hour: -1.5\n", "rent_price_per_gpu_hour"),
        ("electricity_price_per_kwh: -0.1\n", "electricity_price_per_kwh"),
        ("pue: 0.9\n", "pue"),
        ("utilisation: 0.5\n", "utilisation"),
    ],
)
def test_bad_assumptions_file_names_file_and_field(tmp_path: Path, text: str, field: str) -> None:
    path = tmp_path / "cost.yaml"
    path.write_text(text)
    with pytest.raises(UserError) as err:
        load_assumptions(path)
    assert err.value.field == field
    assert err.value.file == str(path)


def test_assumptions_file_and_overrides(tmp_path: Path) -> None:
    path = tmp_path / "cost.yaml"
    path.write_text("currency: CNY\nfx_cny_per_usd: 7.2\nutilization: 0.6\n")
    a = load_assumptions(path)
    assert (a.currency, a.fx_cny_per_usd, a.utilization) == ("CNY", 7.2, 0.6)
    b = with_overrides(a, {"utilization": 0.8, "margin": None, "basis": "owned"})
    assert (b.utilization, b.margin, b.basis, b.currency) == (0.8, 0.0, "owned", "CNY")
    assert b.display.amount(2.0) == pytest.approx(14.4)
    assert b.to_usd(14.4) == pytest.approx(2.0)
    with pytest.raises(UserError) as err:
        with_overrides(a, {"utilization": 0.0})
    assert (err.value.file, err.value.field) == ("command line", "utilization")
    with pytest.raises(UserError) as err:
        with_overrides(CostAssumptions(), {"currency": "CNY"})
    assert err.value.field == "fx_cny_per_usd"


def test_gpus_must_be_positive() -> None:
    with pytest.raises(UserError):
        run_cost(
            load_profile("cpu-local"),
            CostAssumptions(),
            summary=SUMMARY,
            gpus=0,
            measured_power_w=None,
        )


def test_every_shipped_profile_prices_a_run_or_asks_for_a_price() -> None:
    from bench.hardware import list_profiles

    for profile in list_profiles():
        if not profile.prices.rent:
            with pytest.raises(UserError) as err:
                run_cost(profile, CostAssumptions(), summary=SUMMARY, gpus=1, measured_power_w=None)
            assert "--rent-price-per-gpu-hour" in (err.value.fix or "")
            own = CostAssumptions(rent_price_per_gpu_hour=2.0)
            cost = run_cost(profile, own, summary=SUMMARY, gpus=1, measured_power_w=None)
            assert cost.gpu_hour_cost_usd == pytest.approx(2.0)
            continue
        a = CostAssumptions(fx_cny_per_usd=7.2)  # some default tiers are priced in CNY
        cost = run_cost(profile, a, summary=SUMMARY, gpus=1, measured_power_w=None)
        assert cost.cost_usd_per_m_total_tokens is not None and cost.cost_usd_per_m_total_tokens > 0


def test_a800_default_tier_is_cny_per_hour_converted() -> None:
    profile = load_profile("a800")
    a = CostAssumptions(fx_cny_per_usd=7.2)
    cost = run_cost(profile, a, summary=SUMMARY, gpus=1, measured_power_w=None)
    assert cost.gpu_hour_cost_usd == pytest.approx(10.0 / 7.2)  # ¥10/GPU-hour at 7.2


def test_display_currency_converts_money_units_only() -> None:
    d = DisplayCurrency(currency="CNY", per_usd=8.0, fx_source="test")
    assert (d.amount(0.5), d.amount(None)) == (4.0, None)
    assert [d.unit(u) for u in ("USD/GPU-hour", "USD", "W", "USDC")] == [
        "CNY/GPU-hour",
        "CNY",
        "W",
        "USDC",
    ]
    line = CostLine(name="electricity price", value=0.1, unit="USD/kWh", basis="configured")
    assert d.line(line) == (0.8, "CNY/kWh")
    watts = CostLine(name="average power per GPU", value=700.0, unit="W", basis="measured")
    assert d.line(watts) == (700.0, "W")


def test_fx_rate_is_recorded_with_its_source_and_shown_in_summary() -> None:
    from cost_testkit import make_report

    from bench.report.summary import render_summary

    source = "PBoC central parity 2026-03-02"
    a = CostAssumptions(currency="CNY", fx_cny_per_usd=7.2, fx_source=source)
    cost = run_cost(load_profile("cpu-local"), a, summary=SUMMARY, gpus=1, measured_power_w=None)
    assert cost.display == DisplayCurrency(currency="CNY", per_usd=7.2, fx_source=source)
    assert cost.cost_usd_per_m_output_tokens == pytest.approx(0.0816 / 0.36)  # stored in USD
    text = render_summary(make_report(SUMMARY, run_id="r", cost=cost))
    # $0.0816/host-hour ÷ 0.36 M output tokens/h = $0.226667/M = ¥1.6320/M at 7.2
    assert "- per million output tokens: 1.6320 CNY" in text
    assert f"- computed in USD, shown at 7.2 CNY/USD ({source})" in text
    assert "| rent price | 0.58752 | CNY/host-hour | configured |" in text  # $0.0816 × 7.2
    unsourced = CostAssumptions(currency="CNY", fx_cny_per_usd=7.2).display
    assert unsourced.fx_source == "fx_cny_per_usd as given (no source stated)"
    assert CostAssumptions(fx_cny_per_usd=7.2).display == DisplayCurrency()  # USD: as stored
