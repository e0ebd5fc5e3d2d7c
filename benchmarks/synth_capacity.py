"""How many streamed chunks per second the synthetic server sends on one core.

Not a test: a measurement to run by hand and quote.

    python benchmarks/synth_capacity.py                  # server on CPU 1, client on CPU 0
    python benchmarks/synth_capacity.py --seconds 5 --concurrency 512,1024,2048

The server (`bench.synth`, a subprocess pinned with `--cpu`) streams to a minimal raw-socket
client pinned to another core: epoll, one keep-alive connection per stream, each sending
its next request as soon as the previous response ends (closed loop), counting bytes only.
Every request is 128 prompt words and 256 output tokens, one token per chunk (the setup of
docs/client-fidelity.md). For each load the script reports, over a steady window after warm-up:

- offered: chunks/s the schedule asks for (concurrency × tokens / ideal request time);
- sent: chunks/s the server's own record shows it sent in the window;
- server CPU: its CPU time in the window (from /proc/<pid>/schedstat) as % of one core, and
  CPU µs per chunk; 1e6 / that is the projected ceiling of one fully busy core;
- lateness p50/p99/max: the server's send time minus the schedule, from its record;
- backlog: chunks written while the client had not drained the previous ones.

The saturation row (gap 0.2 ms, far more chunks than one core can send) shows the real
ceiling: what is sent when the server is the bottleneck.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import select
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.calibrate.floor import raw_drive, request_bytes  # noqa: E402
from bench.synth.control import SynthServer  # noqa: E402
from bench.synth.records import SynthConfig  # noqa: E402

PROMPT_WORDS = 128
OUTPUT_TOKENS = 256


@dataclass
class Load:
    concurrency: int
    ttft_s: float
    itl_s: float
    label: str

    @property
    def offered_chunks_per_s(self) -> float:
        request_s = self.ttft_s + (OUTPUT_TOKENS - 1) * self.itl_s
        return self.concurrency * OUTPUT_TOKENS / request_s


def cpu_ns(pid: int) -> int:
    """Time the process's main thread has run on a CPU (ns), from /proc/<pid>/schedstat."""
    with open(f"/proc/{pid}/schedstat") as fh:
        return int(fh.read().split()[0])


def measure(load: Load, warmup_s: float, seconds: float, server_cpu: int) -> dict[str, float]:
    config = SynthConfig(ttft_s=load.ttft_s, itl_s=load.itl_s, cpu=server_cpu)
    with SynthServer(config) as server:
        cpu_before, t_before = cpu_ns(server.pid), time.perf_counter_ns()
        port = server.port or 0
        request = request_bytes(port, PROMPT_WORDS, OUTPUT_TOKENS)
        run = raw_drive(port, load.concurrency, warmup_s, seconds, request)
        w0, w1, received = run.window_start_ns, run.window_end_ns, run.received
        cpu_after, t_after = cpu_ns(server.pid), time.perf_counter_ns()
        stats = server.stats(since_ns=w0, until_ns=w1)
        all_stats = server.stats(since_ns=t_before, until_ns=t_after)
    span_s = (w1 - w0) / 1e9
    cpu_share = (cpu_after - cpu_before) / (t_after - t_before)
    chunks_all = max(all_stats.chunks, 1)
    return {
        "offered": load.offered_chunks_per_s,
        "sent": stats.chunks / span_s,
        "cpu_pct": 100 * cpu_share,
        "cpu_us_per_chunk": (cpu_after - cpu_before) / 1e3 / chunks_all,
        "p50_ms": (stats.lateness_p50_s or 0) * 1e3,
        "p99_ms": (stats.lateness_p99_s or 0) * 1e3,
        "max_ms": (stats.lateness_max_s or 0) * 1e3,
        "backlog": stats.backlogged_chunks,
        "client_mb_s": received / span_s / 1e6,
    }


def raw_send_floor(concurrency: int, seconds: float, server_cpu: int) -> tuple[float, float]:
    """The kernel's price of one chunk: a forked process on the server's CPU sends the
    server's own pre-encoded chunk bytes round-robin over `concurrency` loopback TCP
    connections (one `send` per chunk, no timing, no bookkeeping) while this process
    drains them. Returns (sends/s, CPU µs per send): the ceiling of any server, in any
    language, that makes one `send` per chunk on this machine.
    """
    from bench.synth import wire

    chunk = wire.stream_payloads(
        "completions", "cmpl-synth-0", 0, "synth", prompt_tokens=PROMPT_WORDS,
        max_tokens=3, tokens_per_chunk=1, include_usage=True,
    ).middle  # fmt: skip
    listener = socket.create_server(("127.0.0.1", 0), backlog=4096)
    port = listener.getsockname()[1]
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: the sender
        os.sched_setaffinity(0, {server_cpu})
        conns = [listener.accept()[0] for _ in range(concurrency)]
        for conn in conns:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn.setblocking(False)
        sends = 0
        cpu0, deadline = time.process_time(), time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            full = 0
            for conn in conns:
                try:
                    conn.send(chunk)
                    sends += 1
                except BlockingIOError:
                    full += 1
            if full:  # the reader is behind: wait rather than spin on full buffers
                time.sleep(0.001)
        cpu = time.process_time() - cpu0
        os.write(write_end, f"{sends} {cpu}".encode())
        os._exit(0)
    socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(concurrency)]
    poller = select.epoll()
    by_fd = {}
    for sock in socks:
        sock.setblocking(False)
        poller.register(sock.fileno(), select.EPOLLIN)
        by_fd[sock.fileno()] = sock
    end = time.perf_counter() + seconds + 1.0
    buf = bytearray(1 << 20)
    while time.perf_counter() < end:
        for fd, _ in poller.poll(0.05):
            with contextlib.suppress(BlockingIOError):
                by_fd[fd].recv_into(buf)
    sends_text, cpu_text = os.read(read_end, 100).decode().split()
    os.waitpid(pid, 0)
    for sock in socks:
        sock.close()
    listener.close()
    sends, cpu_s = int(sends_text), float(cpu_text)
    return sends / seconds, cpu_s / sends * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", default="256,512,1024")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--server-cpu", type=int, default=1)
    parser.add_argument("--client-cpu", type=int, default=0)
    args = parser.parse_args()
    os.sched_setaffinity(0, {args.client_cpu})
    loads = [Load(int(c), 0.05, 0.005, "TTFT 50 ms, gap 5 ms") for c in args.concurrency.split(",")]
    loads.append(Load(512, 0.05, 0.001, "TTFT 50 ms, gap 1 ms"))
    loads.append(Load(1024, 0.05, 0.0002, "saturation: gap 0.2 ms"))
    floor_rate, floor_us = raw_send_floor(512, args.seconds, args.server_cpu)
    print(
        f"synthetic server on CPU {args.server_cpu}, raw-socket client on CPU {args.client_cpu};"
        f" {PROMPT_WORDS} prompt words, {OUTPUT_TOKENS} tokens, 1 token/chunk;"
        f" window {args.seconds:g} s after {args.warmup:g} s warm-up"
    )
    header = (
        f"{'load':<24}{'conc':>6}{'offered/s':>11}{'sent/s':>10}{'srv CPU':>9}"
        f"{'us/chunk':>10}{'ceiling/s':>11}{'late p50':>10}{'p99':>8}{'max':>8}"
        f"{'backlog':>9}{'client MB/s':>12}"
    )
    print(
        f"kernel floor (raw send() per chunk, 512 conns): {floor_rate:,.0f} sends/s,"
        f" {floor_us:.2f} CPU us per send -> ceiling {1e6 / floor_us:,.0f} sends/s per core"
    )
    print(header)
    for load in loads:
        r = measure(load, args.warmup, args.seconds, args.server_cpu)
        print(
            f"{load.label:<24}{load.concurrency:>6}{r['offered']:>11,.0f}{r['sent']:>10,.0f}"
            f"{r['cpu_pct']:>8.0f}%{r['cpu_us_per_chunk']:>10.2f}"
            f"{1e6 / r['cpu_us_per_chunk']:>11,.0f}{r['p50_ms']:>8.2f}ms{r['p99_ms']:>6.2f}ms"
            f"{r['max_ms']:>6.1f}ms{r['backlog']:>9,.0f}{r['client_mb_s']:>12.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
