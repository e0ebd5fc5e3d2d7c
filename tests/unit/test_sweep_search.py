"""SLO search on synthetic load models whose optimum is known, counting runs."""

from __future__ import annotations

import math

import pytest

from bench.records import Distribution
from bench.sweep.curve import CurvePoint
from bench.sweep.slo import SLOBound, SweepSLO
from bench.sweep.slo_search import (
    Probe,
    ProbeFailed,
    SearchSettings,
    is_saturated,
    next_refine_load,
    search_max_load,
)

TPOT_SLO = SweepSLO(bounds=[SLOBound(metric="tpot_s", stat="p50", limit=0.05)])


def d(v: float) -> Distribution:
    return Distribution(count=10, mean=v, p50=v, p90=v, p99=v)


def synthetic(a: float, b: float, *, out: int = 64, cap: float | None = None, errors_above=None):
    """TPOT(c) = a + b·c; E2E = out·TPOT; throughput = c·out/E2E (capped at `cap`)."""
    calls: list[float] = []

    def measure(c: float) -> CurvePoint:
        calls.append(c)
        tpot = a + b * c
        e2e = out * tpot
        thr = c * out / e2e if cap is None else min(c, cap) * 100.0
        err = 0.3 if errors_above is not None and c > errors_above else 0.0
        return CurvePoint(
            load_kind="concurrency",
            load=c,
            gpus=1,
            throughput_window="steady_state",
            total_tok_per_s_per_gpu=thr,
            input_tok_per_s_per_gpu=0.0,
            output_tok_per_s_per_gpu=thr,
            request_per_s=c / e2e,
            interactivity_tok_per_s=1 / tpot,
            ttft_s=d(tpot),
            tpot_s=d(tpot),
            e2e_s=d(e2e),
            requests_ok=100,
            requests_failed=int(100 * err),
            error_rate=err,
        )

    measure.calls = calls  # type: ignore[attr-defined]
    return measure


def test_finds_known_optimum_in_fewer_runs_than_a_linear_sweep():
    # TPOT(c) = 0.02 + 0.001·c ≤ 0.05  ⇔  c ≤ 30: the optimum is concurrency 30
    measure = synthetic(0.02, 0.001)
    settings = SearchSettings(start_load=1, max_load=64, tolerance=0.05)
    r = search_max_load(measure, TPOT_SLO, settings)
    assert r.status == "found" and r.converged and r.stop_reason == "converged"
    assert (r.best_load, r.bracket_low, r.bracket_high) == (30, 30, 31)
    assert r.escalation_stop == "slo_failed"
    assert [p.load for p in r.probes] == [1, 2, 4, 8, 16, 32, 29, 30, 31]
    assert r.runs == 9 == len(measure.calls)
    assert [p.phase for p in r.probes].count("refine") == 3
    # a 10-point linear sweep over 1..64 (step 7) uses 10 runs and brackets only 29..36
    linear = [1 + 7 * i for i in range(10)]
    passing = [c for c in linear if 0.02 + 0.001 * c <= 0.05]
    assert (max(passing), min(c for c in linear if c not in passing)) == (29, 36)
    assert r.runs < len(linear)


def test_continuous_rate_optimum_within_relative_tolerance():
    # TPOT(r) = 0.02 + 0.004·r ≤ 0.05  ⇔  r ≤ 7.5
    settings = SearchSettings(start_load=0.5, max_load=64, tolerance=0.02, integer=False)
    r = search_max_load(synthetic(0.02, 0.004), TPOT_SLO, settings)
    assert r.converged and r.runs == 8
    assert r.best_load <= 7.5 < r.bracket_high
    assert r.bracket_high / r.best_load - 1 <= 0.02
    assert r.best.meets and r.best.margin >= 0


def test_lowest_load_failing_is_not_reached():
    r = search_max_load(
        synthetic(0.02, 0.001), TPOT_SLO, SearchSettings(start_load=40, max_load=64)
    )
    assert r.status == "not_reached" and r.best_load is None and r.runs == 1
    assert r.stop_reason == "lowest_fails" and r.bracket_high == 40
    assert r.note.startswith("SLO not reached: even the lowest load 40 fails")


def test_slo_holding_at_max_load_reports_max_load_without_going_beyond():
    r = search_max_load(synthetic(0.02, 0.001), TPOT_SLO, SearchSettings(start_load=1, max_load=20))
    assert [p.load for p in r.probes] == [1, 2, 4, 8, 16, 20]
    assert (r.best_load, r.bracket_high, r.stop_reason) == (20, None, "max_load")
    assert not r.converged and "higher load was not measured" in r.note


def test_saturation_stops_escalation():
    # throughput = 100·min(c, 8): flat beyond 8 while E2E keeps growing; SLO never binds
    loose = SweepSLO(bounds=[SLOBound(metric="e2e_s", stat="p50", limit=1000.0)])
    measure = synthetic(0.02, 0.001, cap=8)
    r = search_max_load(measure, loose, SearchSettings(start_load=1, max_load=1024))
    assert [p.load for p in r.probes] == [1, 2, 4, 8, 16]
    assert (r.stop_reason, r.escalation_stop, r.best_load) == ("saturated", "saturated", 16)
    assert "throughput stopped increasing" in r.note


def test_error_rate_stops_escalation_and_bisects():
    # latency never binds (limit 1 s) but above c = 20 30 % of requests fail (limit 1 %)
    loose = SweepSLO(bounds=[SLOBound(metric="tpot_s", stat="p50", limit=1.0)])
    settings = SearchSettings(start_load=1, max_load=64, tolerance=0.05)
    r = search_max_load(synthetic(0.02, 0.001, errors_above=20), loose, settings)
    assert r.escalation_stop == "error_rate"
    # geometric midpoints: √(16·32) = 22.6 → 23, √(16·23) = 19.2 → 19, √(19·23) = 20.9 → 21, 20
    assert [p.load for p in r.probes] == [1, 2, 4, 8, 16, 32, 23, 19, 21, 20]
    assert (r.best_load, r.bracket_high) == (20, 21)


def test_failed_runs_count_as_failing_probes():
    def measure(c: float) -> CurvePoint:
        if c > 20:
            raise ProbeFailed(f"server died at {c:g}")
        return synthetic(0.02, 0.0001)(c)

    r = search_max_load(measure, TPOT_SLO, SearchSettings(start_load=1, max_load=64))
    assert r.escalation_stop == "run_failed" and r.best_load == 20
    failed = [p for p in r.probes if p.failure]
    assert failed[0].load == 32 and failed[0].point is None and "server died" in failed[0].failure


def test_run_limit():
    settings = SearchSettings(start_load=1, max_load=64, max_runs=3)
    r = search_max_load(synthetic(0.02, 0.001), TPOT_SLO, settings)
    assert (r.runs, r.best_load, r.stop_reason) == (3, 4, "max_runs")


def _probe(load: float, margin: float, meets: bool) -> Probe:
    return Probe(
        index=0, phase="bracket", load=load, point=None, margin=margin, limiting=None, meets=meets
    )


def test_regula_falsi_step_by_hand():
    lo, hi = _probe(16, 0.3, True), _probe(32, -0.1, False)
    s = SearchSettings(start_load=1, max_load=64, tolerance=0.3)
    # root estimate 16·2^(0.3/0.4) = 26.91, shifted down by 1 + 0.3/3 (hi moved last) = 24.46
    assert next_refine_load(lo, hi, s, "hi", bisect=False) == 24
    assert next_refine_load(lo, hi, s, "lo", bisect=False) == 30  # 26.91·1.1 = 29.6
    assert next_refine_load(lo, hi, s, "hi", bisect=True) == 23  # √512 = 22.6
    assert next_refine_load(_probe(16, 0.1, True), _probe(17, -0.1, False), s, "hi", False) is None
    cont = s.model_copy(update={"integer": False})
    assert next_refine_load(lo, hi, cont, "hi", bisect=True) == pytest.approx(math.sqrt(512))


def test_is_saturated():
    m = synthetic(0.02, 0.001, cap=8)
    assert is_saturated(m(8), m(16), 0.05)  # 800 → 800 tok/s, E2E 1.79 s → 2.30 s
    assert not is_saturated(m(4), m(8), 0.05)  # 400 → 800


def test_settings_validation():
    with pytest.raises(ValueError, match="max_load"):
        SearchSettings(start_load=8, max_load=4)
    with pytest.raises(ValueError, match="whole number"):
        SearchSettings(start_load=1.5, max_load=4)
