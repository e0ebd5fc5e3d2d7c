"""The CUDA half of the microbenchmarks: each GPU alone, then all GPUs at once.

Builders allocate the buffers on one device and return the operation to time;
`_time_cuda` launches the operations of all the devices it is given round-robin (so they
run together) and times each device with its own CUDA events. torch is imported lazily.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from bench.accept.micro_records import (
    MicroMetric,
    MicroResult,
    MicroSizes,
    Op,
    Unit,
    copy_traffic_bytes,
    gemm_flop,
    rate_from_times,
)

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


def cuda_suite(sizes: MicroSizes) -> tuple[list[MicroResult], list[str], list[str]]:
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
