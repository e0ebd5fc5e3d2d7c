"""Could the client have distorted the measurement? One set of limits for both judges:
`bench run` turns its own client load into warnings, `bench calibrate` into a verdict.

Limits (`LIMITS`), with why:
- cpu_fraction 0.8: a client process above 80 % of a core queues reads behind each
  other, so chunks are stamped late (measured: TTFT error grows past this point). Judged
  twice: the busiest single process against one core, and every client process together
  against the cores they may run on (their affinity mask; two workers confined to one
  core share it, whatever each one's own share).
- loop_lag_p99_s 5 ms: a 10 ms sleep woken more than 5 ms late means timestamps of that
  moment are late too; the warning bounds how late by the largest lag seen plus the
  probe's period (a stall can begin just after a probe went to sleep).
- send_lag_p99_s 5 ms: open loop only; the schedule the client could not keep. TTFT is
  measured from the actual send, so latency stays honest, but the load offered was not
  the load planned.
- ttft_error p50 2 ms / p99 5 ms, ITL p99 within 1 ms, throughput ≥ 98 % of ideal: the
  fidelity targets `bench calibrate` checks against the synthetic server's record.
- server_late_p99_s 1 ms, machine_pressure_pct 20 %, other_cpu_fraction 0.1: if the
  synthetic server itself sent late, or processes other than the calibration's own kept
  runnable tasks waiting for a CPU (Linux pressure-stall information) while using more
  than a tenth of a core, a calibration that fails cannot blame the client
  ("inconclusive").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench.records import ClientLoad, Distribution

LOOP_LAG_PERIOD_S = 0.01  # the probe's sleep (bench.loadgen.drive)


@dataclass(frozen=True)
class ClientLimits:
    cpu_fraction: float = 0.8
    loop_lag_p99_s: float = 0.005
    send_lag_p99_s: float = 0.005
    ttft_error_p50_s: float = 0.002
    ttft_error_p99_s: float = 0.005
    itl_p99_error_s: float = 0.001
    throughput_fraction: float = 0.98
    server_late_p99_s: float = 0.001
    machine_pressure_pct: float = 20.0
    other_cpu_fraction: float = 0.1


LIMITS = ClientLimits()


def busiest_cpu_fraction(worker_cpu_s: list[float], wall_s: float) -> float:
    """Share of one core used by the busiest sending process: max(worker CPU) / wall."""
    if wall_s <= 0 or not worker_cpu_s:
        return 0.0
    return max(worker_cpu_s) / wall_s


def usable_cores(allowed_cpus: int, sending_processes: int) -> int:
    """Cores the client can keep busy: min(CPUs in its affinity mask, processes that
    send), at least 1 (one process never runs on two cores at once)."""
    return max(1, min(allowed_cpus, sending_processes))


def allowed_cpu_fraction(
    cpu_s: float, wall_s: float, allowed_cpus: int, sending_processes: int
) -> float | None:
    """Share of the cores the client may use that its processes used together:

        Σ client CPU (parent and workers) / (wall × usable_cores(allowed, senders))

    Example: two workers confined to one core used 0.46 and 0.47 CPU-s and their parent
    0.02 in 1 s: 0.95 / (1 × min(1, 2)) = 95 %, though neither worker passed 47 %.
    None when the mask is unknown (0 CPUs) or no time passed.
    """
    if wall_s <= 0 or allowed_cpus <= 0:
        return None
    return cpu_s / (wall_s * usable_cores(allowed_cpus, sending_processes))


def loop_lag_bound_s(loop_lag: Distribution, period_s: float = LOOP_LAG_PERIOD_S) -> float | None:
    """How late a timestamp may be because the event loop was busy: the largest lag a
    probe saw plus the probe's period. A stall of L seconds that starts while the probe
    sleeps with d ≤ period left wakes it L − d late, so L ≤ max lag + period."""
    return None if loop_lag.max is None else loop_lag.max + period_s


def _cpus_text(cpus: Sequence[int]) -> str:
    n = len(cpus)
    listed = ",".join(str(c) for c in cpus)
    return f"the {n} core{'s' if n != 1 else ''} they may use (CPU{'s' if n != 1 else ''} {listed})"


def client_warnings(
    cpu_fraction: float,
    loop_lag: Distribution,
    send_lag: Distribution | None,
    *,
    workers: int = 1,
    allowed_fraction: float | None = None,
    allowed_cpus: Sequence[int] = (),
    limits: ClientLimits = LIMITS,
) -> list[str]:
    """Warnings for a client load over `limits` (empty when the client kept up).

    One CPU warning at most: the busiest process over the limit, else all client processes
    together over the limit of the cores their affinity allows (`allowed_fraction`).
    """
    out = []
    if cpu_fraction > limits.cpu_fraction:
        who = "client" if workers == 1 else f"busiest of {workers} client workers"
        out.append(
            f"{who} used {cpu_fraction:.0%} of a core (limit {limits.cpu_fraction:.0%}): "
            "latency may include client overhead (use more --workers or check with "
            "`bench calibrate`)"
        )
    elif allowed_fraction is not None and allowed_fraction > limits.cpu_fraction:
        cores = usable_cores(len(allowed_cpus), workers)
        out.append(
            f"client processes together used {allowed_fraction:.0%} of "
            f"{_cpus_text(allowed_cpus)}"
            + (f" (at most {cores} busy at once)" if cores < len(allowed_cpus) else "")
            + f" (limit {limits.cpu_fraction:.0%}): latency may include client overhead "
            "(allow the workers more cores, e.g. a wider taskset, or check with "
            "`bench calibrate`)"
        )
    if loop_lag.p99 is not None and loop_lag.p99 > limits.loop_lag_p99_s:
        bound = loop_lag_bound_s(loop_lag)
        out.append(
            f"event-loop lag p99 {loop_lag.p99 * 1e3:.1f} ms, max {(loop_lag.max or 0) * 1e3:.1f}"
            f" ms (limit {limits.loop_lag_p99_s * 1e3:g} ms): timestamps (TTFT, ITL) may be "
            f"late by up to {(bound or 0) * 1e3:.1f} ms (the largest lag plus the probe's "
            f"{LOOP_LAG_PERIOD_S * 1e3:g} ms period)"
        )
    if send_lag is not None and send_lag.p99 is not None and send_lag.p99 > limits.send_lag_p99_s:
        out.append(
            f"the client could not keep the arrival schedule: send lag p99 "
            f"{send_lag.p99 * 1e3:.1f} ms, max {(send_lag.max or 0) * 1e3:.1f} ms (limit "
            f"{limits.send_lag_p99_s * 1e3:g} ms); requests went out later than planned, so "
            "the offered rate was lower and burstier than asked (TTFT is still measured "
            "from the actual send); use more --workers or a lower rate"
        )
    return out


def client_load(stats: Any, *, limits: ClientLimits = LIMITS) -> ClientLoad:
    """The client's own load (`DriveStats`), with warnings when it may have distorted the
    measurement. `cpu_fraction` is that of the busiest sending process;
    `allowed_cpu_fraction` that of all client processes over the cores they may use."""
    from bench.metrics.latency import distribution

    lag = distribution(stats.loop_lag_s)
    worker_cpu = list(getattr(stats, "worker_cpu_s", None) or [stats.cpu_s])
    fraction = busiest_cpu_fraction(worker_cpu, stats.wall_s)
    send_lag = distribution(stats.send_lag_s) if stats.send_lag_s else None
    workers = int(getattr(stats, "workers", 1))
    cpus = sorted(getattr(stats, "allowed_cpus", None) or [])
    of_allowed = allowed_cpu_fraction(stats.cpu_s, stats.wall_s, len(cpus), workers)
    return ClientLoad(
        cpu_s=stats.cpu_s,
        wall_s=stats.wall_s,
        cpu_fraction=fraction,
        loop_lag_s=lag,
        send_lag_s=send_lag,
        allowed_cpus=cpus or None,
        allowed_cpu_fraction=of_allowed,
        warnings=client_warnings(
            fraction, lag, send_lag, workers=workers, allowed_fraction=of_allowed,
            allowed_cpus=cpus, limits=limits,
        ),
    )  # fmt: skip
