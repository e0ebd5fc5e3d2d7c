"""A quote from repeated probes on the real vLLM CPU server (the session's shared server).

Short runs (8 requests each): the arithmetic is pinned by the fixture-based unit tests
(tests/unit/test_cost_intervals.py); this checks that real runs flow through it: probes
repeated, the interval formed from their combinations, the held-out workload checked.
"""

from __future__ import annotations

import pytest

from bench.config.run import RunConfig
from bench.cost import CostAssumptions
from bench.cost.quote import make_quote
from bench.cost.runs import load_runs
from bench.cost.tiers import DEFAULT_TIERS
from bench.hardware import load_profile
from bench.sweep.run import SweepSpec, run_sweep

pytestmark = pytest.mark.slow


def _sweep(shared_vllm, out, shape: tuple[int, int, float], loads: list[float], repeats: int):  # type: ignore[no-untyped-def]
    server = shared_vllm.get()
    inp, outp, ratio = shape
    config = RunConfig.model_validate(
        {
            "model": "tiny-llama",
            "workload": {
                "kind": "shape",
                "input_tokens": inp,
                "output_tokens": outp,
                "range_ratio": ratio,
            },  # fmt: skip
            "load": {"kind": "concurrency", "concurrency": 1},
            "engine": {"kind": "endpoint", "url": server.base_url, "served_model": "tiny-llama"},
            "num_requests": 8,
            "output_dir": str(out),
        }
    )
    spec = SweepSpec(loads=loads, repeats=repeats, stop_on_saturation=False)
    run_sweep(config, spec, out)
    return load_runs([out])


def test_quote_from_repeated_probes_on_real_runs(shared_vllm, tmp_path):
    prefill = _sweep(shared_vllm, tmp_path / "prefill", (512, 4, 0.0), [2], 2)
    decode = _sweep(shared_vllm, tmp_path / "decode", (16, 96, 0.0), [2], 2)
    holdout = _sweep(shared_vllm, tmp_path / "holdout", (192, 24, 0.5), [2], 2)
    sweep = _sweep(shared_vllm, tmp_path / "sweep", (192, 24, 0.5), [1, 2], 1)
    q = make_quote(
        sweep,
        load_profile("cpu-local"),
        CostAssumptions(),
        tiers=DEFAULT_TIERS,
        probes=[*prefill, *decode],
        holdouts=holdout,
        probe_repeats=2,
    )
    assert q.probe_fit is not None and len(q.probe_fit.combinations) == 4
    assert [p.gpu_s_per_request.n for p in q.probe_fit.probes] == [2, 2]
    fit = q.probe_fit.central
    assert fit.gpu_s_per_output_token > fit.gpu_s_per_input_token > 0  # decode costs more
    (h,) = q.holdouts
    assert h.measured_usd_per_request > 0 and len(h.run_ids) == 2
    assert h.predicted_usd.low <= h.predicted_usd.central <= h.predicted_usd.high
    batch = next(t for t in q.tiers if t.point.tier == "batch")
    assert (
        batch.price_usd_per_m_input_low
        <= batch.price_usd_per_m_input
        <= batch.price_usd_per_m_input_high
    )
    assert q.workload == "192 ±50%/24 (completions)"
