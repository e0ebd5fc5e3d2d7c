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
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pydantic import Field

from bench.metrics.latency import distribution
from bench.records import Distribution, Record
from bench.synth.records import SynthRequestRecord

if TYPE_CHECKING:
    from bench.calibrate.run import CalibrationPlan

END = b"0\r\n\r\n"  # the last chunk of a chunked response
_WARM, _DRAIN, _MEASURE = range(3)
DRAIN_TIMEOUT_NS = 60 * 10**9


class Floor(Record):
    """The bytes-only reader at one client core's share of the plan."""

    concurrency: int
    seconds: float
    chunks_per_s: float
    cpu_fraction: float
    cpu_us_per_chunk: float | None
    server_late_p99_s: float | None
    ttft_error_s: Distribution | None = Field(
        default=None,
        description="the reader's TTFT − the server's, per request sent in the window: the "
        "error no client on this core could beat at this load",
    )


ID_DIGITS = 9
ID_PREFIX = "floor-"


def request_bytes(port: int, input_tokens: int, output_tokens: int) -> bytes:
    """One streamed completions request of `input_tokens` words and `output_tokens` tokens,
    with an `x-request-id: floor-000000000` header whose digits `with_id` replaces."""
    body = json.dumps({
        "model": "synth", "prompt": " ".join(["tok"] * input_tokens),
        "max_tokens": output_tokens, "stream": True,
        "stream_options": {"include_usage": True}, "ignore_eos": True,
    }).encode()  # fmt: skip
    head = (
        f"POST /v1/completions HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\n"
        f"x-request-id: {ID_PREFIX}{'0' * ID_DIGITS}\r\n"
        f"content-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def with_id(request: bytes, k: int) -> bytes:
    """`request` (from `request_bytes`) carrying request number `k` in its id."""
    at = request.index(ID_PREFIX.encode()) + len(ID_PREFIX)
    return request[:at] + b"%09d" % k + request[at + ID_DIGITS :]


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class FloorRun:
    """What `raw_drive` saw: its window (perf_counter_ns), the bytes read and the CPU it
    used in it, and per request sent in it (number, sent_ns, ns of the first read that
    carried an SSE event) — the request's id is `floor-<number>`."""

    window_start_ns: int
    window_end_ns: int
    received: int
    cpu_s: float
    requests: list[tuple[int, int, int]] = field(default_factory=list)


def raw_drive(
    port: int, concurrency: int, warmup_s: float, seconds: float, request: bytes
) -> FloorRun:
    """Closed loop over `concurrency` keep-alive connections, bytes only: each read is
    stamped (one `perf_counter_ns`, as any client must) and searched for `data:` only
    until a request's first event; each request gets its own id (`with_id`).

    Phases as `bench.loadgen.drive`'s closed loop runs them: `warmup_s` of load, then no
    more requests until every one in flight has finished, then the measured window of
    `seconds`, which begins with a request sent on every connection at once (connections
    are all opened before the first request: opening each just before its request would
    stagger them by the connect time). Against an exact server the streams then stay in
    step, hundreds finishing and starting again together, which is the load the client is
    judged under (its TTFT error includes the server's backlog of requests that start
    together: this reader's must too).

    Raises:
        RuntimeError: the server closed a connection, or the warm-up never drained.
    """
    poller = select.epoll()
    socks: dict[int, socket.socket] = {}
    tails: dict[int, bytes] = {}
    inflight: dict[int, list[int]] = {}  # fd -> [request number, sent_ns, first event ns]
    done: list[tuple[int, int, int]] = []
    buf = bytearray(1 << 20)  # one buffer for every read: no allocation (or page fault) each
    view = memoryview(buf)
    pc = time.perf_counter_ns
    number = 0

    def send(fd: int) -> None:
        nonlocal number
        payload = with_id(request, number)
        inflight[fd] = [number, pc(), 0]
        socks[fd].send(payload)
        number += 1

    try:
        for _ in range(concurrency):
            sock = socket.create_connection(("127.0.0.1", port))
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setblocking(False)
            socks[sock.fileno()] = sock
            tails[sock.fileno()] = b""
            poller.register(sock.fileno(), select.EPOLLIN)
        for fd in socks:
            send(fd)
        warm_end = pc() + int(warmup_s * 1e9)
        phase, busy, received, cpu0 = _WARM, len(socks), 0, 0.0
        window_start = window_end = 0
        while True:
            now = pc()
            if phase == _WARM and now >= warm_end:
                phase = _DRAIN
            if phase == _DRAIN and not busy:
                phase, cpu0 = _MEASURE, _cpu_s()
                window_start = pc()
                window_end = window_start + int(seconds * 1e9)
                for fd in socks:
                    send(fd)
            if phase == _MEASURE and now >= window_end:
                break
            if phase == _DRAIN and now > warm_end + DRAIN_TIMEOUT_NS:
                raise RuntimeError("the warm-up's requests did not finish")
            for fd, _ in poller.poll(0.05):
                n = socks[fd].recv_into(buf)
                ts = pc()
                if not n:
                    raise RuntimeError("the synthetic server closed a connection")
                state = inflight[fd]
                if not state[2] and buf.find(b"data:", 0, n) >= 0:
                    state[2] = ts
                tail = (tails[fd] + bytes(view[max(0, n - 5) : n]))[-5:]
                if phase == _MEASURE:
                    received += n
                if tail == END:
                    tail = b""
                    if phase == _MEASURE:
                        done.append((state[0], state[1], state[2]))
                    if phase == _DRAIN:
                        busy -= 1
                    else:
                        send(fd)
                tails[fd] = tail
        cpu = _cpu_s() - cpu0
    finally:
        for sock in socks.values():
            sock.close()
        poller.close()
    return FloorRun(window_start, window_end, received, cpu, done)


def floor_ttft_errors(run: FloorRun, server: Sequence[SynthRequestRecord]) -> list[float]:
    """Per request of `run` the server recorded: (first event − sent) − (server's first
    chunk − received), seconds, as `bench.calibrate.compare.fidelity` computes it."""
    by_id = {r.request_id: r for r in server}
    out = []
    for k, sent_ns, first_ns in run.requests:
        rec = by_id.get(f"cmpl-{ID_PREFIX}{k:0{ID_DIGITS}d}")
        if rec is None or not first_ns or not rec.chunk_sent_ns:
            continue
        server_ttft = rec.chunk_sent_ns[0] - rec.received_ns
        out.append((first_ns - sent_ns - server_ttft) / 1e9)
    return out


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
    from bench.calibrate.run import synth_config
    from bench.synth.control import SynthServer

    config = synth_config(plan)
    concurrency = floor_concurrency(plan, cores=cores)
    warmup = min(2.0, 1.5 * plan.ideal_request_s + 0.2)
    with SynthServer(config) as server:
        port = server.port or 0
        request = request_bytes(port, plan.input_tokens, plan.output_tokens)
        run = raw_drive(port, concurrency, warmup, seconds, request)
        stats = server.stats(since_ns=run.window_start_ns, until_ns=run.window_end_ns)
        errors = floor_ttft_errors(run, server.records())
    span = (run.window_end_ns - run.window_start_ns) / 1e9
    return Floor(
        concurrency=concurrency, seconds=span, chunks_per_s=stats.chunks / span,
        cpu_fraction=run.cpu_s / span,
        cpu_us_per_chunk=run.cpu_s / stats.chunks * 1e6 if stats.chunks else None,
        server_late_p99_s=stats.lateness_p99_s,
        ttft_error_s=distribution(errors) if errors else None,
    )  # fmt: skip
