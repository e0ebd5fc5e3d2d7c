"""SLO bounds and the log margin a point has against them."""

from __future__ import annotations

import math

import pytest

from bench.config.loading import validate_data
from bench.errors import UserError
from bench.records import Distribution
from bench.sweep.curve import CurvePoint
from bench.sweep.slo import SLOBound, SweepSLO, parse_bound, slo_margin


def make(ttft_p90: float, tpot_p90: float | None, error_rate: float = 0.0) -> CurvePoint:
    def d(v: float | None) -> Distribution:
        return Distribution(count=5, p50=v, p90=v)

    return CurvePoint(
        load_kind="concurrency",
        load=4,
        gpus=1,
        throughput_window="steady_state",
        total_tok_per_s_per_gpu=100,
        input_tok_per_s_per_gpu=10,
        output_tok_per_s_per_gpu=90,
        request_per_s=1,
        interactivity_tok_per_s=None if tpot_p90 is None else 1 / tpot_p90,
        ttft_s=d(ttft_p90),
        tpot_s=d(tpot_p90),
        e2e_s=d(1.0),
        requests_ok=100,
        requests_failed=0,
        error_rate=error_rate,
    )


SLO = SweepSLO(
    bounds=[
        SLOBound(metric="ttft_s", stat="p90", limit=2.0),
        SLOBound(metric="interactivity_tok_per_s", stat="p90", limit=20.0),
    ],
    max_error_rate=0.01,
)


def test_margin_is_the_smallest_log_ratio():
    # ttft: ln(2 / 1.6) = 0.223; interactivity 1/0.025 = 40: ln(40 / 20) = 0.693 -> ttft limits
    m = slo_margin(SLO, make(ttft_p90=1.6, tpot_p90=0.025))
    assert m.margin == pytest.approx(math.log(2 / 1.6))
    assert m.limiting == "ttft_s.p90<=2" and m.meets


def test_interactivity_bound_fails_when_tpot_too_long():
    m = slo_margin(SLO, make(ttft_p90=0.5, tpot_p90=0.1))  # 10 tok/s < 20
    assert m.margin == pytest.approx(math.log(10 / 20))
    assert m.limiting == "interactivity_tok_per_s.p90>=20" and not m.meets


def test_error_rate_above_limit_fails_even_inside_latency():
    m = slo_margin(SLO, make(ttft_p90=0.5, tpot_p90=0.01, error_rate=0.05))
    assert m.margin > 0 and not m.meets and m.limiting == "error_rate<=0.01"


def test_unmeasured_statistic_gives_no_margin():
    m = slo_margin(SLO, make(ttft_p90=0.5, tpot_p90=None))
    assert m.margin is None and not m.meets and "not measured" in m.limiting


def test_parse_bound_and_config_validation():
    b = parse_bound("e2e_s:p99:12.5")
    assert (b.metric, b.stat, b.limit) == ("e2e_s", "p99", 12.5)
    for bad in ("e2e_s:p99", "latency:p99:1", "e2e_s:p42:1", "e2e_s:p99:-1", "e2e_s:p99:x"):
        with pytest.raises(UserError):
            parse_bound(bad)
    with pytest.raises(UserError, match="bounds"):
        validate_data(SweepSLO, {"bounds": []}, "sweep.yaml")
    with pytest.raises(UserError, match=r"bounds\.0\.limit"):
        validate_data(SweepSLO, {"bounds": [{"metric": "ttft_s", "limit": 0}]}, "sweep.yaml")
