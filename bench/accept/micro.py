"""Torch microbenchmarks for acceptance: GEMM, device memory, host↔device, all-reduce.

On CUDA: dense BF16 GEMM (FP8 through `torch._scaled_mm` on compute capability ≥ 8.9), device
memory bandwidth (device-to-device copy, bytes read + written), pinned host↔device copies,
each GPU alone and then all GPUs at once, plus all-reduce bus bandwidth across the node
(`bench.accept.allreduce`). Timing: CUDA events around `iters` operations after `warmup`,
repeated `repeats` times; the reported value uses the median repeat.
Without CUDA: fp32 GEMM and a large tensor copy on the CPU, timed with `perf_counter_ns`.

Values are stored in SI (flop/s, byte/s); bands and reports convert to TFLOP/s and GB/s
(1 GB = 1e9 bytes). torch is imported inside the functions only.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any, Literal

from pydantic import Field

from bench.errors import UserError
from bench.records import Record

MicroMetric = Literal[
    "gemm_bf16",
    "gemm_fp8",
    "memory_bandwidth",
    "h2d_bandwidth",
    "d2h_bandwidth",
    "allreduce_busbw",
    "cpu_gemm_fp32",
    "cpu_memory_bandwidth",
]
Unit = Literal["flop_per_s", "byte_per_s"]
Op = Callable[[], Any]
GiB = 1 << 30
MiB = 1 << 20


class MicroSizes(Record):
    """Problem sizes and repeat counts; defaults take seconds per GPU and < 30 s on 2 CPU cores."""

    gemm_n: int = Field(default=8192, ge=16, description="square BF16/FP8 GEMM, m = n = k")
    copy_bytes: int = Field(default=1 * GiB, ge=1, description="device buffer copied D2D")
    host_bytes: int = Field(default=256 * MiB, ge=1, description="pinned buffer for H2D/D2H")
    allreduce_bytes: int = Field(default=512 * MiB, ge=1024)
    cpu_gemm_n: int = Field(default=1024, ge=16)
    cpu_copy_bytes: int = Field(default=256 * MiB, ge=1024)
    iters: int = Field(default=10, ge=1, description="operations timed together per repeat")
    repeats: int = Field(default=5, ge=1)
    warmup: int = Field(default=3, ge=0)
    cpu_iters: int = Field(default=2, ge=1)

    @classmethod
    def quick(cls) -> MicroSizes:
        """Tiny sizes for tests and smoke runs (numbers are not meaningful for acceptance)."""
        return cls(
            gemm_n=1024,
            copy_bytes=64 * MiB,
            host_bytes=32 * MiB,
            allreduce_bytes=32 * MiB,
            cpu_gemm_n=128,
            cpu_copy_bytes=4 * MiB,
            iters=2,
            repeats=3,
            warmup=1,
            cpu_iters=1,
        )


class MicroResult(Record):
    """One microbenchmark on one device (or the node, for collectives)."""

    metric: MicroMetric
    device: str = Field(description='"cuda:3", "cpu" or "node"')
    gpu_index: int | None = None
    scope: Literal["single", "concurrent", "node"] = Field(
        description="single: this GPU alone; concurrent: all GPUs at once; node: a collective"
    )
    value: float | None = Field(description="rate in `unit`, from the median repeat")
    unit: Unit
    median_s: float | None = Field(default=None, description="median time of one operation")
    times_s: list[float] = Field(default_factory=list, description="per-repeat time of one op")
    work: float = Field(description="flop or bytes per operation (see `unit`)")
    params: dict[str, int | float | str] = Field(default_factory=dict)
    timer: Literal["cuda_event", "perf_counter_ns"]
    error: str | None = None


class MicroReport(Record):
    backend: Literal["cuda", "cpu"]
    torch_version: str
    devices: list[str]
    sizes: MicroSizes
    results: list[MicroResult]
    skipped: list[str] = Field(default_factory=list, description="what was not run, and why")
    duration_s: float


def gemm_flop(m: int, n: int, k: int) -> float:
    """Floating-point operations of one dense GEMM: 2·m·n·k (a multiply and an add each)."""
    return 2.0 * m * n * k


def copy_traffic_bytes(nbytes: int) -> float:
    """Memory traffic of a device-to-device copy of `nbytes`: read once + written once = 2·n."""
    return 2.0 * nbytes


def allreduce_bus_bandwidth(nbytes: float, seconds: float, ranks: int) -> float:
    """All-reduce bus bandwidth (nccl-tests): busbw = algbw × 2(n−1)/n, algbw = bytes / time.

    Example: 1e9 bytes in 0.01 s on 8 ranks → algbw 1e11 B/s, busbw 1e11 × 14/8 = 1.75e11 B/s.
    """
    if ranks < 2:
        raise ValueError("bus bandwidth needs at least 2 ranks")
    return nbytes / seconds * 2.0 * (ranks - 1) / ranks


def rate_from_times(work: float, times_s: list[float]) -> tuple[float, float]:
    """(work / median time, median time) over repeats; the median resists one slow repeat."""
    median = statistics.median(times_s)
    return work / median, median


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
        results, skipped, devices = _cuda_suite(sizes)
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


# --------------------------------------------------------------------------- CUDA suite

# builder(device, sizes) allocates the buffers on `device` and returns the op to time;
# `_describe` says what one op does (work, unit, params) without touching a GPU.
Builder = Callable[[Any, MicroSizes], Op]


def _gemm_bf16(device: Any, sizes: MicroSizes) -> Op:
    import torch

    n = sizes.gemm_n
    a = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    c = torch.empty(n, n, device=device, dtype=torch.bfloat16)
    return lambda: torch.mm(a, b, out=c)


def _gemm_fp8(device: Any, sizes: MicroSizes) -> Op:
    import torch

    n = sizes.gemm_n
    a = torch.randn(n, n, device=device).to(torch.float8_e4m3fn)
    b = torch.randn(n, n, device=device).to(torch.float8_e4m3fn)
    one = torch.ones((), device=device, dtype=torch.float32)
    # _scaled_mm wants the second operand column-major: pass the transpose of a row-major matrix
    return lambda: torch._scaled_mm(a, b.t(), scale_a=one, scale_b=one, out_dtype=torch.bfloat16)


def _d2d(device: Any, sizes: MicroSizes) -> Op:
    import torch

    src = torch.ones(sizes.copy_bytes, device=device, dtype=torch.uint8)
    dst = torch.empty_like(src)
    return lambda: dst.copy_(src)


def _h2d(device: Any, sizes: MicroSizes) -> Op:
    import torch

    host = torch.ones(sizes.host_bytes, dtype=torch.uint8).pin_memory()
    dev = torch.empty(sizes.host_bytes, device=device, dtype=torch.uint8)
    return lambda: dev.copy_(host, non_blocking=True)


def _d2h(device: Any, sizes: MicroSizes) -> Op:
    import torch

    host = torch.empty(sizes.host_bytes, dtype=torch.uint8).pin_memory()
    dev = torch.ones(sizes.host_bytes, device=device, dtype=torch.uint8)
    return lambda: host.copy_(dev, non_blocking=True)


_CUDA_BUILDERS: dict[MicroMetric, Builder] = {
    "gemm_bf16": _gemm_bf16,
    "gemm_fp8": _gemm_fp8,
    "memory_bandwidth": _d2d,
    "h2d_bandwidth": _h2d,
    "d2h_bandwidth": _d2h,
}


def _cuda_suite(sizes: MicroSizes) -> tuple[list[MicroResult], list[str], list[str]]:
    import torch

    count = torch.cuda.device_count()
    devices = [f"cuda:{i}" for i in range(count)]
    names = [torch.cuda.get_device_name(i) for i in range(count)]
    results: list[MicroResult] = []
    skipped: list[str] = []
    for metric, builder in _CUDA_BUILDERS.items():
        if metric == "gemm_fp8":
            no_fp8 = [
                d for i, d in enumerate(devices) if torch.cuda.get_device_capability(i) < (8, 9)
            ]
            if no_fp8:
                skipped.append(f"gemm_fp8: compute capability < 8.9 on {', '.join(no_fp8)}")
                continue
        for device in devices:
            results.extend(_time_cuda(metric, builder, [device], sizes, scope="single"))
        if count > 1:
            results.extend(_time_cuda(metric, builder, devices, sizes, scope="concurrent"))
    if count > 1:
        from bench.accept.allreduce import measure_allreduce

        results.append(measure_allreduce(count, sizes))
    else:
        skipped.append("allreduce_busbw: one GPU, nothing to reduce across")
    if count == 1:
        skipped.append("concurrent runs: one GPU, the single-GPU runs are the whole node")
    return results, skipped, [f"{d} {n}" for d, n in zip(devices, names, strict=True)]


def _time_cuda(
    metric: MicroMetric,
    builder: Builder,
    devices: list[str],
    sizes: MicroSizes,
    *,
    scope: Literal["single", "concurrent"],
) -> list[MicroResult]:
    """Time `builder`'s op on `devices` together: ops are launched round-robin, so all the
    GPUs run at once; each GPU's time comes from its own start/end CUDA events."""
    import torch

    work, unit, params = _describe(builder, sizes)
    common: dict[str, Any] = {
        "metric": metric,
        "scope": scope,
        "unit": unit,
        "work": work,
        "params": params,
    }
    try:
        # the ops (and the buffers they hold) live only inside _event_times: freed on return
        per_device = _event_times(
            [builder(torch.device(d), sizes) for d in devices], devices, sizes
        )
    except Exception as exc:  # OOM, unsupported dtype, driver error: reported, not raised
        error = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        return [
            MicroResult(
                **common, device=d, gpu_index=_index(d), value=None, timer="cuda_event", error=error
            )
            for d in devices
        ]
    finally:
        torch.cuda.empty_cache()
    results = []
    for d, times in zip(devices, per_device, strict=True):
        value, median = rate_from_times(work, times)
        results.append(
            MicroResult(
                **common,
                device=d,
                gpu_index=_index(d),
                value=value,
                median_s=median,
                times_s=times,
                timer="cuda_event",
            )
        )
    return results


def _event_times(ops: list[Op], devices: list[str], sizes: MicroSizes) -> list[list[float]]:
    """Seconds per op on each device, one entry per repeat, from CUDA events after warm-up."""
    import torch

    for _ in range(sizes.warmup):
        for op in ops:
            op()
    for d in devices:
        torch.cuda.synchronize(d)
    per_device: list[list[float]] = [[] for _ in devices]
    for _ in range(sizes.repeats):
        starts = [torch.cuda.Event(enable_timing=True) for _ in devices]
        ends = [torch.cuda.Event(enable_timing=True) for _ in devices]
        for d, ev in zip(devices, starts, strict=True):
            ev.record(torch.cuda.current_stream(d))
        for _ in range(sizes.iters):
            for op in ops:
                op()
        for d, ev in zip(devices, ends, strict=True):
            ev.record(torch.cuda.current_stream(d))
        for i, (start, end) in enumerate(zip(starts, ends, strict=True)):
            end.synchronize()
            per_device[i].append(start.elapsed_time(end) / 1e3 / sizes.iters)
    return per_device


def _describe(builder: Builder, sizes: MicroSizes) -> tuple[float, Unit, dict[str, Any]]:
    """Work, unit and params of a builder's op, without allocating anything on a GPU."""
    n, nbytes = sizes.gemm_n, sizes.copy_bytes
    table: dict[Any, tuple[float, Unit, dict[str, Any]]] = {
        _gemm_bf16: (gemm_flop(n, n, n), "flop_per_s", {"n": n, "dtype": "bfloat16"}),
        _gemm_fp8: (gemm_flop(n, n, n), "flop_per_s", {"n": n, "dtype": "float8_e4m3fn"}),
        _d2d: (copy_traffic_bytes(nbytes), "byte_per_s", {"bytes": nbytes}),
        _h2d: (float(sizes.host_bytes), "byte_per_s", {"bytes": sizes.host_bytes, "pinned": 1}),
        _d2h: (float(sizes.host_bytes), "byte_per_s", {"bytes": sizes.host_bytes, "pinned": 1}),
    }
    return table[builder]


def _index(device: str) -> int | None:
    return int(device.split(":")[1]) if device.startswith("cuda:") else None
