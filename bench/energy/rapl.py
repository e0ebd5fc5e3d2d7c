"""CPU package and DRAM energy from Linux powercap (RAPL): `/sys/class/powercap/intel-rapl:*`.

Each zone has `name` (package-N, dram, core, uncore, psys), `energy_uj` (a counter that
restarts from 0 after `max_energy_range_uj`) and sub-zones `intel-rapl:N:M`. We read the
package zones and their dram sub-zones (core and uncore are inside the package; psys
overlaps everything; `intel-rapl-mmio` repeats the package). Since the PLATYPUS fix
(CVE-2020-8694) `energy_uj` is often readable by root only.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.energy.meter import Clock, SamplingMeter
from bench.energy.records import Domain

DEFAULT_POWERCAP = Path("/sys/class/powercap")
_ZONE = re.compile(r"^intel-rapl:(\d+)(?::(\d+))?$")


@dataclass(frozen=True)
class RaplDomain:
    channel: str
    domain: Domain
    energy_path: Path
    wrap_j: float


class RaplUnavailable(Exception):
    """RAPL cannot be read here; the message says why."""


def find_rapl_domains(root: Path = DEFAULT_POWERCAP) -> list[RaplDomain]:
    """Package and DRAM zones under `root` whose counters can be read now.

    Raises:
        RaplUnavailable: no powercap tree, no RAPL zones, or counters not readable.
    """
    if not root.is_dir():
        raise RaplUnavailable(f"{root} does not exist (no powercap in this kernel or container)")
    zones = sorted((p for p in root.iterdir() if _ZONE.match(p.name)), key=lambda p: p.name)
    if not zones:
        raise RaplUnavailable(f"no intel-rapl zones under {root} (CPU or kernel without RAPL)")
    found: list[RaplDomain] = []
    for zone in zones:
        match = _ZONE.match(zone.name)
        assert match is not None
        package = int(match.group(1))
        name = _read_text(zone / "name")
        if match.group(2) is None and name.startswith("package-"):
            channel, domain = f"cpu{package}-package", "cpu_package"
        elif match.group(2) is not None and name == "dram":
            channel, domain = f"cpu{package}-dram", "dram"
        else:
            continue
        try:
            int(_read_text(zone / "energy_uj"))
            wrap_uj = int(_read_text(zone / "max_energy_range_uj"))
        except PermissionError:
            raise RaplUnavailable(
                f"permission denied reading {zone / 'energy_uj'} (root-only since the PLATYPUS "
                "fix; run as root or make energy_uj readable)"
            ) from None
        except (OSError, ValueError) as exc:
            raise RaplUnavailable(f"cannot read {zone}: {exc}") from None
        found.append(RaplDomain(channel, domain, zone / "energy_uj", wrap_uj / 1e6))  # type: ignore[arg-type]
    if not found:
        raise RaplUnavailable(f"no package or dram zone under {root}")
    return found


def _read_text(path: Path) -> str:
    return path.read_text(encoding="ascii").strip()


class RaplMeter(SamplingMeter):
    """Reads every package and dram counter each period (µJ → J, wraps undone later)."""

    kind = "rapl"

    def __init__(
        self,
        root: Path = DEFAULT_POWERCAP,
        *,
        period_s: float = 0.1,
        clock: Clock = time.perf_counter_ns,
    ) -> None:
        super().__init__(period_s, clock)
        self.domains = find_rapl_domains(root)

    def channel_info(self) -> list[tuple[str, Any, dict[str, Any]]]:
        return [
            (
                d.channel,
                d.domain,
                {"counter_wrap_j": d.wrap_j, "device_name": d.energy_path.parent.name},
            )
            for d in self.domains
        ]

    def describe(self) -> str:
        return "rapl: " + ", ".join(d.channel for d in self.domains)

    def read(self) -> None:
        for dom, buf in zip(self.domains, self.buffers, strict=True):
            try:
                t0 = self.clock()
                microjoules = int(_read_text(dom.energy_path))
                t = (t0 + self.clock()) // 2
            except (OSError, ValueError) as exc:
                buf.error(self.clock(), f"RAPL read failed: {exc}")
                continue
            buf.counter(t, microjoules / 1e6)
