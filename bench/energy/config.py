"""How a run measures energy (the `energy:` block of a run config)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from bench.config.loading import StrictConfig

DEFAULT_IDLE_S = 10.0
DEFAULT_GAP_FACTOR = 5.0
"""A gap between readings longer than this many nominal periods invalidates a figure."""


class EnergyConfig(StrictConfig):
    """Which meters run alongside the benchmark, and for how long idle power is measured.

    `meter`: auto (every meter readable on this host), one named meter (an error if it cannot
    run here), or none. `idle_s`: idle baseline before the load (0 turns it off).
    `gap_factor`: a gap between readings longer than this many sampling periods invalidates
    the figure.
    """

    meter: Literal["auto", "nvml", "rapl", "ipmi", "redfish", "none"] = "auto"
    idle_s: float = Field(default=DEFAULT_IDLE_S, ge=0, le=3600)
    period_s: float = Field(default=0.1, gt=0, le=5)
    node_period_s: float = Field(default=1.0, gt=0, le=60)
    gap_factor: float = Field(default=DEFAULT_GAP_FACTOR, gt=1)
