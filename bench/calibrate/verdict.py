"""Can this machine drive the planned benchmark faithfully? A pure function of the figures.

Each check compares one measured figure with its limit from `bench.loadgen.assess.LIMITS`
(the same limits `bench run` warns with). The verdict:
- "pass": every check holds;
- "inconclusive": something failed, but the synthetic server was the limit (its
  lateness p99 over `server_late_p99_s`, or its busiest process over `cpu_fraction` of a
  core) or other processes kept the CPUs busy (pressure over `machine_pressure_pct` while
  processes outside the calibration used over `other_cpu_fraction` of a core; with that
  share unknown, pressure alone), so the rehearsal cannot tell whether the client is at
  fault;
- "fail": a check failed (or requests failed, or went unrecorded) while the server kept
  its schedule: the client is the limit; or the machine is: a bytes-only reader
  (`bench.calibrate.floor`) needed more than `cpu_fraction` of a core for one client
  core's share of the load, so no client could drive it from those cores (this outranks
  "inconclusive": a late server only makes that reader's figure an underestimate). When
  the CPUs were under pressure but other processes were all but idle, the first reason
  says the pressure was the calibration's own: its client and server compete for the
  cores they were given.
"""

from __future__ import annotations

from typing import Literal

from bench.loadgen.assess import LIMITS, ClientLimits
from bench.records import Record

VerdictStatus = Literal["pass", "fail", "inconclusive"]


class Check(Record):
    name: str
    measured: float | None
    limit: float
    unit: str
    ok: bool
    detail: str


class Verdict(Record):
    status: VerdictStatus
    checks: list[Check]
    reasons: list[str]


class Figures(Record):
    """The measured figures a verdict is made from (seconds, fractions)."""

    ttft_error_p50_s: float | None
    ttft_error_p99_s: float | None
    itl_p99_error_s: float | None
    throughput_fraction: float | None
    busiest_cpu_fraction: float
    allowed_cpu_fraction: float | None = None  # all client processes over their usable cores
    loop_lag_p99_s: float | None
    send_lag_p99_s: float | None = None
    failed_requests: int = 0
    unmatched_requests: int = 0
    server_late_p99_s: float | None = None
    server_cpu_fraction: float | None = None  # the synthetic server's busiest process
    cpu_pressure_pct: float | None = None
    other_cpu_fraction: float | None = None  # processes outside the calibration, of a core
    own_cpu_s: float | None = None
    other_cpu_s: float | None = None
    wall_s: float | None = None
    floor_cpu_fraction: float | None = None  # the bytes-only reader's share of one core


def _at_most(name: str, value: float | None, limit: float, unit: str, what: str) -> Check:
    ok = value is not None and value <= limit
    shown = "not measured" if value is None else _fmt(value, unit)
    return Check(name=name, measured=value, limit=limit, unit=unit, ok=ok,
                 detail=f"{what}: {shown} (limit ≤ {_fmt(limit, unit)})")  # fmt: skip


def _fmt(value: float, unit: str) -> str:
    if unit == "s":
        return f"{value * 1e3:.2f} ms"
    return f"{value:.1%}"


def verdict(figures: Figures, limits: ClientLimits = LIMITS) -> Verdict:
    """Checks of `figures` against `limits`, and the overall status (see module doc)."""
    f = figures
    checks = [
        _at_most("ttft_error_p50", f.ttft_error_p50_s, limits.ttft_error_p50_s, "s",
                 "TTFT error p50 (client − server record)"),
        _at_most("ttft_error_p99", f.ttft_error_p99_s, limits.ttft_error_p99_s, "s",
                 "TTFT error p99"),
        _at_most("itl_p99_error", f.itl_p99_error_s, limits.itl_p99_error_s, "s",
                 "|client ITL p99 − server ITL p99|"),
        _at_most("cpu_fraction", f.busiest_cpu_fraction, limits.cpu_fraction, "%",
                 "busiest client process, share of one core"),
        *([_at_most("cpu_allowed", f.allowed_cpu_fraction, limits.cpu_fraction, "%",
                    "all client processes, share of the cores they could use")]
          if f.allowed_cpu_fraction is not None else []),
        _at_most("loop_lag_p99", f.loop_lag_p99_s, limits.loop_lag_p99_s, "s",
                 "event-loop lag p99"),
    ]  # fmt: skip
    tp = f.throughput_fraction
    checks.append(
        Check(name="throughput", measured=tp, limit=limits.throughput_fraction, unit="%",
              ok=tp is not None and tp >= limits.throughput_fraction,
              detail=f"throughput vs ideal: {'not measured' if tp is None else f'{tp:.1%}'}"
              f" (limit ≥ {limits.throughput_fraction:.0%})")
    )  # fmt: skip
    if f.send_lag_p99_s is not None:
        checks.append(_at_most("send_lag_p99", f.send_lag_p99_s, limits.send_lag_p99_s, "s",
                               "open-loop send lag p99 (schedule kept)"))  # fmt: skip
    bad = [c for c in checks if not c.ok]
    reasons = [c.detail for c in bad]
    if f.failed_requests:
        reasons.append(f"{f.failed_requests} requests failed")
    if f.unmatched_requests:
        reasons.append(f"{f.unmatched_requests} client requests have no server record")
    if not reasons:
        return Verdict(status="pass", checks=checks, reasons=[])
    floor = f.floor_cpu_fraction
    if floor is not None and floor > limits.cpu_fraction:
        machine = (
            f"the machine is the limit, not the client: a bytes-only reader (no HTTP, no "
            f"parsing) already needed {floor:.0%} of a core for one client core's share "
            f"of this load (limit {limits.cpu_fraction:.0%}); no client can drive it "
            "faithfully from one core here: spread it with --workers N over N free cores, "
            "or plan a lower load"
        )
        return Verdict(status="fail", checks=checks, reasons=[machine, *reasons])
    why = _not_the_clients(f, limits)
    if why:
        advice = (
            "; the rehearsal cannot judge the client: give the server its own core "
            "(--server-cpu) or rerun when quieter"
        )
        return Verdict(status="inconclusive", checks=checks,
                       reasons=["; ".join(why) + advice, *reasons])  # fmt: skip
    pressure = f.cpu_pressure_pct
    if pressure is not None and pressure > limits.machine_pressure_pct:
        own = (
            f"CPU pressure {pressure:.0f} % came from this calibration's own processes "
            f"(other processes used {f.other_cpu_s or 0:.2f} CPU-s in {f.wall_s or 0:.1f} s, "
            f"this calibration {f.own_cpu_s or 0:.2f}): the client's processes and the "
            "synthetic server compete for the cores they were given; give each its own "
            "(--server-cpu for the server, taskset for the client) or use fewer --workers"
        )
        reasons = [own, *reasons]
    return Verdict(status="fail", checks=checks, reasons=reasons)


def _not_the_clients(f: Figures, limits: ClientLimits) -> list[str]:
    """Why a failure may not be the client's: the server was the limit, or other
    processes kept the CPUs busy (see the module doc)."""
    why = []
    late = f.server_late_p99_s
    if late is not None and late > limits.server_late_p99_s:
        why.append(
            f"the synthetic server itself sent late (lateness p99 {late * 1e3:.2f} ms > "
            f"{limits.server_late_p99_s * 1e3:g} ms)"
        )
    server_cpu = f.server_cpu_fraction
    if server_cpu is not None and server_cpu > limits.cpu_fraction:
        why.append(
            f"the synthetic server was the limit: it used {server_cpu:.0%} of its core "
            f"(limit {limits.cpu_fraction:.0%})"
        )
    pressure, other = f.cpu_pressure_pct, f.other_cpu_fraction
    if pressure is not None and pressure > limits.machine_pressure_pct:
        if other is None:
            why.append(
                f"runnable tasks waited for a CPU (CPU pressure {pressure:.0f} % > "
                f"{limits.machine_pressure_pct:g} %; whose is not known here)"
            )
        elif other > limits.other_cpu_fraction:
            why.append(
                f"other processes kept this machine's CPUs busy (CPU pressure "
                f"{pressure:.0f} % > {limits.machine_pressure_pct:g} %; they used "
                f"{f.other_cpu_s or 0:.2f} CPU-s in {f.wall_s or 0:.1f} s, {other:.0%} of a "
                f"core > {limits.other_cpu_fraction:.0%})"
            )
    return why
