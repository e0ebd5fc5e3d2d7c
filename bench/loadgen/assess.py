"""Could the client have distorted the measurement? One set of limits for both judges:
`bench run` turns its own client load into warnings, `bench calibrate` into a verdict.

Limits (`LIMITS`), with why:
- cpu_fraction 0.8: the busiest client process above 80 % of a core queues reads behind
  each other, so chunks are stamped late (measured: TTFT error grows past this point).
- loop_lag_p99_s 5 ms: a 10 ms sleep woken more than 5 ms late means any timestamp of
  that moment may be that late.
- send_lag_p99_s 5 ms: open loop only; the schedule the client could not keep. TTFT is
  measured from the actual send, so latency stays honest, but the load offered was not
  the load planned.
- ttft_error p50 2 ms / p99 5 ms, ITL p99 within 1 ms, throughput ≥ 98 % of ideal: the
  targets of issue 8, checked by `bench calibrate` against the synthetic server's record.
- server_late_p99_s 1 ms, machine_pressure_pct 20 %: if the synthetic server itself sent
  late, or other processes kept runnable tasks waiting for a CPU (Linux pressure-stall
  information), a calibration that fails cannot blame the client ("inconclusive").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench.records import ClientLoad, Distribution


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


LIMITS = ClientLimits()


def busiest_cpu_fraction(worker_cpu_s: list[float], wall_s: float) -> float:
    """Share of one core used by the busiest sending process: max(worker CPU) / wall."""
    if wall_s <= 0 or not worker_cpu_s:
        return 0.0
    return max(worker_cpu_s) / wall_s


def client_warnings(
    cpu_fraction: float,
    loop_lag: Distribution,
    send_lag: Distribution | None,
    *,
    workers: int = 1,
    limits: ClientLimits = LIMITS,
) -> list[str]:
    """Warnings for a client load over `limits` (empty when the client kept up)."""
    out = []
    if cpu_fraction > limits.cpu_fraction:
        who = "client" if workers == 1 else f"busiest of {workers} client workers"
        out.append(
            f"{who} used {cpu_fraction:.0%} of a core (limit {limits.cpu_fraction:.0%}): "
            "latency may include client overhead (use more --workers or check with "
            "`bench calibrate`)"
        )
    if loop_lag.p99 is not None and loop_lag.p99 > limits.loop_lag_p99_s:
        out.append(
            f"event-loop lag p99 {loop_lag.p99 * 1e3:.1f} ms (limit "
            f"{limits.loop_lag_p99_s * 1e3:g} ms): timestamps may be late by that much"
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
    measurement. `cpu_fraction` is that of the busiest sending process."""
    from bench.metrics.latency import distribution

    lag = distribution(stats.loop_lag_s)
    worker_cpu = list(getattr(stats, "worker_cpu_s", None) or [stats.cpu_s])
    fraction = busiest_cpu_fraction(worker_cpu, stats.wall_s)
    send_lag = distribution(stats.send_lag_s) if stats.send_lag_s else None
    workers = int(getattr(stats, "workers", 1))
    return ClientLoad(
        cpu_s=stats.cpu_s,
        wall_s=stats.wall_s,
        cpu_fraction=fraction,
        loop_lag_s=lag,
        send_lag_s=send_lag,
        warnings=client_warnings(fraction, lag, send_lag, workers=workers, limits=limits),
    )
