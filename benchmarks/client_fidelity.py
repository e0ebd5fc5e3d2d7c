"""How faithful tokenbench's streaming client is on this machine (docs/client-fidelity.md).

Not a test: a measurement to run by hand and quote.

    python benchmarks/client_fidelity.py                    # client on CPU 0, server on CPU 1
    python benchmarks/client_fidelity.py --seconds 10 --repeats 3

Every request: 128 prompt tokens, 256 output tokens, one token per chunk; the synthetic
server (`bench.synth`, pinned to --server-cpu) sends TTFT 50 ms, then a chunk every 5 ms,
and records when it actually sent each one. The client (`bench calibrate`'s run: the same
`drive` as `bench run`) is pinned to --client-cpu; its worker processes inherit the pin.

Rows:
- floor: a minimal raw-socket epoll client (bytes only; `bench.calibrate.floor`) at the
  largest concurrency: what the kernel and Python cost with no HTTP or SSE work at all,
  and the TTFT error even that reader has (matched with the server's record by request
  id); the closing lines compare the client's TTFT error p99 at that load with it.
- concurrency 64 … 512 (--concurrency) at a 5 ms gap: throughput vs ideal (chunks/s
  received in the steady window ÷ C × 256 / 1.325 s), TTFT error p50/p99 (client TTFT − the server's
  own TTFT for that request, by X-Request-Id) and vs the configured 50 ms, per-chunk ITL
  p99 of client vs server.
- saturation (gap 0.2 ms, far more than one server core can send): the most chunks/s the
  client took in, its CPU µs per chunk, and 1e6 / that = the projected one-core ceiling.
- worker scaling: C=64 with no gap, so every answer arrives in one burst and the client's
  parsing is the work; one worker on the client CPU, then N workers allowed the client and
  the server CPU (on 2 cores there is no free one). Chunks/s, the busiest process's share of
  a core and CPU µs per chunk of all client processes (parent included): a busiest worker
  under 80 % while chunks/s rise means workers add capacity; the rest is the machine.
Each row also prints the server's own lateness and the CPU pressure (/proc/pressure/cpu
"some avg10": share of time runnable tasks waited for a CPU) it was measured under, and,
for a row that did not pass, the bytes-only reader's share of a core at that load ("floor
CPU"; over 80 %: the machine is the limit, not the client).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.calibrate.floor import Floor  # noqa: E402
from bench.calibrate.machine import cpu_pressure_pct  # noqa: E402
from bench.calibrate.run import CalibrationPlan, CalibrationReport  # noqa: E402
from bench.config.run import ConcurrencyLoad  # noqa: E402

TTFT_S, GAP_S, INPUT, OUTPUT = 0.05, 0.005, 128, 256


def calibrate(concurrency: int, gap_s: float, seconds: float, workers: int, server_cpu: int,
              floor: bool, ttft_s: float = TTFT_S, num_requests: int | None = None,
              server_processes: int = 1) -> CalibrationReport:  # fmt: skip
    from bench.calibrate.run import run_calibration

    plan = CalibrationPlan(
        load=ConcurrencyLoad(concurrency=concurrency), input_tokens=INPUT, output_tokens=OUTPUT,
        ttft_s=ttft_s, itl_s=gap_s, workers=workers, duration_s=seconds, server_cpu=server_cpu,
        floor=floor, num_requests=num_requests, server_processes=server_processes,
    )  # fmt: skip
    return run_calibration(plan)


def raw_floor(concurrency: int, seconds: float, server_cpu: int, server_processes: int) -> Floor:
    """The bytes-only epoll reader (`bench.calibrate.floor`, what `bench calibrate` times
    when a rehearsal fails) at the full load on one core, with its own TTFT error."""
    from bench.calibrate.floor import measure_floor

    plan = CalibrationPlan(load=ConcurrencyLoad(concurrency=concurrency), input_tokens=INPUT,
                           output_tokens=OUTPUT, ttft_s=TTFT_S, itl_s=GAP_S,
                           server_cpu=server_cpu,
                           server_processes=server_processes)  # fmt: skip
    return measure_floor(plan, seconds, cores=1)


def ms(x: float | None) -> str:
    return f"{'—':>9}" if x is None else f"{x * 1e3:9.2f}"


def fidelity_row(label: str, rep: CalibrationReport) -> str:
    f, i, c = rep.fidelity, rep.ingest, rep.client
    vs_config = None if f.client_ttft_s.p50 is None else f.client_ttft_s.p50 - TTFT_S
    return (
        f"{label:<22}{i.achieved_chunks_per_s:>10,.0f}{i.throughput_fraction:>9.1%}"
        f"{ms(f.ttft_error_s.p50)}{ms(f.ttft_error_s.p99)}{ms(vs_config)}"
        f"{ms(f.client_itl_p99_s)}{ms(f.server_itl_p99_s)}{c.cpu_fraction:>7.0%}"
        f"{i.cpu_us_per_chunk or 0:>8.2f}{ms(rep.server.lateness_p99_s)}"
        f"{rep.cpu_pressure_pct or 0:>6.0f}%"
        + (f"{rep.floor.cpu_fraction:>7.0%}" if rep.floor else f"{'—':>7}")
        + f"  {rep.verdict.status}"
        + (" (machine limit)" if rep.verdict.reasons[:1] and
           rep.verdict.reasons[0].startswith("the machine is the limit") else "")
    )  # fmt: skip


def floor_row(floor: Floor) -> str:
    t = floor.ttft_error_s
    us = floor.cpu_us_per_chunk or 0.0
    return (
        f"floor (raw epoll, bytes only, C={floor.concurrency}): {floor.chunks_per_s:,.0f} "
        f"chunks/s, {us:.2f} CPU µs per chunk -> ~{1e6 / us if us else 0:,.0f} chunks/s per "
        f"core; TTFT error p50 {ms(t.p50 if t else None).strip()} ms, p99 "
        f"{ms(t.p99 if t else None).strip()} ms; server late p99 "
        f"{ms(floor.server_late_p99_s).strip()} ms; pressure {cpu_pressure_pct() or 0:.0f}%"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--client-cpu", type=int, default=0)
    parser.add_argument("--server-cpu", type=int, default=1)
    parser.add_argument(
        "--server-processes",
        type=int,
        default=1,
        help="synthetic server processes on one port (CPUs server-cpu …)",
    )
    parser.add_argument(
        "--concurrency",
        default="64,256,384,512",
        help="concurrencies of the 5 ms rows (the issue's table: 64 and 512)",
    )
    parser.add_argument("--workers", default="1,2",
                        help="worker counts for the scaling rows ('' for none)")  # fmt: skip
    parser.add_argument("--saturation", action=argparse.BooleanOptionalAction, default=True,
                        help="the saturation-ingest row")  # fmt: skip
    parser.add_argument("--nice", type=int, default=None,
                        help="run client and server at this niceness (e.g. -20 on a shared, "
                        "busy machine; needs root); the output says so")  # fmt: skip
    args = parser.parse_args()
    os.sched_setaffinity(0, {args.client_cpu})
    if args.nice is not None:  # inherited by the server subprocess and the client workers
        os.setpriority(os.PRIO_PROCESS, 0, args.nice)
    loads = [int(c) for c in args.concurrency.split(",")]
    top = max(loads)
    print(
        f"client pinned to CPU {args.client_cpu}, synthetic server to CPU {args.server_cpu}"
        + (f" (+{args.server_processes - 1} more processes)" if args.server_processes > 1
           else "")
        + f"; {INPUT} in, {OUTPUT} out, 1 token/chunk, TTFT {TTFT_S * 1e3:g} ms, gap "
        f"{GAP_S * 1e3:g} ms; {args.seconds:g} s measured per row; niceness "
        f"{os.getpriority(os.PRIO_PROCESS, 0)}; CPU pressure now {cpu_pressure_pct()}%; "
        f"load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )  # fmt: skip
    floors = []
    for _ in range(args.repeats):
        floors.append(raw_floor(top, args.seconds, args.server_cpu, args.server_processes))
        print(floor_row(floors[-1]), flush=True)
    ideal = top * OUTPUT / (TTFT_S + (OUTPUT - 1) * GAP_S)
    print(f"(C={top} at a 5 ms gap offers {ideal:,.0f} chunks/s, each in its own read: a core "
          f"whose floor is near that cannot take them all in time, whatever the client)",
          flush=True)  # fmt: skip
    print(
        f"\n{'load':<22}{'chunks/s':>10}{'vs ideal':>9}{'TTFT err':>9}{'p99':>9}"
        f"{'vs 50ms':>9}{'ITL p99':>9}{'server':>9}{'cl CPU':>7}{'µs/chk':>8}"
        f"{'srv late':>9}{'press':>7}{'floor':>7}  verdict\n"
        f"{'':<22}{'':>10}{'':>9}{'p50 ms':>9}{'ms':>9}{'p50 ms':>9}{'client ms':>9}"
        f"{'ITL p99':>9}{'':>7}{'':>8}{'p99 ms':>9}{'':>7}{'CPU':>7}",
        flush=True,
    )
    tops = []
    for _ in range(args.repeats):
        for conc in loads:
            rep = calibrate(conc, GAP_S, args.seconds, 1, args.server_cpu, True,
                            server_processes=args.server_processes)  # fmt: skip
            print(fidelity_row(f"C={conc} gap 5 ms", rep), flush=True)
            if conc == top:
                tops.append(rep)
    print(f"\nC={top}: client TTFT error p99 vs the bytes-only floor reader's (target: ≤ 2×):",
          flush=True)  # fmt: skip
    for i, (rep, floor) in enumerate(zip(tops, floors, strict=False)):
        mine = rep.fidelity.ttft_error_s.p99
        base = floor.ttft_error_s.p99 if floor.ttft_error_s else None
        ratio = f"{mine / base:.2f}×" if mine is not None and base else "not measured"
        print(f"  pass {i + 1}: client {ms(mine).strip()} ms, floor {ms(base).strip()} ms "
              f"-> {ratio}", flush=True)  # fmt: skip
    if args.saturation:
        print("\nsaturation (C=512, gap 0.2 ms: several events per read), one client process:",
              flush=True)  # fmt: skip
        for _ in range(args.repeats):
            rep = calibrate(512, 0.0002, args.seconds, 1, args.server_cpu, False,
                            server_processes=args.server_processes)  # fmt: skip
            print(ingest_row("workers=1", rep), flush=True)
    worker_counts = [int(w) for w in args.workers.split(",") if w]
    if worker_counts:
        print(
            f"\nworker scaling (C=64, TTFT 1 ms, no gap: each answer's {OUTPUT} chunks in one "
            "burst, so the work is the client's own parsing); one worker on the client CPU, "
            "more workers on the client and the server CPU:",
            flush=True,
        )
    for workers in worker_counts:
        cpus = {args.client_cpu} if workers == 1 else {args.client_cpu, args.server_cpu}
        os.sched_setaffinity(0, cpus)  # spawned workers inherit it
        for _ in range(args.repeats):
            rep = calibrate(64, 0.0, args.seconds, workers, args.server_cpu, False,
                            ttft_s=0.001, num_requests=50_000)  # fmt: skip
            print(ingest_row(f"workers={workers} on CPUs {sorted(cpus)}", rep), flush=True)
        time.sleep(0.5)
    os.sched_setaffinity(0, {args.client_cpu})
    print(f"\nend: CPU pressure {cpu_pressure_pct()}%, load average "
          f"{os.getloadavg()[0]:.2f}", flush=True)  # fmt: skip


def ingest_row(label: str, rep: CalibrationReport) -> str:
    i = rep.ingest
    per_core = 1e6 / i.cpu_us_per_chunk if i.cpu_us_per_chunk else 0.0
    return (
        f"{label}: {i.achieved_chunks_per_s:,.0f} chunks/s taken in, busiest process "
        f"{rep.client.cpu_fraction:.0%} of a core, {i.cpu_us_per_chunk or 0:.2f} CPU µs per "
        f"chunk (all processes) -> ~{per_core:,.0f} chunks/s per core; server late p99 "
        f"{ms(rep.server.lateness_p99_s).strip()} ms; pressure {rep.cpu_pressure_pct or 0:.0f}%"
        f"; {rep.fidelity.matched} requests, {rep.requests_failed} failed"
    )


if __name__ == "__main__":
    main()
