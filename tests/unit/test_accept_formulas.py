"""Formulas and rules by hand: rates, bus bandwidth, sibling outliers, overall verdict, bands."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bench.accept.bands import Bands, bands_for_sku
from bench.accept.checklib import outliers, same_model, sibling_ratios
from bench.accept.inference import catalog_model_for_band, served_inference
from bench.accept.micro_records import (
    allreduce_bus_bandwidth,
    copy_traffic_bytes,
    gemm_flop,
    rate_from_times,
)
from bench.accept.records import Check
from bench.accept.verdict import overall


def test_gemm_flop_and_copy_traffic() -> None:
    assert gemm_flop(2, 3, 4) == 48.0  # 2·m·n·k
    assert gemm_flop(8192, 8192, 8192) == pytest.approx(1.0995e12, rel=1e-4)
    assert copy_traffic_bytes(1 << 30) == 2.0 * (1 << 30)  # read + written


def test_rate_uses_the_median_repeat() -> None:
    # 10 units of work; repeats took 1, 2 and 5 s: median 2 s → 5 units/s
    assert rate_from_times(10.0, [1.0, 5.0, 2.0]) == (5.0, 2.0)


def test_allreduce_bus_bandwidth_matches_nccl_tests() -> None:
    # 1e9 bytes in 10 ms: algbw 1e11 B/s; 8 ranks: × 2·7/8 = 1.75e11 B/s
    assert allreduce_bus_bandwidth(1e9, 0.01, 8) == pytest.approx(1.75e11)
    assert allreduce_bus_bandwidth(1e9, 0.01, 2) == pytest.approx(1e11)  # × 2·1/2 = 1
    with pytest.raises(ValueError):
        allreduce_bus_bandwidth(1e9, 0.01, 1)


def test_sibling_ratios_and_outliers() -> None:
    values = {0: 100.0, 1: 100.0, 2: 100.0, 3: 85.0}
    ratios = sibling_ratios(values)
    assert ratios[3] == pytest.approx(0.85)  # 85 / median(100, 100, 100)
    assert ratios[0] == pytest.approx(1.0)  # 100 / median(100, 100, 85)
    assert outliers(values, 0.10) == {3: pytest.approx(0.85)}
    assert outliers(values, 0.20) == {}  # 0.85 ≥ 0.80
    assert sibling_ratios({0: 5.0}) == {}  # one GPU has no siblings


def test_two_gpus_compare_with_each_other() -> None:
    assert outliers({0: 100.0, 1: 80.0}, 0.10) == {1: pytest.approx(0.8)}


def _check(status: str, required: bool = True) -> Check:
    return Check(
        name=f"c-{status}",
        required=required,
        status=status,  # type: ignore[arg-type]
        severity="major",
        measured_text="-",
        expected="-",
    )


def test_overall_verdict_rules() -> None:
    assert overall([_check("pass"), _check("pass")]) == ("pass", 0)
    assert overall([_check("pass"), _check("fail")]) == ("fail", 1)
    assert overall([_check("pass"), _check("error")]) == ("fail", 1)
    # not applicable is never a pass: a required one leaves the verdict incomplete
    assert overall([_check("pass"), _check("not_applicable")]) == ("incomplete", 3)
    assert overall([_check("not_applicable"), _check("fail")]) == ("fail", 1)
    # checks that are not required never change the exit code
    assert overall([_check("pass"), _check("warn", False), _check("fail", False)]) == ("pass", 0)
    # nothing required: nothing was shown to work
    assert overall([_check("warn", False)]) == ("incomplete", 3)
    assert overall([]) == ("incomplete", 3)


def test_a_required_check_cannot_warn() -> None:
    with pytest.raises(ValidationError, match="never warns"):
        _check("warn", required=True)


def test_bands_come_from_the_hardware_profile() -> None:
    from bench.hardware import load_profile

    profile = load_profile("h100-sxm")
    assert profile.acceptance is not None and profile.acceptance.gemm_bf16_tflops_min is not None
    bands = bands_for_sku("h100-sxm")
    assert (bands.kind, bands.expected_gpus) == ("gpu", profile.gpus_per_node)
    assert bands.gemm_bf16_tflops_min is not None
    assert bands.gemm_bf16_tflops_min.value == profile.acceptance.gemm_bf16_tflops_min.value
    assert bands.source == "hardware/h100-sxm.yaml acceptance"
    if profile.acceptance.outlier_margin_fraction is not None:
        assert bands.outlier_margin_fraction == profile.acceptance.outlier_margin_fraction.value


def test_cpu_profile_expects_no_gpu() -> None:
    bands = bands_for_sku("cpu-local")
    assert (bands.kind, bands.expected_gpus) == ("cpu", 0)


def test_default_outlier_margin() -> None:
    bands = Bands(sku="x", kind="gpu", expected_gpus=1, source="test")
    assert bands.outlier_margin_fraction == 0.10


def test_band_model_names_match_catalog_ids() -> None:
    ids = ["tiny-llama", "llama-3.1-8b", "llama-3.1-70b", "qwen3-8b"]
    assert catalog_model_for_band("Llama 3.1 8B (FP8, TP1)", ids) == "llama-3.1-8b"
    assert catalog_model_for_band("Llama 3.3 70B FP8", ids) is None
    assert catalog_model_for_band(None, ids) is None
    assert same_model("llama-3.1-8b", "Llama 3.1 8B (FP8, TP1)")
    assert not same_model("tiny-llama", "Llama 3.1 8B (FP8, TP1)")


def test_inference_check_defaults_by_sku_kind(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """GPU SKU: 1000/1000 tokens, concurrency 256, 512 requests; CPU SKU: 128/64, 8, 32;
    a figure given is kept, and the model falls back to tiny-llama when the band names none."""
    gpu = Bands(sku="x", kind="gpu", expected_gpus=8, source="test")
    cpu = Bands(sku="y", kind="cpu", expected_gpus=0, source="test")
    on_gpu = served_inference(gpu, "x", tmp_path)
    on_cpu = served_inference(cpu, "y", tmp_path, concurrency=4, model="tiny-qwen")
    assert (on_gpu.model, on_gpu.workload) == (
        "tiny-llama",
        "1000/1000 tokens, concurrency 256",
    )
    assert on_gpu._shape == (1000, 1000, 256, 512, 2)
    assert (on_cpu.model, on_cpu._shape) == ("tiny-qwen", (128, 64, 4, 32, 2))
