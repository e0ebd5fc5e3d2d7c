"""bench quote on the fixture runs (tests/fixtures/runs): tiers, additive prices, revenue share.

Fixture h100-sxm: GPU-seconds per request = input/40000 + output·(0.006 + 0.00005·C)/C,
× a small fixed wobble (cost_testkit.WOBBLE). At C = 64, shape 1024/256:
(0.0256 + 0.0368) × 1.005 = 0.062712 GPU-s → 1280 / 0.062712 = 20,410.8 tok/s per GPU.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.cost import CostAssumptions
from bench.cost.quote import MarketPrices, make_quote
from bench.cost.runs import load_runs
from bench.cost.tiers import DEFAULT_TIERS, QuoteTier
from bench.errors import UserError
from bench.hardware import load_profile

RUNS = Path(__file__).resolve().parents[1] / "fixtures" / "runs"
H100 = RUNS / "h100-sxm"
C64_TOTAL = 1280 / ((1024 / 40_000 + 256 * (0.006 + 0.00005 * 64) / 64) * 1.005)


def _sweep(sku: str = "h100-sxm"):  # type: ignore[no-untyped-def]
    return load_runs([RUNS / sku / f"sweep-c{c}" for c in (1, 4, 16, 64)])


def _probes():  # type: ignore[no-untyped-def]
    return load_runs([H100 / "probe-prefill", H100 / "probe-decode"])


def _tier(quote, name):  # type: ignore[no-untyped-def]
    return next(t for t in quote.tiers if t.point.tier == name)


def test_batch_tier_is_the_highest_throughput_point() -> None:
    q = make_quote(_sweep(), load_profile("h100-sxm"), CostAssumptions(), tiers=DEFAULT_TIERS)
    batch = _tier(q, "batch")
    assert batch.point.status == "measured"
    assert batch.point.total_tok_per_s_per_gpu == pytest.approx(C64_TOTAL)
    # $1.30/GPU-hour (SemiAnalysis 3-year rental) / (20,410.8 × 3600 / 1e6) = $0.017692/M
    assert batch.cost_usd_per_m_total == pytest.approx(1.30 / (C64_TOTAL * 3600 / 1e6))
    assert batch.cost_usd_per_m_total == pytest.approx(0.017692, rel=1e-4)
    assert batch.cost_usd_per_m_input is None  # no probes: no additive split
    assert any("--probe" in n for n in q.notes)


def test_additive_prices_add_up_at_each_tier_and_margin_applies() -> None:
    tiers = [*DEFAULT_TIERS, QuoteTier(name="fast", min_interactivity_tok_per_s=140, stat="p50")]
    q = make_quote(
        _sweep(),
        load_profile("h100-sxm"),
        CostAssumptions(margin=0.3, utilization=0.5),
        tiers=tiers,
        probes=_probes(),
        holdout=load_runs([H100 / "holdout-mixed"])[0],
    )
    assert q.effective_gpu_hour_cost_usd == pytest.approx(2.60)  # 1.30 / 0.5
    for t in q.tiers:
        p = t.point
        assert p.input_tok_per_s_per_gpu is not None and p.output_tok_per_s_per_gpu is not None
        per_hour = (
            (
                p.input_tok_per_s_per_gpu * t.cost_usd_per_m_input
                + p.output_tok_per_s_per_gpu * t.cost_usd_per_m_output
            )
            * 3600
            / 1e6
        )
        assert per_hour == pytest.approx(2.60), p.tier  # additive: the whole effective hour
        assert t.price_usd_per_m_output == pytest.approx(t.cost_usd_per_m_output * 1.3)
        assert t.price_usd_per_m_total == pytest.approx(t.cost_usd_per_m_total * 1.3)
        assert t.cost_usd_per_m_output > 10 * t.cost_usd_per_m_input  # decode costs more per token
    # the fit: two probes, two unknowns → exact; GPU-s per input token near 1/40000
    assert q.fit is not None and q.fit.max_abs_rel_error < 1e-9
    assert q.fit.gpu_s_per_input_token == pytest.approx(2.5e-5, rel=0.05)
    # held-out 1536/384 at C=16: measured 0.2016 GPU-s × $2.60/3600 = $1.456e-4 per request
    assert q.holdout is not None
    assert q.holdout.measured_cost_usd_per_request == pytest.approx(0.2016 * 2.60 / 3600)
    assert abs(q.holdout.rel_error) < 0.05


def test_tier_between_points_is_interpolated_never_extrapolated() -> None:
    tiers = [
        QuoteTier(name="fast", min_interactivity_tok_per_s=140, stat="p50"),
        QuoteTier(name="impossible", min_interactivity_tok_per_s=500, stat="p50"),
    ]
    q = make_quote(_sweep(), load_profile("h100-sxm"), CostAssumptions(), tiers=tiers)
    fast, impossible = _tier(q, "fast"), _tier(q, "impossible")
    # 140 tok/s/user lies between C=16 (1/0.0068 = 147.1) and C=64 (1/0.0092 = 108.7)
    assert fast.point.status == "interpolated"
    c16 = 1280 / ((1024 / 40_000 + 256 * 0.0068 / 16) * 0.99)
    assert c16 < fast.point.total_tok_per_s_per_gpu < C64_TOTAL
    assert fast.point.interactivity_tok_per_s == pytest.approx(140)
    assert len(fast.point.run_dirs) == 2
    # faster than the lightest load (C=1: 1/0.00605 = 165 tok/s/user) is not reached
    assert impossible.point.status == "not_reached"
    assert impossible.cost_usd_per_m_total is None and impossible.price_usd_per_m_total is None


def test_ttft_bound_drops_points() -> None:
    # l40s TTFT p99 = 1024/12000 × (1 + C/8) × 2: C=4 → 0.256 s, C=16 → 0.512 s
    q = make_quote(
        _sweep("l40s"),
        load_profile("l40s"),
        CostAssumptions(),
        tiers=[QuoteTier(name="snappy", max_ttft_s=0.5)],
    )
    snappy = _tier(q, "snappy")
    assert snappy.point.status == "measured"
    assert snappy.point.run_dirs[0].endswith("sweep-c4")


def test_revenue_share_against_rent() -> None:
    market = MarketPrices(per_m_input=0.02, per_m_output=0.04, share=0.5)
    q = make_quote(
        _sweep(), load_profile("h100-sxm"), CostAssumptions(), tiers=DEFAULT_TIERS, market=market
    )
    r = _tier(q, "batch").revenue
    assert r is not None
    # 16,328.6 in × $0.02 + 4,082.2 out × $0.04 per M, × 3600 / 1e6 = $1.7635 per GPU-hour
    expected = (C64_TOTAL * 0.8 * 0.02 + C64_TOTAL * 0.2 * 0.04) * 3600 / 1e6
    assert r.revenue_usd_per_gpu_hour == pytest.approx(expected)
    assert r.share_income_usd_per_gpu_hour == pytest.approx(expected / 2)
    assert r.rent_usd_per_gpu_hour == pytest.approx(1.30)
    assert r.breakeven_share == pytest.approx(1.30 / expected)


def test_cny_quote_converts_prices() -> None:
    a = CostAssumptions(currency="CNY", fx_cny_per_usd=7.2)
    q = make_quote(_sweep(), load_profile("h100-sxm"), a, tiers=DEFAULT_TIERS)
    assert q.display.currency == "CNY"
    batch = _tier(q, "batch").cost_usd_per_m_total
    assert q.display.amount(batch) == pytest.approx(1.30 * 7.2 / (C64_TOTAL * 3600 / 1e6))
    assert batch == pytest.approx(1.30 / (C64_TOTAL * 3600 / 1e6))  # stored in USD


def test_quote_refuses_mixed_or_mismatched_runs() -> None:
    mixed = [*_sweep(), *_sweep("l40s")]
    with pytest.raises(UserError) as err:
        make_quote(mixed, load_profile("h100-sxm"), CostAssumptions(), tiers=DEFAULT_TIERS)
    assert err.value.field == "RUNS"
    with pytest.raises(UserError) as err:
        make_quote(_sweep(), load_profile("l40s"), CostAssumptions(), tiers=DEFAULT_TIERS)
    assert err.value.field == "--hardware"
    same_shape = load_runs([H100 / "sweep-c16", H100 / "sweep-c64"])
    with pytest.raises(UserError):  # same input/output ratio: no split identifiable
        make_quote(
            _sweep(),
            load_profile("h100-sxm"),
            CostAssumptions(),
            tiers=DEFAULT_TIERS,
            probes=same_shape,
        )


def test_missing_run_dir_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError) as err:
        load_runs([tmp_path / "nope"])
    assert "report.json" in err.value.message
