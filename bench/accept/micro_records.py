"""What the acceptance microbenchmarks measure, as records, and the formulas behind each
figure (FLOP of a GEMM, traffic of a copy, all-reduce bus bandwidth, the rate over repeats).

Values are stored in SI (flop/s, byte/s); bands and reports convert to TFLOP/s and GB/s
(1 GB = 1e9 bytes). The machinery that runs them: `bench.accept.micro` (CPU, and the
choice of suite), `micro_cuda`, `allreduce`.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any, Literal

from pydantic import Field

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
