"""Measured energy per token: meters, idle baseline, validity, derived figures (issue 5).

Importing this package is light: NVML (`pynvml`) is imported only when an NVML meter opens.

    from bench.energy import open_meters, summarize_energy
"""

from bench.energy.config import DEFAULT_IDLE_S, EnergyConfig
from bench.energy.meterset import MeterSet, open_meters
from bench.energy.records import EnergySummary, EnergyTrace
from bench.energy.summary import summarize_energy

__all__ = [
    "DEFAULT_IDLE_S",
    "EnergyConfig",
    "EnergySummary",
    "EnergyTrace",
    "MeterSet",
    "open_meters",
    "summarize_energy",
]
