"""Whole-node power from the BMC with `ipmitool dcmi power reading`.

ipmitool prints (spacing varies by version; some versions run the timestamp and the
sampling period together on one line):

    Instantaneous power reading:                   220 Watts
    Minimum during sampling period:                 42 Watts
    Maximum during sampling period:                390 Watts
    Average power reading over sample period:      218 Watts
    IPMI timestamp:                           Thu Mar 14 10:20:31 2024
    Sampling period:                          00000001 Seconds.
    Power reading state is:                   activated

The instantaneous reading is sampled. "deactivated" is recorded but not rejected: several
BMCs (OpenBMC among them) report it while giving correct readings. A reading of 0 W is
rejected: a running node never draws 0 W, so it means "no reading".
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bench.energy.meter import Clock, SamplingMeter

_FIELDS = {
    "instantaneous_w": r"Instantaneous power reading\s*:\s*(\d+(?:\.\d+)?)\s*Watts",
    "minimum_w": r"Minimum during sampling period\s*:\s*(\d+(?:\.\d+)?)\s*Watts",
    "maximum_w": r"Maximum during sampling period\s*:\s*(\d+(?:\.\d+)?)\s*Watts",
    "average_w": r"Average power reading over sample period\s*:\s*(\d+(?:\.\d+)?)\s*Watts",
}


@dataclass(frozen=True)
class DcmiPowerReading:
    instantaneous_w: float
    minimum_w: float | None
    maximum_w: float | None
    average_w: float | None
    sampling_period_s: float | None
    active: bool | None


class IpmiParseError(ValueError):
    """The output holds no usable power reading; the message quotes what it said instead."""


def parse_dcmi_power_reading(text: str) -> DcmiPowerReading:
    """Parse `ipmitool dcmi power reading` output.

    Raises:
        IpmiParseError: no instantaneous reading, or a reading of 0 W.
    """
    values: dict[str, float | None] = {}
    for key, pattern in _FIELDS.items():
        m = re.search(pattern, text)
        values[key] = float(m.group(1)) if m else None
    instant = values.pop("instantaneous_w")
    if instant is None:
        first = next((ln.strip() for ln in text.splitlines() if ln.strip()), "(empty output)")
        raise IpmiParseError(f"no instantaneous power reading in ipmitool output: {first}")
    if instant <= 0:
        raise IpmiParseError("BMC reported 0 W: no power reading available")
    period = re.search(r"Sampling period\s*:\s*(\d+)\s*(Seconds|Milliseconds)", text)
    period_s = None
    if period:
        period_s = int(period.group(1)) / (1000.0 if period.group(2) == "Milliseconds" else 1.0)
    state = re.search(r"Power reading state is\s*:\s*(\w+)", text)
    return DcmiPowerReading(
        instantaneous_w=instant,
        sampling_period_s=period_s,
        active=(state.group(1) == "activated") if state else None,
        **values,
    )


Runner = Callable[..., "subprocess.CompletedProcess[str]"]


def ipmitool_command(ipmitool: str = "ipmitool", env: Mapping[str, str] | None = None) -> list[str]:
    """The argument list (never a shell string) for one reading.

    In-band (the local BMC through /dev/ipmi0) by default. With TOKENBENCH_IPMI_HOST set, it
    goes over the network (lanplus) as TOKENBENCH_IPMI_USER, with the password taken by
    ipmitool itself from IPMI_PASSWORD (`-E`), so it never appears in a process list.
    """
    env = env or {}
    cmd = [ipmitool]
    host = env.get("TOKENBENCH_IPMI_HOST")
    if host:
        cmd += ["-I", "lanplus", "-H", host, "-U", env.get("TOKENBENCH_IPMI_USER", "ADMIN"), "-E"]
    return [*cmd, "dcmi", "power", "reading"]


def read_dcmi_power(
    cmd: Sequence[str], timeout_s: float, run: Runner = subprocess.run
) -> DcmiPowerReading:
    """Run ipmitool once and parse it.

    Raises:
        IpmiParseError: ipmitool failed, timed out, or printed no usable reading.
    """
    try:
        proc = run(list(cmd), capture_output=True, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        raise IpmiParseError(f"ipmitool did not answer within {timeout_s:.0f} s") from None
    except OSError as exc:
        raise IpmiParseError(f"cannot run ipmitool: {exc}") from None
    if proc.returncode != 0:
        message = (proc.stderr or proc.stdout).strip().splitlines()
        raise IpmiParseError(f"ipmitool exited {proc.returncode}: {message[0] if message else ''}")
    return parse_dcmi_power_reading(proc.stdout)


class IpmiMeter(SamplingMeter):
    """Samples the node's instantaneous DCMI power reading every `period_s` (default 1 s).

    Construction runs ipmitool once, so a meter that exists is one that answered.

    Raises:
        IpmiParseError: ipmitool is missing, fails, or gives no reading.
    """

    kind = "ipmi"

    def __init__(
        self,
        *,
        ipmitool: str = "ipmitool",
        env: Mapping[str, str] | None = None,
        period_s: float = 1.0,
        timeout_s: float = 10.0,
        run: Runner = subprocess.run,
        clock: Clock = time.perf_counter_ns,
    ) -> None:
        super().__init__(period_s, clock)
        if run is subprocess.run and shutil.which(ipmitool) is None:
            raise IpmiParseError(f"{ipmitool} is not installed")
        self.cmd = ipmitool_command(ipmitool, env)
        self.timeout_s = timeout_s
        self.run = run
        first = read_dcmi_power(self.cmd, timeout_s, run)
        self.notes = (
            []
            if first.active is not False
            else [
                "BMC says 'power reading state is: deactivated'; readings kept (several BMCs say "
                "so while reading correctly)"
            ]
        )

    def channel_info(self) -> list[tuple[str, Any, dict[str, Any]]]:
        return [
            (
                "node",
                "node",
                {
                    "power_source": "ipmitool dcmi power reading (instantaneous)",
                    "notes": self.notes,
                },
            )
        ]

    def describe(self) -> str:
        where = "network BMC" if "-H" in self.cmd else "local BMC"
        return f"ipmi: node ({where}, dcmi power reading)"

    def read(self) -> None:
        buf = self.buffers[0]
        t0 = self.clock()
        try:
            reading = read_dcmi_power(self.cmd, self.timeout_s, self.run)
        except IpmiParseError as exc:
            buf.error(self.clock(), str(exc))
            return
        buf.power((t0 + self.clock()) // 2, reading.instantaneous_w)
