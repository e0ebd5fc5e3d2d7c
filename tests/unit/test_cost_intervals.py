"""Prices with their uncertainty: repeated fixture probes, intervals, the held-out check.

Fixture h100-sxm probes at C = 16 (cost_testkit): GPU-seconds per request
  prefill 4096/32:  4096/40000 + 32·(0.006 + 0.00005·16)/16 = 0.116, × 1.015, 1.04, 0.98
  decode  128/1024: 128/40000 + 1024·0.0068/16 = 0.4384,            × 0.985, 1.03, 0.96
"""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest

from bench.cost import CostAssumptions
from bench.cost.additive import FitSample, fit_additive
from bench.cost.intervals import holdout_range, mix_range, price_ranges, repeated_fit
from bench.cost.quote import make_quote
from bench.cost.runs import load_runs
from bench.cost.tiers import DEFAULT_TIERS
from bench.errors import UserError
from bench.hardware import load_profile

H100 = Path(__file__).resolve().parents[1] / "fixtures" / "runs" / "h100-sxm"
PREFILL = [0.116 * w for w in (1.015, 1.04, 0.98)]
DECODE = [0.4384 * w for w in (0.985, 1.03, 0.96)]


def _sample(run_id: str, gpu_s: float, inp: float, out: float) -> FitSample:
    return FitSample(run_id=run_id, gpus=1, gpu_s_per_request=gpu_s, input_tokens=inp,
                     cached_input_tokens=0.0, output_tokens=out)  # fmt: skip


def _groups():  # type: ignore[no-untyped-def]
    return [
        ("prefill", [_sample(f"p{i}", g, 4096, 32) for i, g in enumerate(PREFILL)]),
        ("decode", [_sample(f"d{i}", g, 128, 1024) for i, g in enumerate(DECODE)]),
    ]


def test_repeated_fit_has_one_fit_per_combination_and_the_probe_spreads() -> None:
    fit = repeated_fit(_groups())
    assert len(fit.combinations) == 9 and fit.repeated
    prefill = fit.probes[0].gpu_s_per_request
    assert prefill.mean == pytest.approx(statistics.fmean(PREFILL))  # 0.117353
    assert prefill.cv == pytest.approx(statistics.stdev(PREFILL) / statistics.fmean(PREFILL))
    # every combination is an exact two-probe fit: e.g. the first repeats of each
    first = fit_additive([_groups()[0][1][0], _groups()[1][1][0]])
    c0 = fit.combinations[0]
    assert (c0.input, c0.output) == pytest.approx(
        (first.gpu_s_per_input_token, first.gpu_s_per_output_token)
    )


def test_prices_at_a_point_add_up_for_every_fit_and_carry_a_range() -> None:
    fit = repeated_fit(_groups())
    # a point serving 16,000 input + 4,000 output tok/s per GPU at $2/GPU-hour
    ranges = price_ranges(fit, 16_000, 4_000, 0.0, 2.0)
    assert set(ranges) == {"input", "output"}
    for r in ranges.values():
        assert r.low < r.central < r.high
    per_hour = (16_000 * ranges["input"].central + 4_000 * ranges["output"].central) * 0.0036
    assert per_hour == pytest.approx(2.0)
    # a chat answer (300 in, 300 out) at that point: its range comes from the same fits
    chat = mix_range(fit, (16_000, 4_000, 0.0), (300, 300, 0), 2.0)
    assert chat.central == pytest.approx(
        (300 * ranges["input"].central + 300 * ranges["output"].central) / 1e6
    )
    assert chat.low < chat.central < chat.high


def test_holdout_inside_and_outside_the_interval() -> None:
    fit = repeated_fit(_groups())
    per_gpu_s = 2.0 / 3600
    # 1536/384 at C=16: 1536/40000 + 384·0.0068/16 = 0.2016 GPU-s, measured exactly
    inside = holdout_range(fit, "mixed", [_sample("h", 0.2016, 1536, 384)], per_gpu_s)
    assert inside.measured_usd_per_request == pytest.approx(0.2016 * per_gpu_s)
    assert inside.inside and inside.predicted_usd.low < inside.predicted_usd.high
    # the same workload measured 20 % slower lies outside what the probes can explain
    slow = holdout_range(fit, "mixed", [_sample("h", 0.2016 * 1.2, 1536, 384)], per_gpu_s)
    assert not slow.inside and slow.rel_error == pytest.approx(
        (slow.predicted_usd.central - slow.measured_usd_per_request) / slow.measured_usd_per_request
    )


def _probes(repeats: tuple[str, ...]):  # type: ignore[no-untyped-def]
    return load_runs([H100 / f"{p}{r}" for p in ("probe-prefill", "probe-decode") for r in repeats])


def test_quote_from_repeated_fixture_probes_prints_intervals() -> None:
    sweep = load_runs([H100 / f"sweep-c{c}" for c in (1, 4, 16, 64)])
    q = make_quote(
        sweep,
        load_profile("h100-sxm"),
        CostAssumptions(),
        tiers=DEFAULT_TIERS,
        probes=_probes(("", "-r2", "-r3")),
        holdouts=load_runs([H100 / "holdout-mixed"]),
    )
    assert q.probe_fit is not None and len(q.probe_fit.combinations) == 9
    batch = next(t for t in q.tiers if t.point.tier == "batch")
    assert (
        batch.price_usd_per_m_input_low
        < batch.price_usd_per_m_input
        < batch.price_usd_per_m_input_high
    )
    assert (
        batch.price_usd_per_m_output_low
        < batch.price_usd_per_m_output
        < batch.price_usd_per_m_output_high
    )
    (h,) = q.holdouts
    assert h.inside and not any("OUTSIDE" in n for n in q.notes)


def test_too_few_probe_repeats_is_a_user_error_naming_the_runs() -> None:
    sweep = load_runs([H100 / f"sweep-c{c}" for c in (1, 4, 16, 64)])
    with pytest.raises(UserError) as err:
        make_quote(
            sweep, load_profile("h100-sxm"), CostAssumptions(), tiers=DEFAULT_TIERS,
            probes=_probes(("",)),
        )  # fmt: skip
    assert err.value.field == "--probe-repeats"
    assert "4096/32 (completions): 1" in err.value.message and "probe-prefill" in err.value.message


def test_repeated_load_points_widen_every_price_by_their_throughput_interval(
    tmp_path: Path,
) -> None:
    from bench.report.io import load_report
    from bench.sweep.repeat import mean_ci

    # C=64 measured twice: the fixture run and a copy 10 % faster
    base = load_report(H100 / "sweep-c64")
    s = base.summary
    assert s is not None and s.steady_state is not None
    fast_window = s.steady_state.model_copy(
        update={
            k: getattr(s.steady_state, k) * 1.1
            for k in ("request_per_s", "input_tok_per_s", "output_tok_per_s", "total_tok_per_s")
        }
    )
    fast = base.model_copy(
        update={"run_id": "fast", "summary": s.model_copy(update={"steady_state": fast_window})}
    )
    for name, report in (("a", base), ("b", fast)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "report.json").write_text(report.model_dump_json())
    runs = load_runs([tmp_path / "a", tmp_path / "b"])
    tiers = [t for t in DEFAULT_TIERS if t.name == "batch"]
    q = make_quote(runs, load_profile("h100-sxm"), CostAssumptions(), tiers=tiers)
    (batch,) = q.tiers
    t = s.steady_state.total_tok_per_s
    ci = mean_ci([t, 1.1 * t])  # 95 % t-interval of the two repeats
    h = (ci.half_width or 0.0) / ci.mean
    mean_price = 1.30 / (ci.mean * 0.0036)
    assert batch.point.total_tok_per_s_per_gpu == pytest.approx(ci.mean)
    assert batch.price_usd_per_m_total == pytest.approx(mean_price)
    assert batch.price_usd_per_m_total_low == pytest.approx(mean_price / (1 + h))
    assert batch.price_usd_per_m_total_high == pytest.approx(mean_price / (1 - h))
