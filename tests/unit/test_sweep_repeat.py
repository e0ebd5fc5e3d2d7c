"""Mean, Student-t confidence interval and spread flag over repeats of a point."""

from __future__ import annotations

import math

import pytest

from bench.records import Distribution
from bench.sweep.curve import CurvePoint
from bench.sweep.repeat import mean_ci, summarize_repeats, t_cdf, t_quantile


def test_t_quantile_matches_closed_forms_and_tables():
    # df = 1 is Cauchy: t = tan(π(p − ½)); df = 2: t = (2p − 1)·√(2 / (4p(1 − p)))
    assert t_quantile(0.975, 1) == pytest.approx(math.tan(math.pi * 0.475), rel=1e-9)
    assert t_quantile(0.975, 2) == pytest.approx(0.95 * math.sqrt(2 / (4 * 0.975 * 0.025)))
    # printed tables: t_{0.975,4} = 2.776, t_{0.975,9} = 2.262, t_{0.95,3} = 2.353
    assert t_quantile(0.975, 4) == pytest.approx(2.7764, abs=1e-4)
    assert t_quantile(0.975, 9) == pytest.approx(2.2622, abs=1e-4)
    assert t_quantile(0.95, 3) == pytest.approx(2.3534, abs=1e-4)
    assert t_quantile(0.025, 4) == pytest.approx(-2.7764, abs=1e-4)
    assert t_cdf(0.0, 7) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        t_quantile(1.0, 3)


def test_mean_ci_by_hand():
    # 10, 12, 14: mean 12, s = 2, half = t_{0.975,2}·2/√3 = 4.3027·1.1547 = 4.9683
    ci = mean_ci([10, 12, 14])
    assert (ci.n, ci.mean, ci.stdev) == (3, 12.0, 2.0)
    assert ci.cv == pytest.approx(1 / 6)
    assert ci.half_width == pytest.approx(4.9683, abs=1e-4)
    assert (ci.low, ci.high) == pytest.approx((12 - 4.9683, 12 + 4.9683), abs=1e-4)


def test_mean_ci_single_value_has_no_interval():
    ci = mean_ci([7.5])
    assert ci.mean == 7.5 and ci.stdev is None and ci.half_width is None and ci.cv is None
    with pytest.raises(ValueError):
        mean_ci([])


def rep(total: float, tpot: float, run_dir: str, load: float = 8) -> CurvePoint:
    def d(v: float) -> Distribution:
        return Distribution(count=10, mean=v, p50=v, p90=2 * v)

    return CurvePoint(
        load_kind="concurrency",
        load=load,
        gpus=2,
        run_dir=run_dir,
        throughput_window="steady_state",
        total_tok_per_s_per_gpu=total,
        input_tok_per_s_per_gpu=total / 4,
        output_tok_per_s_per_gpu=total * 3 / 4,
        request_per_s=1.0,
        interactivity_tok_per_s=1 / tpot,
        ttft_s=d(0.1),
        tpot_s=d(tpot),
        e2e_s=d(1.0),
        requests_ok=10,
        requests_failed=0,
        error_rate=0.0,
    )


def test_summarize_repeats_flags_spread_above_threshold():
    # throughput 100, 110, 120: cv = 10/110 = 0.0909 > 0.05; TPOT 0.05 each: cv 0
    r = summarize_repeats([rep(100, 0.05, "a"), rep(110, 0.05, "b"), rep(120, 0.05, "c")])
    assert r.repeats == 3 and r.run_dirs == ["a", "b", "c"]
    assert r.total_tok_per_s_per_gpu.mean == 110
    assert r.total_tok_per_s_per_gpu.cv == pytest.approx(10 / 110)
    assert r.total_tok_per_s_per_gpu.half_width == pytest.approx(4.302653 * 10 / math.sqrt(3))
    assert r.interactivity_tok_per_s.cv == 0.0
    assert r.unstable == [
        "total_tok_per_s_per_gpu",
        "input_tok_per_s_per_gpu",
        "output_tok_per_s_per_gpu",
    ]
    assert r.flagged
    assert r.mean_point.total_tok_per_s_per_gpu == 110 and r.mean_point.run_dir is None
    assert r.mean_point.tpot_s.p90 == pytest.approx(0.1) and r.mean_point.tpot_s.count == 30


def test_summarize_repeats_stable_point_not_flagged():
    r = summarize_repeats([rep(100, 0.05, "a"), rep(102, 0.05, "b")], cv_threshold=0.05)
    assert not r.flagged and r.unstable == []
    assert r.mean_point.interactivity_tok_per_s == pytest.approx(20.0)


def test_summarize_repeats_rejects_mixed_loads():
    with pytest.raises(ValueError, match="share"):
        summarize_repeats([rep(100, 0.05, "a"), rep(100, 0.05, "b", load=16)])
