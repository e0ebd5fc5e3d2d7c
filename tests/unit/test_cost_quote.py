"""bench quote on the fixture runs (tests/fixtures/runs): tiers, additive prices, revenue share.

Fixture h100-sxm: GPU-seconds per request = input/40000 + output·(0.006 + 0.00005·C)/C,
× a small fixed wobble (cost_testkit.WOBBLE). At C = 64, shape 1024/256:
(0.0256 + 0.0368) × 1.005 = 0.062712 GPU-s → 1280 / 0.062712 = 20,410.8 tok/s per GPU.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.cost import CostAssumptions
from bench.cost.market import given_price
from bench.cost.quote import make_quote
from bench.cost.runs import load_runs
from bench.cost.tiers import DEFAULT_TIERS, QuoteTier
from bench.errors import UserError
from bench.hardware import load_profile

RUNS = Path(__file__).resolve().parents[1] / "fixtures" / "runs"
H100 = RUNS / "h100-sxm"
C64_TOTAL = 1280 / ((1024 / 40_000 + 256 * (0.006 + 0.00005 * 64) / 64) * 1.005)


def _sweep(sku: str = "h100-sxm"):  # type: ignore[no-untyped-def]
    return load_runs([RUNS / sku / f"sweep-c{c}" for c in (1, 4, 16, 64)])


def _probes(repeats: tuple[str, ...] = ("",)):  # type: ignore[no-untyped-def]
    return load_runs([H100 / f"{p}{r}" for p in ("probe-prefill", "probe-decode") for r in repeats])


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
        holdouts=load_runs([H100 / "holdout-mixed"]),
        probe_repeats=1,
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
    (holdout,) = q.holdouts
    assert holdout.measured_usd_per_request == pytest.approx(0.2016 * 2.60 / 3600)
    assert abs(holdout.rel_error) < 0.05


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


def test_lessor_view_per_server_month() -> None:
    market = given_price(0.02, 0.04, None)
    a = CostAssumptions(utilization=0.5)
    q = make_quote(
        _sweep(), load_profile("h100-sxm"), a, tiers=DEFAULT_TIERS, market=market, share=0.5
    )
    v = _tier(q, "batch").lessor
    assert v is not None and v.inputs.gpus == 8
    hours = 730 * 8  # GPU-hours per 8-GPU server-month
    # 16,328.6 in × $0.02 + 4,082.2 out × $0.04 per M, × 3600 / 1e6 = $1.7635 per busy GPU-hour
    revenue = (C64_TOTAL * 0.8 * 0.02 + C64_TOTAL * 0.2 * 0.04) * 3600 / 1e6
    assert v.token_revenue_usd == pytest.approx(revenue * 0.5 * hours)
    assert v.rent_income_usd == pytest.approx(1.30 * hours)  # the contract price, power included
    # power while busy: 620 W × overhead 1.82 × PUE 1.2 × $0.08/kWh × 0.5 × 5,840 h
    power = 0.62 * 1.82 * 1.2 * 0.08
    assert v.power_usd == pytest.approx(power * 0.5 * hours)
    opex = 40_000 * 0.04 / 8760  # capex $40k × 4 % a year
    assert v.opex_usd == pytest.approx(opex * hours)
    assert v.share_net_usd == pytest.approx((0.5 * revenue * 0.5 - power * 0.5 - opex) * hours)
    assert v.rent_net_usd == pytest.approx((1.30 - opex - power * 0.5) * hours)
    # the lease includes power: the lessor pays it either way, so it cancels out
    assert v.breakeven_share == pytest.approx(1.30 / (revenue * 0.5))
    assert v.breakeven_utilization == pytest.approx(1.30 / (0.5 * revenue))


def test_lessor_rent_excludes_power_of_a_power_excluded_lease() -> None:
    # China broker lease: ¥8,750 per card-month, power not included, at 7.2 CNY/USD
    a = CostAssumptions(currency="CNY", fx_cny_per_usd=7.2, price_tier="china-broker-server-lease")
    q = make_quote(
        _sweep(),
        load_profile("h100-sxm"),
        a,
        tiers=DEFAULT_TIERS,
        market=given_price(0.02, 0.04, None),
        share=0.5,
    )
    v = _tier(q, "batch").lessor
    assert v is not None
    # ¥70,000 a server-month = $9,722.22 at 7.2 (stored in USD): no electricity inside
    assert v.rent_income_usd == pytest.approx(8750 * 8 / 7.2)
    assert q.display.amount(v.rent_income_usd) == pytest.approx(70_000)
    power = 0.62 * 1.82 * 1.2 * 0.08  # USD per busy GPU-hour
    revenue = (C64_TOTAL * 0.8 * 0.02 + C64_TOTAL * 0.2 * 0.04) * 3600 / 1e6
    # under a share the lessor now pays power too: break-even = (rent + P) / R
    assert v.breakeven_share == pytest.approx((8750 / 730 / 7.2 + power) / revenue)


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
            probe_repeats=1,
        )
    # a sweep plus probe runs as RUNS: the probes are not operating points
    with pytest.raises(UserError) as err:
        make_quote(
            [*_sweep(), *_probes()],
            load_profile("h100-sxm"),
            CostAssumptions(),
            tiers=DEFAULT_TIERS,
        )
    assert err.value.field == "RUNS" and "3 workloads" in err.value.message
    assert "4096/32 (completions): " in err.value.message and "probe-prefill" in err.value.message


def test_missing_run_dir_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError) as err:
        load_runs([tmp_path / "nope"])
    assert "report.json" in err.value.message


def test_screenshot_scenario_uses_measured_vision_device_seconds(tmp_path: Path) -> None:
    from bench.report.io import load_report
    from bench.workloads.records import (
        LengthCheck,
        VisionSummary,
        WorkloadInfo,
        WorkloadOutcome,
        WorkloadSection,
    )
    from bench.workloads.spec import ImageWorkload

    spec = ImageWorkload.model_validate(
        {
            "description": "screens",
            "prompt": {"kind": "fixed", "tokens": 60},
            "output": {"kind": "fixed", "tokens": 100},
            "resolutions": [[1920, 1080], [3840, 2160]],
        }
    )
    vision = VisionSummary(
        requests=10, images=10, video_s=0.0, text_input_tokens=600, vision_input_tokens=12_000,
        vision_tokens_per_image=1200.0, vision_tokens_per_video_s=None, window_s=100.0, gpus=1,
        prefill_gpu_s=6.0, vision_gpu_s=5.0, gpu_s_per_image=0.5, gpu_s_per_video_s=None,
    )  # fmt: skip
    section = WorkloadSection(
        info=WorkloadInfo(
            name="image",
            kind="image",
            description="screens",
            seed=1,
            scale=1.0,
            requests=10,
            spec=spec,
        ),  # fmt: skip
        outcome=WorkloadOutcome(
            input_lengths=LengthCheck(
                checked=0, exact=0, within_one=0, max_abs_error_tokens=0, mean_abs_error_tokens=None
            ),  # fmt: skip
            vision=vision,
        ),
    )
    dirs = []
    for c in (1, 4, 16, 64):
        report = load_report(H100 / f"sweep-c{c}").model_copy(update={"workload": section})
        (tmp_path / f"c{c}").mkdir()
        (tmp_path / f"c{c}" / "report.json").write_text(report.model_dump_json())
        dirs.append(tmp_path / f"c{c}")
    q = make_quote(
        load_runs(dirs), load_profile("h100-sxm"), CostAssumptions(margin=0.3), tiers=DEFAULT_TIERS
    )
    shot = next(s for s in _tier(q, "batch").scenarios if s.scenario == "4K screenshot")
    # 0.5 device-seconds per image at $1.30 per GPU-hour, × 1.3 margin
    assert shot.price_usd == pytest.approx(0.5 * 1.30 / 3600 * 1.3)
    assert shot.basis.startswith("measured vision device-seconds")
    assert "mix of 1920x1080, 3840x2160" in (shot.note or "")
    clip = next(s for s in _tier(q, "batch").scenarios if s.scenario == "5-second clip")
    assert clip.price_usd is None and "not measured" in (clip.note or "")
