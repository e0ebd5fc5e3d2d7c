"""Microbenchmarks for real: the CPU fallback here, the CUDA suite where there is a GPU."""

from __future__ import annotations

import math

import pytest

from bench.accept.micro import run_micro
from bench.accept.micro_records import MicroSizes
from bench.errors import UserError


def _cuda() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def test_cpu_microbenchmarks_return_positive_finite_rates_with_units() -> None:
    sizes = MicroSizes.quick()
    report = run_micro(sizes, backend="cpu")
    assert report.backend == "cpu" and report.devices == ["cpu"]
    by_metric = {r.metric: r for r in report.results}
    assert sorted(by_metric) == ["cpu_gemm_fp32", "cpu_memory_bandwidth"]
    gemm, copy = by_metric["cpu_gemm_fp32"], by_metric["cpu_memory_bandwidth"]
    assert (gemm.unit, copy.unit) == ("flop_per_s", "byte_per_s")
    assert gemm.work == 2 * 128**3  # 2·n³ for n = 128
    assert copy.work == 2 * 4 * 2**20  # 4 MiB read + written
    for r in (gemm, copy):
        assert r.error is None and r.timer == "perf_counter_ns"
        assert r.value is not None and math.isfinite(r.value) and r.value > 0
        assert len(r.times_s) == sizes.repeats and r.median_s in r.times_s
        assert r.value == pytest.approx(r.work / r.median_s)


@pytest.mark.slow
def test_default_cpu_suite_fits_the_time_budget() -> None:
    """Default sizes on an idle 2-core host take ≈2 s; 30 s is the promise (shared hosts vary)."""
    report = run_micro(backend="cpu")
    assert report.sizes.cpu_gemm_n == 1024 and report.sizes.cpu_copy_bytes == 256 * 2**20
    assert report.duration_s < 30.0


def test_cuda_backend_without_cuda_is_a_user_error() -> None:
    if _cuda():
        pytest.skip("this host has CUDA")
    with pytest.raises(UserError, match="no CUDA device"):
        run_micro(MicroSizes.quick(), backend="cuda")


@pytest.mark.slow
def test_allreduce_spawn_path_with_gloo() -> None:
    """Same spawn/rendezvous/max-reduction code as NCCL, on CPU processes (≈15 s)."""
    from bench.accept.allreduce import measure_allreduce

    sizes = MicroSizes.quick()
    result = measure_allreduce(2, sizes, backend="gloo")
    assert result.error is None, result.error
    assert result.params["ranks"] == 2 and result.timer == "perf_counter_ns"
    assert len(result.times_s) == sizes.repeats
    # 2 ranks: busbw = algbw × 2·1/2 = bytes / median time
    assert result.value == pytest.approx(result.work / result.median_s)  # type: ignore[operator]


@pytest.mark.gpu
def test_cuda_suite_on_a_gpu() -> None:
    if not _cuda():
        pytest.skip("no CUDA device")
    import torch

    report = run_micro(MicroSizes.quick(), backend="cuda")
    count = torch.cuda.device_count()
    singles = [r for r in report.results if r.scope == "single"]
    assert report.backend == "cuda"
    assert {r.metric for r in singles} >= {"gemm_bf16", "memory_bandwidth", "h2d_bandwidth"}
    assert all(r.error is None and (r.value or 0) > 0 for r in singles)
    assert len([r for r in singles if r.metric == "gemm_bf16"]) == count
