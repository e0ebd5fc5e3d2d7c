"""All-reduce bus bandwidth across the node's GPUs: torch.distributed with NCCL.

One process per GPU (spawned), rendezvous on 127.0.0.1, a bf16 buffer of `allreduce_bytes`
all-reduced `iters` times per repeat between CUDA events, after `warmup` calls. Each repeat's
time is the slowest rank's (what a collective costs the job); the value is the bus bandwidth
of the median repeat (`bench.accept.micro.allreduce_bus_bandwidth`, nccl-tests' definition).
"""

from __future__ import annotations

import json
import socket
import tempfile
from pathlib import Path
from typing import Any, Literal

from bench.accept.micro_records import (
    MicroResult,
    MicroSizes,
    allreduce_bus_bandwidth,
    rate_from_times,
)


def measure_allreduce(
    ranks: int, sizes: MicroSizes, *, backend: Literal["nccl", "gloo"] = "nccl"
) -> MicroResult:
    """Bus bandwidth (byte/s) of an all-reduce over `ranks` GPUs; errors become a result.

    `backend="gloo"` reduces CPU tensors between processes instead (timed with
    perf_counter_ns): it exercises the same spawn/rendezvous path on a host without GPUs.
    """
    nbytes = sizes.allreduce_bytes // 2 * 2
    common: dict[str, Any] = {
        "metric": "allreduce_busbw",
        "device": "node",
        "scope": "node",
        "unit": "byte_per_s",
        "work": float(nbytes),
        "params": {"bytes": nbytes, "ranks": ranks, "dtype": "bfloat16", "backend": backend},
        "timer": "cuda_event" if backend == "nccl" else "perf_counter_ns",
    }
    try:
        times = _spawn(ranks, nbytes, sizes, backend)
    except Exception as exc:  # NCCL init failure, a dead rank: reported, not raised
        error = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        return MicroResult(**common, value=None, error=error)
    _, median = rate_from_times(float(nbytes), times)
    busbw = allreduce_bus_bandwidth(nbytes, median, ranks)
    return MicroResult(**common, value=busbw, median_s=median, times_s=times)


def _spawn(ranks: int, nbytes: int, sizes: MicroSizes, backend: str) -> list[float]:
    import torch.multiprocessing as mp

    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="bench-allreduce-") as tmp:
        out = Path(tmp) / "times.json"
        mp.start_processes(
            _worker,
            args=(ranks, port, nbytes, sizes, backend, str(out)),
            nprocs=ranks,
            join=True,
            start_method="spawn",
        )
        return [float(t) for t in json.loads(out.read_text())]


def _worker(
    rank: int, ranks: int, port: int, nbytes: int, sizes: MicroSizes, backend: str, out: str
) -> None:
    import time

    import torch
    import torch.distributed as dist

    cuda = backend == "nccl"
    device = f"cuda:{rank}" if cuda else "cpu"
    if cuda:
        torch.cuda.set_device(rank)
    dist.init_process_group(
        backend, init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=ranks
    )
    try:
        x = torch.zeros(nbytes // 2, dtype=torch.bfloat16, device=device)
        for _ in range(sizes.warmup):
            dist.all_reduce(x)
        dist.barrier()
        if cuda:
            torch.cuda.synchronize()
        times = []
        for _ in range(sizes.repeats):
            if cuda:
                start = torch.cuda.Event(enable_timing=True)
                end = torch.cuda.Event(enable_timing=True)
                start.record()
                for _ in range(sizes.iters):
                    dist.all_reduce(x)
                end.record()
                end.synchronize()
                times.append(start.elapsed_time(end) / 1e3 / sizes.iters)
            else:
                t0 = time.perf_counter_ns()
                for _ in range(sizes.iters):
                    dist.all_reduce(x)
                times.append((time.perf_counter_ns() - t0) / 1e9 / sizes.iters)
        # a collective takes as long as its slowest rank
        t = torch.tensor(times, device=device, dtype=torch.float64)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        if rank == 0:
            Path(out).write_text(json.dumps(t.tolist()))
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
