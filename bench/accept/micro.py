"""Torch microbenchmarks for acceptance: GEMM, device memory, host↔device, all-reduce.

On CUDA: dense BF16 GEMM (FP8 through `torch._scaled_mm` on compute capability ≥ 8.9), device
memory bandwidth (device-to-device copy, bytes read + written), pinned host↔device copies,
each GPU alone and then all GPUs at once, plus all-reduce bus bandwidth across the node
(`bench.accept.allreduce`). Timing: CUDA events around `iters` operations after `warmup`,
repeated `repeats` times; the reported value uses the median repeat.
Without CUDA: fp32 GEMM and a large tensor copy on the CPU, timed with `perf_counter_ns`.

The records and formulas are `bench.accept.micro_records`; `run_micro` chooses the suite.
torch is imported inside the functions only.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from bench.accept.micro_records import (
    MicroMetric,
    MicroReport,
    MicroResult,
    MicroSizes,
    Op,
    Unit,
    copy_traffic_bytes,
    gemm_flop,
    rate_from_times,
)
from bench.errors import UserError


def run_micro(
    sizes: MicroSizes | None = None, *, backend: Literal["auto", "cuda", "cpu"] = "auto"
) -> MicroReport:
    """Run the CUDA suite when torch sees a GPU (`auto`), else the CPU fallback.

    Raises:
        UserError: `backend="cuda"` on a host where torch sees no CUDA device.
    """
    import torch

    sizes = sizes or MicroSizes()
    start = time.perf_counter_ns()
    cuda = torch.cuda.is_available()
    if backend == "cuda" and not cuda:
        raise UserError(
            "torch sees no CUDA device", field="backend", fix="use the CPU fallback or a GPU host"
        )
    skipped: list[str] = []
    if cuda and backend != "cpu":
        from bench.accept.micro_cuda import cuda_suite

        results, skipped, devices = cuda_suite(sizes)
        kind: Literal["cuda", "cpu"] = "cuda"
    else:
        results, devices, kind = _cpu_suite(sizes), ["cpu"], "cpu"
        skipped.append(
            "GPU microbenchmarks: "
            + ("CPU backend asked for" if cuda else "torch sees no CUDA device")
        )
    return MicroReport(
        backend=kind,
        torch_version=str(torch.__version__),
        devices=devices,
        sizes=sizes,
        results=results,
        skipped=skipped,
        duration_s=(time.perf_counter_ns() - start) / 1e9,
    )


# --------------------------------------------------------------------------- CPU fallback


def _cpu_suite(sizes: MicroSizes) -> list[MicroResult]:
    import torch

    n = sizes.cpu_gemm_n
    a, b = torch.randn(n, n), torch.randn(n, n)
    c = torch.empty(n, n)
    gemm = _time_cpu_op(
        "cpu_gemm_fp32",
        lambda: torch.mm(a, b, out=c),
        gemm_flop(n, n, n),
        "flop_per_s",
        {"n": n, "dtype": "float32", "threads": torch.get_num_threads()},
        sizes,
    )
    count = sizes.cpu_copy_bytes // 4
    src, dst = torch.ones(count), torch.empty(count)
    copy = _time_cpu_op(
        "cpu_memory_bandwidth",
        lambda: dst.copy_(src),
        copy_traffic_bytes(count * 4),
        "byte_per_s",
        {"bytes": count * 4, "threads": torch.get_num_threads()},
        sizes,
    )
    return [gemm, copy]


def _time_cpu_op(
    metric: MicroMetric,
    op: Op,
    work: float,
    unit: Unit,
    params: dict[str, int | float | str],
    sizes: MicroSizes,
) -> MicroResult:
    common: dict[str, Any] = {
        "metric": metric,
        "device": "cpu",
        "scope": "single",
        "unit": unit,
        "work": work,
    }
    try:
        for _ in range(sizes.warmup):
            op()
        times = []
        for _ in range(sizes.repeats):
            t0 = time.perf_counter_ns()
            for _ in range(sizes.cpu_iters):
                op()
            times.append((time.perf_counter_ns() - t0) / 1e9 / sizes.cpu_iters)
        value, median = rate_from_times(work, times)
    except Exception as exc:  # a failed benchmark is a result ("error"), not a crash
        return MicroResult(
            **common,
            value=None,
            params=params,
            timer="perf_counter_ns",
            error=f"{type(exc).__name__}: {exc}",
        )
    return MicroResult(
        **common,
        value=value,
        median_s=median,
        times_s=times,
        params=params,
        timer="perf_counter_ns",
    )
