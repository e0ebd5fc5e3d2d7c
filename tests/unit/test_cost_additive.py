"""Additive token prices: the fit recovers known true GPU-seconds per token, prices add up."""

from __future__ import annotations

import numpy as np
import pytest
from cost_testkit import make_report, make_summary

from bench.cost.additive import (
    FitSample,
    check_holdout,
    fit_additive,
    nnls_small,
    prices_from_fit,
    sample_from_run,
    scale_to_point,
    vision_tokens,
)
from bench.errors import UserError
from bench.records import RequestRecord

# true GPU-seconds per token: input 1e-4, output 2e-3, cached 1e-5
TRUE = (1e-4, 2e-3, 1e-5)


def _sample(run_id: str, inp: float, out: float, cached: float = 0.0, noise: float = 0.0):  # type: ignore[no-untyped-def]
    gpu_s = (TRUE[0] * inp + TRUE[1] * out + TRUE[2] * cached) * (1 + noise)
    return FitSample(
        run_id=run_id,
        gpus=1,
        gpu_s_per_request=gpu_s,
        input_tokens=inp,
        cached_input_tokens=cached,
        output_tokens=out,
    )


def test_nnls_small_clamps_a_negative_coefficient() -> None:
    a = np.array([[1.0, 0.0], [1.0, 1.0], [1.0, 2.0]])
    y = np.array([2.0, 1.5, 1.0])  # unconstrained slope is −0.5 → clamp to 0, x1 = mean(y)
    x = nnls_small(a, y)
    assert x == pytest.approx([1.5, 0.0])


def test_fit_recovers_true_prices_exactly() -> None:
    samples = [
        _sample("prefill", 2048, 16),
        _sample("decode", 64, 512),
        _sample("balanced", 512, 128),
        _sample("cached", 256, 64, cached=1792),
    ]
    fit = fit_additive(samples)
    assert fit.gpu_s_per_input_token == pytest.approx(TRUE[0], rel=1e-9)
    assert fit.gpu_s_per_output_token == pytest.approx(TRUE[1], rel=1e-9)
    assert fit.gpu_s_per_cached_input_token == pytest.approx(TRUE[2], rel=1e-9)
    assert fit.max_abs_rel_error < 1e-9
    # $2 per effective GPU-hour = $0.000555… per GPU-second
    prices = prices_from_fit(fit, 2.0)
    assert prices.usd_per_m_input == pytest.approx(1e-4 * 2 / 3600 * 1e6)  # $0.05556/M
    assert prices.usd_per_m_output == pytest.approx(2e-3 * 2 / 3600 * 1e6)  # $1.1111/M
    assert prices.usd_per_m_cached_input == pytest.approx(1e-5 * 2 / 3600 * 1e6)  # $0.005556/M
    mixed = _sample("mixed", 700, 300, cached=300)
    check = check_holdout(prices, mixed)
    # measured: (0.07 + 0.6 + 0.003) GPU-s × $2/3600 = $0.00037389 per request
    assert check.measured_cost_usd_per_request == pytest.approx(0.673 * 2 / 3600)
    assert check.rel_error == pytest.approx(0.0, abs=1e-9)


def test_fit_with_noise_stays_close_and_reports_error() -> None:
    samples = [
        _sample("a", 2048, 16, noise=0.02),
        _sample("b", 64, 512, noise=-0.02),
        _sample("c", 512, 128, noise=0.01),
        _sample("d", 1024, 256, noise=-0.01),
    ]
    fit = fit_additive(samples)
    assert fit.gpu_s_per_cached_input_token is None
    assert fit.gpu_s_per_input_token == pytest.approx(TRUE[0], rel=0.1)
    assert fit.gpu_s_per_output_token == pytest.approx(TRUE[1], rel=0.05)
    assert 0.005 < fit.rms_rel_error < 0.03
    assert fit.max_abs_rel_error < 0.04
    held_out = check_holdout(prices_from_fit(fit, 2.0), _sample("mixed", 300, 200))
    assert abs(held_out.rel_error) < 0.05


def test_whole_hour_to_each_token_kind_is_not_additive() -> None:
    # the mistake: $/M in = cost / input rate and $/M out = cost / output rate each use the
    # whole hour, so a run's tokens priced that way cost twice what the hour costs (or more)
    s = _sample("run", 1000, 250)
    hour_cost = 2.0
    rate = 1 / s.gpu_s_per_request  # requests per GPU-second
    per_m_in_wrong = hour_cost / (s.input_tokens * rate * 3600 / 1e6)
    per_m_out_wrong = hour_cost / (s.output_tokens * rate * 3600 / 1e6)
    wrong = (s.input_tokens * per_m_in_wrong + s.output_tokens * per_m_out_wrong) / 1e6
    measured = hour_cost * s.gpu_s_per_request / 3600
    assert wrong == pytest.approx(2 * measured)
    fit = fit_additive([s, _sample("decode", 64, 512)])
    right = check_holdout(prices_from_fit(fit, hour_cost), s)
    assert right.additive_cost_usd_per_request == pytest.approx(measured)


def test_scale_to_operating_point_keeps_prices_additive() -> None:
    fit = fit_additive([_sample("p", 2048, 16), _sample("d", 64, 512)])
    # at the operating point one GPU serves 4000 input + 1000 output tok/s: the fit says
    # that takes 0.4 + 2.0 = 2.4 GPU-s per second, so prices scale by 1/2.4
    scale = scale_to_point(fit, 4000, 1000)
    assert scale == pytest.approx(1 / 2.4)
    prices = prices_from_fit(fit, 3.6, scale)
    revenue_per_hour = (4000 * prices.usd_per_m_input + 1000 * prices.usd_per_m_output) * 3600 / 1e6
    assert revenue_per_hour == pytest.approx(3.6)


def test_fit_rejects_too_few_or_collinear_runs() -> None:
    with pytest.raises(UserError):
        fit_additive([_sample("a", 100, 100)])
    with pytest.raises(UserError) as err:
        fit_additive([_sample("a", 100, 50), _sample("b", 200, 100)])
    assert "input/output ratios" in (err.value.fix or "")


def _req(i: int, inp: int, cached: int, **kw: object) -> RequestRecord:
    return RequestRecord(
        request_id=f"r{i}",
        index=i,
        status="ok",
        sent_ns=0,
        done_ns=1,
        input_tokens=inp,
        cached_input_tokens=cached,
        output_tokens=10,
        **kw,
    )  # type: ignore[arg-type]


def test_sample_from_run_uses_window_and_cached_share() -> None:
    summary = make_summary(input_tok_per_s=1000.0, output_tok_per_s=200.0, request_per_s=2.0)
    report = make_report(summary, run_id="r")
    requests = [_req(0, 500, 250), _req(1, 500, 0), _req(2, 500, 0), _req(3, 500, 250)]
    s = sample_from_run(report, requests, gpus=2)
    assert s.gpu_s_per_request == pytest.approx(1.0)  # 2 GPUs / 2 req/s
    assert s.cached_input_tokens == pytest.approx(125.0)  # 500 × 25 %
    assert s.input_tokens == pytest.approx(375.0)
    assert s.output_tokens == pytest.approx(100.0)


def test_vision_tokens_per_image_and_video_second() -> None:
    requests = [
        _req(0, 700, 0, text_input_tokens=100, images=2),  # 300 per image
        _req(1, 400, 0, text_input_tokens=100, images=1),  # 300 per image
        _req(2, 1100, 0, text_input_tokens=100, video_s=4.0),  # 250 per video-second
        _req(3, 900, 0, text_input_tokens=100, images=1, video_s=1.0),  # mixed: skipped
    ]
    assert vision_tokens(requests) == (pytest.approx(300.0), pytest.approx(250.0))
    assert vision_tokens([_req(0, 100, 0)]) == (None, None)
