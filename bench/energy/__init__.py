"""Measured energy per token: meters, idle baseline, validity, derived figures.

Importing this package is light: names load on first use, and NVML (`pynvml`, through
`bench.nvml`) is opened only when an NVML meter opens. `bench.energy.records` (the trace and
the summary a Report embeds) imports only `bench.records`.

    from bench.energy import open_meters, summarize_energy
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "DEFAULT_IDLE_S": "bench.energy.config",
    "EnergyConfig": "bench.energy.config",
    "MeterSet": "bench.energy.meterset",
    "open_meters": "bench.energy.meterset",
    "EnergySummary": "bench.energy.records",
    "EnergyTrace": "bench.energy.records",
    "summarize_energy": "bench.energy.summary",
    "energy_markdown": "bench.energy.text",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'bench.energy' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
