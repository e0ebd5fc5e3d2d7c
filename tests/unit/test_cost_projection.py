"""Bounded projections (bench.cost.projection) on the fixture h100-sxm sweep.

Llama 3.1 8B (catalog: 8e9 parameters, BF16, 32 layers × 8 KV heads × 128 → KV
2·32·8·128·2 = 131,072 B/token). Roofline per GPU:
  prefill  Rpre = TFLOPS × 1e12 / (2 × 8e9): H100 989 → 61,812.5 tok/s, H20 148 → 9,250 tok/s
  decode   Rdec = C × BW / (16e9 + C × L × 131,072), L = 1024 + 256/2 = 1,152 tokens
At C = 64: H100 (3.35 TB/s) 8,354.2 tok/s, H20 (4.0 TB/s) 9,975.2 tok/s.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.catalog import load_catalog
from bench.cost.projection import (
    choose_reference,
    decode_roofline,
    gpus_needed,
    model_facts,
    prefill_roofline,
    project,
    scales,
)
from bench.cost.quote import curve_points
from bench.cost.runs import load_runs
from bench.errors import UserError
from bench.hardware import load_profile

RUNS = Path(__file__).resolve().parents[1] / "fixtures" / "runs"
KV = 2 * 32 * 8 * 128 * 2


def _h100_points():  # type: ignore[no-untyped-def]
    return curve_points(load_runs([RUNS / "h100-sxm" / f"sweep-c{c}" for c in (1, 4, 16, 64)]))


def _facts(model: str = "llama-3.1-8b"):  # type: ignore[no-untyped-def]
    entry = load_catalog()[0].find(model)
    assert entry is not None
    return model_facts(entry, [], load_profile("h100-sxm"))


def test_rooflines_from_spec_numbers() -> None:
    facts = _facts()
    assert (facts.dtype, facts.kv_bytes_per_token, facts.weight_bytes) == ("bfloat16", KV, 16e9)
    assert prefill_roofline(148, 8e9) == pytest.approx(9_250)
    assert prefill_roofline(989, 8e9) == pytest.approx(61_812.5)
    assert decode_roofline(4000, 16e9, KV, 64, 1152) == pytest.approx(
        64 * 4e12 / (16e9 + 64 * 1152 * KV)
    )
    assert decode_roofline(3350, 16e9, KV, 64, 1152) == pytest.approx(8_354.2, rel=1e-5)


def test_scales_bracket_and_keep_each_phase_under_its_roofline() -> None:
    # φ_pre = 0.3, φ_dec = 0.5, c = 0.15, r = 1.2: useful = 2 + 0.41667, rest 0.2
    low, mid, high = scales(0.3, 0.5, 0.15, 1.2)
    assert low == pytest.approx(1 / (2.416667 + 0.2 / 0.15), rel=1e-6)
    assert high == pytest.approx(1 / (2.416667 + 0.2 / 1.2), rel=1e-6)
    assert mid == pytest.approx(0.8 / 2.416667, rel=1e-6)
    assert low < mid < high
    for s in (low, mid, high):
        assert s * 0.3 / 0.15 <= 1 and s * 0.5 / 1.2 <= 1


def test_h20_from_h100_never_exceeds_h20_compute_or_bandwidth_rooflines() -> None:
    h100, h20 = load_profile("h100-sxm"), load_profile("h20")
    proj = project(_h100_points(), _facts(), h100, h20)
    assert proj.fits and proj.compute_ratio == pytest.approx(148 / 989)
    assert proj.bandwidth_ratio == pytest.approx(4000 / 3350)
    for est in ("low", "mid", "high"):
        for p in proj.curves[est]:
            assert p.input_tok_per_s_per_gpu <= 9_250
            assert p.output_tok_per_s_per_gpu <= decode_roofline(4000, 16e9, KV, p.load, 1152)
    # at C = 64 the old bandwidth-only projection (× 1.194) put H20 above the measured H100
    c64 = proj.curves["high"][-1]
    measured = _h100_points()[-1]
    assert c64.total_tok_per_s_per_gpu < measured.total_tok_per_s_per_gpu
    scale = proj.points[-1]
    # H100 C=64: input 16,328.6 / 61,812.5 = 0.26416, output 4,082.2 / 8,354.2 = 0.48864
    assert (scale.phi_prefill, scale.phi_decode) == pytest.approx((0.26416, 0.48864), rel=1e-4)
    assert scale.low < scale.mid < scale.high < 1
    # prefill is what limits H20 on this 1024/256 workload: TTFT grows by 1 / c, not 1 / s
    assert c64.ttft_s.p99 == pytest.approx(measured.ttft_s.p99 * 989 / 148)


def test_a_model_that_does_not_fit_says_how_many_gpus_it_needs() -> None:
    facts = _facts("llama-3.1-70b")  # FP8 on an 80 GB class GPU: 70 GB of weights
    assert (facts.dtype, facts.weight_bytes) == ("fp8", 70e9)
    proj = project(_h100_points(), facts, load_profile("h100-sxm"), load_profile("l40s"))
    # 48 GB × 0.9 = 43.2 GB per GPU: weights 70 GB need 2; with C=64's KV cache
    # (64 × 1,280 tokens × 2·80·8·128·2 B = 26.8 GB) 96.8 GB need 3, i.e. tensor parallel 4
    assert not proj.fits and proj.gpus_needed == 4
    assert all(not pts for pts in proj.curves.values())
    assert any("needs at least 2 GPUs for the weights and 4" in n for n in proj.notes)
    assert gpus_needed(100, 48) == 4  # 100 / 43.2 → 3 → a power of two: 4


def test_kv_cache_that_does_not_fit_drops_the_point() -> None:
    # the H100 curve at 1/20 of its throughput stands in for a 70B FP8 run on one GPU.
    # On H20 70 GB of weights fit in 96 × 0.9 = 86.4 GB; KV at 327,680 B/token
    # (2·80·8·128·2) × 1,280 tokens: C=16 6.7 GB fits, C=64 26.8 GB does not
    facts = _facts("llama-3.1-70b")
    slow = [
        p.model_copy(
            update={
                k: getattr(p, k) / 20
                for k in (
                    "total_tok_per_s_per_gpu",
                    "input_tok_per_s_per_gpu",
                    "output_tok_per_s_per_gpu",
                    "request_per_s",
                )
            }
        )
        for p in _h100_points()
    ]
    proj = project(slow, facts, load_profile("h100-sxm"), load_profile("h20"))
    assert proj.fits
    assert [p.kv_fits for p in proj.points] == [True, True, True, False]
    assert [p.load for p in proj.curves["mid"]] == [1, 4, 16]
    assert any(n.startswith("load 64: weights 70.0 GB + KV 26.8 GB do not fit") for n in proj.notes)


def test_reference_choice_refuses_other_vendors_unless_asked() -> None:
    h100 = load_profile("h100-sxm")
    with pytest.raises(UserError) as err:
        choose_reference(load_profile("ascend-910b"), [h100], cross_vendor=False)
    assert err.value.field == "--project" and "--cross-vendor" in (err.value.fix or "")
    ref, warning = choose_reference(load_profile("mi300x"), [h100], cross_vendor=True)
    assert ref.sku == "h100-sxm" and warning is not None and "across vendors" in warning
    _, none = choose_reference(load_profile("h20"), [h100], cross_vendor=False)
    assert none is None
