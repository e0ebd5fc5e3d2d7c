"""Who kept the CPUs busy during a rehearsal: the calibration's own processes, or others?

Linux's CPU pressure (`/proc/pressure/cpu`) says that runnable tasks waited for a CPU, not
whose: two client workers confined to one core, or a synthetic server sharing the client's
core, raise it as surely as a compiler running next door. So a rehearsal also counts CPU
time, over the same window:

    own   = CPU of this process and of its children that ended in the window (rusage
            SELF + CHILDREN: the client's worker processes and the synthetic server, all
            joined before the window closes)
    busy  = CPU time every process of the machine used (/proc/stat: user + nice + system
            + irq + softirq; guest time is inside user; steal is the hypervisor's)
    other = busy − own (clamped at 0: the two are counted by different clocks, so a
            quiet machine can show a few ms either way)

Only `other` can blame "other processes"; pressure without it is the calibration's own
contention, itself a finding (the client and the server do not fit the cores they were
given).
"""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass
from pathlib import Path

from bench.records import Record

_BUSY_FIELDS = (0, 1, 2, 5, 6)  # user nice system [idle iowait] irq softirq


class MachineUse(Record):
    """CPU time over a rehearsal's window, split between the calibration and the rest."""

    wall_s: float
    own_cpu_s: float
    other_cpu_s: float | None
    other_cpu_fraction: float | None  # other_cpu_s / wall_s: a share of one core
    cpu_pressure_pct: float | None  # the worst "some avg10" seen at the window's ends


def cpu_pressure_pct() -> float | None:
    """Share of the last 10 s some runnable task waited for a CPU (/proc/pressure/cpu)."""
    try:
        first = Path("/proc/pressure/cpu").read_text().splitlines()[0]
    except (OSError, IndexError):
        return None
    return float(first.split()[1].removeprefix("avg10="))


def busy_cpu_s(stat_line: str | None = None) -> float | None:
    """CPU-seconds every process of the machine has used since boot, from the first line
    of /proc/stat: (user + nice + system + irq + softirq) / clock ticks per second."""
    if stat_line is None:
        try:
            with open("/proc/stat", encoding="ascii") as fh:
                stat_line = fh.readline()
        except OSError:
            return None
    fields = stat_line.split()
    if not fields or fields[0] != "cpu":
        return None
    ticks = [int(x) for x in fields[1:]]
    return sum(ticks[i] for i in _BUSY_FIELDS if i < len(ticks)) / os.sysconf("SC_CLK_TCK")


def own_cpu_s() -> float:
    """CPU-seconds of this process and of its children that have ended and been waited for."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def other_cpu(
    busy_s: float | None, own_s: float, wall_s: float
) -> tuple[float | None, float | None]:
    """(other processes' CPU-seconds, their share of one core) = (max(0, busy − own),
    that / wall); (None, None) when the machine's total is unknown.

    Example: the machine used 25.41 CPU-s in 25 s, the calibration 25.40: others 0.01
    CPU-s, 0.04 % of a core.
    """
    if busy_s is None or wall_s <= 0:
        return None, None
    other = max(0.0, busy_s - own_s)
    return other, other / wall_s


@dataclass
class MachineMeter:
    """Counts CPU time from `start()` to `stop()` (children must be waited for by then)."""

    t0: float = 0.0
    own0: float = 0.0
    busy0: float | None = None
    pressure0: float | None = None

    def start(self) -> None:
        self.pressure0 = cpu_pressure_pct()
        self.t0, self.own0, self.busy0 = time.perf_counter(), own_cpu_s(), busy_cpu_s()

    def stop(self) -> MachineUse:
        wall = time.perf_counter() - self.t0
        own = own_cpu_s() - self.own0
        busy_end = busy_cpu_s()
        busy = None if busy_end is None or self.busy0 is None else busy_end - self.busy0
        other_s, other_fraction = other_cpu(busy, own, wall)
        known = [p for p in (self.pressure0, cpu_pressure_pct()) if p is not None]
        return MachineUse(
            wall_s=wall, own_cpu_s=own, other_cpu_s=other_s, other_cpu_fraction=other_fraction,
            cpu_pressure_pct=max(known) if known else None,
        )  # fmt: skip
