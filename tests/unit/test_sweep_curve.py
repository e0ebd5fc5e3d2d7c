"""Curve points, Pareto front, monotone interpolation and the operating point, pinned by hand."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.catalog import gpus_from_engine_args
from bench.config.run import ConcurrencyLoad, RateLoad, RunConfig, ShapeWorkload
from bench.errors import UserError
from bench.records import Distribution, Provenance, RunSummary, Throughput
from bench.report.records import Report
from bench.sweep.curve import (
    CurvePoint,
    operating_point,
    pareto_front,
    point_from_report,
)
from bench.sweep.monotone import pchip, pchip_slopes
from bench.sweep.slo import SLOBound, SweepSLO


def dist(p50: float, p90: float | None = None) -> Distribution:
    return Distribution(count=10, mean=p50, p50=p50, p90=p90 if p90 is not None else p50)


def point(load: float, tpot_s: float, total: float, input_share: float = 0.1) -> CurvePoint:
    """A point whose input/output split is `input_share` of total, TTFT = E2E = 2·TPOT."""
    return CurvePoint(
        load_kind="concurrency",
        load=load,
        gpus=1,
        throughput_window="steady_state",
        total_tok_per_s_per_gpu=total,
        input_tok_per_s_per_gpu=total * input_share,
        output_tok_per_s_per_gpu=total * (1 - input_share),
        request_per_s=1.0,
        interactivity_tok_per_s=1.0 / tpot_s,
        ttft_s=dist(2 * tpot_s),
        tpot_s=dist(tpot_s),
        e2e_s=dist(2 * tpot_s),
        requests_ok=10,
        requests_failed=0,
        error_rate=0.0,
    )


# --- PCHIP -----------------------------------------------------------------------------


def test_pchip_reproduces_a_straight_line_exactly():
    # slopes -10 on both intervals: every knot slope is -10, so the cubic is the line
    assert pchip_slopes([10, 20, 40], [300, 200, 0]) == pytest.approx([-10, -10, -10])
    assert pchip([10, 20, 40], [300, 200, 0], 30) == pytest.approx(100.0)
    assert pchip([10, 20, 40], [300, 200, 0], 15) == pytest.approx(250.0)


def test_pchip_on_flat_data_is_constant():
    for x in (0.0, 0.3, 1.0, 1.7, 2.0):
        assert pchip([0, 1, 2], [5, 5, 5], x) == 5.0


def test_pchip_knee_has_no_overshoot():
    # delta = [1, 0]: interior slope 0 (extremum flat), start slope ((2+1)*1 - 0)/2 = 1.5,
    # end slope -0.5 has the wrong sign -> 0.
    assert pchip_slopes([0, 1, 2], [0, 1, 1]) == pytest.approx([1.5, 0.0, 0.0])
    # t = 0.5 on [0, 1]: 0.125*1*1.5 + 0.5*1 = 0.6875
    assert pchip([0, 1, 2], [0, 1, 1], 0.5) == pytest.approx(0.6875)
    # on [1, 2] both ends are 1 with slope 0: exactly 1, never above (a spline would be)
    assert pchip([0, 1, 2], [0, 1, 1], 1.5) == pytest.approx(1.0)


def test_pchip_step_stays_monotone_and_within_data():
    xs, ys = [0, 1, 2, 3], [0, 0, 1, 1]
    values = [pchip(xs, ys, i / 100) for i in range(301)]
    assert min(values) == 0.0 and max(values) == pytest.approx(1.0)
    assert all(b >= a - 1e-12 for a, b in zip(values, values[1:], strict=False))


def test_pchip_curved_front_value_by_hand():
    # delta = [-10, -7.5]; interior: w1 = 50, w2 = 40, d1 = 90 / (50/-10 + 40/-7.5) = -270/31;
    # end slope (2*20+10)*-7.5 - 20*-10) / 30 = -35/6.  At x = 30 (t = 0.5, h = 20):
    # 0.5*200 + 0.125*20*(-270/31) + 0.5*50 - 0.125*20*(-35/6) = 43825/372
    assert pchip_slopes([10, 20, 40], [300, 200, 50])[1] == pytest.approx(-270 / 31)
    assert pchip([10, 20, 40], [300, 200, 50], 30) == pytest.approx(43825 / 372)


def test_pchip_refuses_to_extrapolate():
    with pytest.raises(ValueError, match="no extrapolation"):
        pchip([0, 1], [0, 1], 1.5)
    with pytest.raises(ValueError, match="strictly increasing"):
        pchip([0, 0, 1], [0, 1, 2], 0.5)


# --- Pareto ----------------------------------------------------------------------------


def test_pareto_front_drops_dominated_points_and_sorts_by_interactivity():
    pts = [
        point(1, 0.025, 40),  # interactivity 40
        point(2, 0.05, 70),  # 20
        point(3, 0.06, 65),  # 16.7, less throughput than load 2: dominated
        point(4, 0.1, 110),  # 10
        point(8, 0.2, 130),  # 5
        point(16, 0.4, 120),  # 2.5, less throughput than load 8: dominated
    ]
    front = pareto_front(pts)
    assert [p.load for p in front] == [8, 4, 2, 1]
    assert [p.total_tok_per_s_per_gpu for p in front] == [130, 110, 70, 40]


def test_pareto_front_against_ttft_minimises_latency():
    pts = [point(1, 0.025, 40), point(2, 0.05, 70), point(3, 0.06, 65), point(8, 0.2, 130)]
    front = pareto_front(pts, x_metric="ttft_s", x_stat="p50")
    # TTFT = 2*TPOT: 0.05, 0.1, 0.12 (dominated by load 2), 0.4; throughput rises with latency
    assert [p.load for p in front] == [1, 2, 8]


def test_pareto_front_keeps_first_of_exact_duplicates_and_ranks_by_output():
    a, b = point(1, 0.05, 100), point(2, 0.05, 100)
    assert [p.load for p in pareto_front([a, b])] == [1]
    # by output throughput: 0.9*100 = 90 vs 0.5*120 = 60 at the same interactivity
    c = point(3, 0.05, 120, input_share=0.5)
    assert [p.load for p in pareto_front([a, c], throughput="output")] == [1]
    assert [p.load for p in pareto_front([a, c], throughput="total")] == [3]


# --- operating point -------------------------------------------------------------------

FRONT = [point(1, 1 / 40, 50), point(2, 1 / 20, 200), point(4, 1 / 10, 300)]


def test_operating_point_interpolates_between_neighbours():
    op = operating_point(FRONT, 30.0)
    assert op.status == "interpolated"
    assert (op.lower.load, op.upper.load) == (2, 1)  # x 20 and 40 around the target 30
    assert op.total_tok_per_s_per_gpu == pytest.approx(43825 / 372)  # 117.81, not linear 125
    assert op.input_tok_per_s_per_gpu == pytest.approx(0.1 * 43825 / 372)
    assert op.output_tok_per_s_per_gpu == pytest.approx(0.9 * 43825 / 372)


def test_operating_point_at_a_measured_point():
    op = operating_point(FRONT, 20.0)
    assert op.status == "measured" and op.point.load == 2
    assert op.total_tok_per_s_per_gpu == 200
    assert op.lower is None and op.upper is None


def test_operating_point_outside_range_is_not_reached():
    stricter = operating_point(FRONT, 50.0)
    assert stricter.status == "not_reached" and stricter.total_tok_per_s_per_gpu is None
    assert stricter.nearest.load == 1 and "stricter" in stricter.note
    looser = operating_point(FRONT, 5.0)
    assert looser.status == "not_reached" and looser.total_tok_per_s_per_gpu is None
    assert looser.nearest.load == 4 and "looser" in looser.note


def test_operating_point_single_point():
    only = [point(1, 0.05, 80)]
    assert operating_point(only, 20.0).status == "measured"
    assert operating_point(only, 20.0).total_tok_per_s_per_gpu == 80
    assert operating_point(only, 25.0).status == "not_reached"
    assert operating_point(only, 10.0).status == "not_reached"
    assert operating_point([], 10.0).status == "not_reached"


def test_operating_point_on_flat_throughput_is_the_plateau_end():
    # same throughput at interactivity 10, 20, 40: the front is the point at 40 alone
    flat = [point(4, 0.1, 100), point(2, 0.05, 100), point(1, 0.025, 100)]
    assert [p.load for p in pareto_front(flat)] == [1]
    op = operating_point(flat, 15.0)  # inside the measured 10..40, looser than the front
    assert op.status == "measured" and op.point.load == 1
    assert op.total_tok_per_s_per_gpu == 100 and "plateau" in op.note
    assert operating_point(flat, 5.0).status == "not_reached"
    assert operating_point(flat, 45.0).status == "not_reached"


def test_operating_point_at_ttft_target():
    # TTFT p50 = 2*TPOT: 0.05 (50 tok/s), 0.1 (200), 0.2 (300). Target 0.15 s between
    # 0.1 and 0.2: slopes -> PCHIP of [50, 200, 300] over [0.05, 0.1, 0.2]; delta = [3000, 1000]
    # interior d = (0.25+0.2)/(0.25/3000+0.2/1000) = 1588.2353; end d = (0.25*1000-0.1*3000)/0.15
    op = operating_point(FRONT, 0.15, x_metric="ttft_s", x_stat="p50")
    assert op.status == "interpolated"
    d1 = 0.45 / (0.25 / 3000 + 0.2 / 1000)
    d2 = (0.25 * 1000 - 0.1 * 3000) / 0.15  # negative -> sign differs from delta -> 0
    assert d2 < 0
    expected = 0.5 * 200 + 0.125 * 0.1 * d1 + 0.5 * 300 - 0.125 * 0.1 * 0.0
    assert op.total_tok_per_s_per_gpu == pytest.approx(expected)
    assert 200 < op.total_tok_per_s_per_gpu < 300


# --- from a report ---------------------------------------------------------------------


def _window(label: str, total: float) -> Throughput:
    return Throughput(
        label=label,
        start_ns=0,
        end_ns=10**10,
        duration_s=10.0,
        requests_completed=20,
        input_tokens=total * 2,
        output_tokens=total * 8,
        request_per_s=2.0,
        input_tok_per_s=total * 0.2,
        output_tok_per_s=total * 0.8,
        total_tok_per_s=total,
    )


def _report(steady: bool = True, load: ConcurrencyLoad | RateLoad | None = None) -> Report:
    summary = RunSummary(
        requests_total=20,
        requests_ok=19,
        requests_failed=1,
        ttft_s=dist(0.2, 0.3),
        tpot_s=dist(0.04, 0.05),
        itl_s=dist(0.04),
        e2e_s=dist(1.0, 1.2),
        interactivity_tok_per_s=dist(25.0),
        tokens_per_chunk=dist(1.0),
        input_tokens=dist(100),
        output_tokens=dist(32),
        steady_state=_window("steady_state", 400.0) if steady else None,
        whole_run=_window("whole_run", 300.0),
    )
    return Report(
        run_id="r1",
        status="complete",
        created_utc="2026-01-01T00:00:00Z",
        config=RunConfig(
            model="m",
            workload=ShapeWorkload(input_tokens=100, output_tokens=32),
            load=load or ConcurrencyLoad(concurrency=8),
            num_requests=20,
            output_dir=Path("r1"),
        ),
        provenance=Provenance(tokenbench_version="0", host="h", platform="p", python="3"),
        summary=summary,
    )


def test_point_from_report_normalises_per_gpu_and_reads_p50_interactivity():
    slo = SweepSLO(bounds=[SLOBound(metric="ttft_s", stat="p90", limit=0.6)], max_error_rate=0.1)
    p = point_from_report(_report(), gpus=4, run_dir="sweep/p0", slo=slo)
    assert (p.load_kind, p.load, p.gpus) == ("concurrency", 8.0, 4)
    assert p.throughput_window == "steady_state"
    assert p.total_tok_per_s_per_gpu == 100.0
    assert p.input_tok_per_s_per_gpu == 20.0 and p.output_tok_per_s_per_gpu == 80.0
    assert p.interactivity_tok_per_s == pytest.approx(25.0)  # 1 / 0.04
    assert p.error_rate == pytest.approx(1 / 20)
    assert p.meets_slo is True and p.slo_margin == pytest.approx(0.693147, abs=1e-6)  # ln 2


def test_point_from_report_falls_back_to_whole_run_and_reads_rate():
    p = point_from_report(_report(steady=False, load=RateLoad(rate_per_s=2.5)), gpus=1)
    assert (p.load_kind, p.load) == ("rate", 2.5)
    assert p.throughput_window == "whole_run" and p.total_tok_per_s_per_gpu == 300.0
    assert p.meets_slo is None


def test_point_from_report_without_summary_is_a_user_error():
    failed = _report().model_copy(update={"summary": None, "status": "failed"})
    with pytest.raises(UserError, match="no summary"):
        point_from_report(failed, gpus=1, run_dir="sweep/p3")


def test_gpus_from_engine_args():
    assert gpus_from_engine_args([]) == 1
    assert gpus_from_engine_args(["-tp", "4", "--pipeline-parallel-size=2"]) == 8
    assert gpus_from_engine_args(["--max-model-len", "512", "--data-parallel-size", "3"]) == 3
    with pytest.raises(UserError, match="positive integer"):
        gpus_from_engine_args(["--tensor-parallel-size", "x"])
    with pytest.raises(UserError, match="positive integer"):
        gpus_from_engine_args(["-tp"])
