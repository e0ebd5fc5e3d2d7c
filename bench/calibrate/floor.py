"""The machine's own floor: what a bytes-only reader costs on this core at the planned load.

A minimal epoll loop (no HTTP parsing, no SSE, no records, no asyncio: `recv_into` one
buffer, count bytes, send the next request when a response ends) drives the synthetic
server over the connections one core of the client carries in the plan. Its CPU
per chunk is what the kernel and a Python loop cost with no client work at all; when even
that needs more of a core than `LIMITS.cpu_fraction`, no client (in any language that
reads each chunk with a syscall) can drive the plan faithfully from one core here: the
fix is more cores (`--workers`), not a better client.

Used by `bench calibrate` (when the rehearsal did not pass) and by
`benchmarks/client_fidelity.py` / `benchmarks/synth_capacity.py`.
"""

from __future__ import annotations

import json
import math
import resource
import select
import socket
import time
from typing import TYPE_CHECKING

from bench.records import Record

if TYPE_CHECKING:
    from bench.calibrate.run import CalibrationPlan

END = b"0\r\n\r\n"  # the last chunk of a chunked response


class Floor(Record):
    """The bytes-only reader at one client core's share of the plan."""

    concurrency: int
    seconds: float
    chunks_per_s: float
    cpu_fraction: float
    cpu_us_per_chunk: float | None
    server_late_p99_s: float | None


def request_bytes(port: int, input_tokens: int, output_tokens: int) -> bytes:
    """One streamed completions request of `input_tokens` words and `output_tokens` tokens."""
    body = json.dumps({
        "model": "synth", "prompt": " ".join(["tok"] * input_tokens),
        "max_tokens": output_tokens, "stream": True,
        "stream_options": {"include_usage": True}, "ignore_eos": True,
    }).encode()  # fmt: skip
    head = (
        f"POST /v1/completions HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\n"
        f"content-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def raw_drive(
    port: int, concurrency: int, warmup_s: float, seconds: float, request: bytes
) -> tuple[int, int, int, float]:
    """Closed loop over `concurrency` keep-alive connections, bytes only.

    Returns (window start ns, window end ns, bytes read in the window, CPU seconds this
    process used in the window).

    Raises:
        RuntimeError: the server closed a connection.
    """
    poller = select.epoll()
    socks: dict[int, socket.socket] = {}
    tails: dict[int, bytes] = {}
    buf = bytearray(1 << 20)  # one buffer for every read: no allocation (or page fault) each
    view = memoryview(buf)
    try:
        for _ in range(concurrency):
            sock = socket.create_connection(("127.0.0.1", port))
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setblocking(False)
            socks[sock.fileno()] = sock
            tails[sock.fileno()] = b""
            poller.register(sock.fileno(), select.EPOLLIN)
            sock.send(request)
        start = time.perf_counter_ns()
        window_start = start + int(warmup_s * 1e9)
        window_end = window_start + int(seconds * 1e9)
        received, now, cpu0 = 0, start, None
        while now < window_end:
            if cpu0 is None and now >= window_start:
                cpu0 = _cpu_s()
            for fd, _ in poller.poll(0.05):
                n = socks[fd].recv_into(buf)
                if not n:
                    raise RuntimeError("the synthetic server closed a connection")
                if cpu0 is not None:
                    received += n
                tail = (tails[fd] + bytes(view[max(0, n - 5) : n]))[-5:]
                if tail == END:
                    socks[fd].send(request)
                    tail = b""
                tails[fd] = tail
            now = time.perf_counter_ns()
        cpu = _cpu_s() - (cpu0 if cpu0 is not None else _cpu_s())
    finally:
        for sock in socks.values():
            sock.close()
        poller.close()
    return window_start, window_end, received, cpu


def floor_concurrency(plan: CalibrationPlan, *, cores: int) -> int:
    """Connections one core of the client carries in the plan: the concurrency (or, open
    loop, the in-flight count rate × request time, capped by max_concurrency) over the
    `cores` the client can keep busy (`bench.calibrate.run.client_cores`): two workers
    confined to one core share it, so that core's reader takes the whole load."""
    from bench.config.run import ConcurrencyLoad

    load = plan.load
    if isinstance(load, ConcurrencyLoad):
        total = load.concurrency
    else:
        total = math.ceil(round(load.rate_per_s * plan.ideal_request_s, 6))
        if load.max_concurrency is not None:
            total = min(total, load.max_concurrency)
    return max(1, math.ceil(total / max(1, cores)))


def measure_floor(plan: CalibrationPlan, seconds: float = 4.0, *, cores: int = 1) -> Floor:
    """Run the bytes-only reader against a fresh synthetic server with the plan's timing,
    at one core's share of the load (`floor_concurrency`)."""
    from bench.synth.control import SynthServer
    from bench.synth.records import SynthConfig

    config = SynthConfig(ttft_s=plan.ttft_s, itl_s=plan.itl_s,
                         tokens_per_chunk=plan.tokens_per_chunk, cpu=plan.server_cpu)  # fmt: skip
    concurrency = floor_concurrency(plan, cores=cores)
    warmup = min(2.0, 1.5 * plan.ideal_request_s + 0.2)
    with SynthServer(config) as server:
        port = server.port or 0
        request = request_bytes(port, plan.input_tokens, plan.output_tokens)
        w0, w1, _, cpu = raw_drive(port, concurrency, warmup, seconds, request)
        stats = server.stats(since_ns=w0, until_ns=w1)
    span = (w1 - w0) / 1e9
    return Floor(
        concurrency=concurrency, seconds=span, chunks_per_s=stats.chunks / span,
        cpu_fraction=cpu / span,
        cpu_us_per_chunk=cpu / stats.chunks * 1e6 if stats.chunks else None,
        server_late_p99_s=stats.lateness_p99_s,
    )  # fmt: skip
