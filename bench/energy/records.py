"""Energy records: the raw trace meters produce, and the summary derived from it.

Units are in the names and SI in storage: `*_ns` are `time.perf_counter_ns()` readings (the
same clock as `RequestRecord`), energies in joules, power in watts. A figure that could not be
measured validly is `None` with a `problem` saying why; it is never 0 and never clamped.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from bench.records import Record

Domain = Literal["gpu", "cpu_package", "dram", "node"]
"""What a channel measures: one GPU board, one CPU package, one package's DRAM, a whole node."""

TotalScope = Literal["gpu", "cpu", "node"]
"""Totals add channels of one scope: gpu boards; cpu packages + dram; node (BMC) power."""

MeterKind = Literal["nvml", "rapl", "ipmi", "redfish"]
Method = Literal["counter", "samples"]

SCOPE_OF_DOMAIN: dict[str, TotalScope] = {
    "gpu": "gpu",
    "cpu_package": "cpu",
    "dram": "cpu",
    "node": "node",
}


class GpuStateSample(Record):
    """GPU state read beside the power samples (NVML); `None` where the GPU does not report it."""

    t_ns: int
    power_limit_w: float | None = None
    sm_clock_mhz: float | None = None
    temperature_c: float | None = None
    throttle_reasons: list[str] = Field(default_factory=list)


class MeterError(Record):
    """A read that failed; identical consecutive failures are folded into one entry.

    `device_lost` marks errors that mean the device went away (NVML "GPU is lost", "not found").
    """

    first_ns: int
    last_ns: int
    count: int = 1
    message: str
    device_lost: bool = False


class ChannelTrace(Record):
    """Everything one meter recorded for one device during one start()/stop().

    Power samples (`sample_ns`, `power_w`) and cumulative energy counter readings
    (`counter_ns`, `counter_j`) are parallel lists; either may be empty. `counter_wrap_j` is
    the range after which the counter restarts from 0 (RAPL's max_energy_range_uj); `None`
    means it never wraps, so any decrease is a reset.
    """

    channel: str = Field(description="e.g. gpu0, cpu0-package, cpu0-dram, node")
    domain: Domain
    meter: MeterKind
    replayed: bool = False
    device_name: str | None = None
    gpu_index: int | None = Field(default=None, description="NVML index (PCI bus order)")
    gpu_uuid: str | None = None
    nominal_period_s: float = Field(gt=0)
    power_source: str | None = Field(default=None, description="what the power samples are")
    sample_ns: list[int] = Field(default_factory=list)
    power_w: list[float] = Field(default_factory=list)
    counter_ns: list[int] = Field(default_factory=list)
    counter_j: list[float] = Field(default_factory=list)
    counter_wrap_j: float | None = Field(default=None, gt=0)
    gpu_state: list[GpuStateSample] = Field(default_factory=list)
    errors: list[MeterError] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _parallel_and_ordered(self) -> ChannelTrace:
        if len(self.sample_ns) != len(self.power_w):
            raise ValueError("sample_ns and power_w must have the same length")
        if len(self.counter_ns) != len(self.counter_j):
            raise ValueError("counter_ns and counter_j must have the same length")
        for name, times in (("sample_ns", self.sample_ns), ("counter_ns", self.counter_ns)):
            if any(b < a for a, b in zip(times, times[1:], strict=False)):
                raise ValueError(f"{name} must be non-decreasing (perf_counter_ns readings)")
        return self


class IdleBaseline(Record):
    """Average power of one channel while the system was idle, measured before the run."""

    channel: str
    duration_s: float
    power_w: float | None
    method: Method | None
    problem: str | None = None


class DeviceSelection(Record):
    """Which GPUs the engine uses: the visible set narrowed to the engine's parallel size."""

    cuda_visible_devices: str | None = Field(description="the raw environment value, if set")
    parallel_size: int | None
    gpu_indices: list[int] = Field(default_factory=list, description="NVML indices measured")
    gpu_uuids: list[str] = Field(default_factory=list)
    gpu_names: list[str] = Field(default_factory=list)
    note: str | None = None


class EnergyTrace(Record):
    """What a meter set returns from stop(): every channel's samples plus the idle baseline.

    `started_ns`/`stopped_ns` bound the interval every channel covers (each meter takes a
    reading before `started_ns` and after `stopped_ns`).
    """

    started_ns: int | None = None
    stopped_ns: int | None = None
    channels: list[ChannelTrace] = Field(default_factory=list)
    idle: list[IdleBaseline] = Field(default_factory=list)
    idle_channels: list[ChannelTrace] = Field(default_factory=list)
    idle_note: str | None = None
    selection: DeviceSelection | None = None
    meters: list[str] = Field(default_factory=list, description="what each meter measures")
    skipped: dict[str, str] = Field(default_factory=dict, description="meter -> why not used")
    not_measured_reason: str | None = None


class GpuStateSummary(Record):
    """GPU state over the window: the numbers acceptance checks against the board limit."""

    samples: int
    power_limit_w: float | None = None
    sm_clock_mhz_mean: float | None = None
    sm_clock_mhz_min: float | None = None
    temperature_c_max: float | None = None
    throttle_reasons: list[str] = Field(default_factory=list)


class DeviceEnergy(Record):
    """One channel over the window. Figures are `None` when `valid` is false (see `problem`)."""

    channel: str
    domain: Domain
    source: str = Field(description="meter that measured it, e.g. nvml, nvml (replayed)")
    basis: Literal["measured"] = "measured"
    device_name: str | None = None
    gpu_index: int | None = None
    gpu_uuid: str | None = None
    valid: bool
    problem: str | None = None
    method: Method | None = None
    energy_j: float | None = None
    avg_power_w: float | None = None
    peak_power_w: float | None = None
    idle_power_w: float | None = None
    idle_problem: str | None = None
    energy_above_idle_j: float | None = None
    samples_energy_j: float | None = Field(
        default=None, description="integral of power samples, a cross-check of the counter"
    )
    counter_vs_samples_pct: float | None = None
    samples_in_window: int = 0
    max_gap_s: float | None = None
    gpu_state: GpuStateSummary | None = None


class EnergyTotal(Record):
    """Channels of one scope added up, with the per-token figures derived from them.

    Energy cost is in USD (from `price_usd_per_kwh`, given to `summarize_energy`).
    """

    scope: TotalScope
    channels: list[str]
    sources: list[str]
    basis: Literal["measured"] = "measured"
    valid: bool
    problem: str | None = None
    energy_j: float | None = None
    avg_power_w: float | None = None
    peak_power_w: float | None = None
    idle_power_w: float | None = None
    energy_above_idle_j: float | None = None
    j_per_output_token: float | None = None
    j_per_total_token: float | None = None
    j_per_output_token_above_idle: float | None = None
    output_tokens_per_kwh: float | None = None
    total_tokens_per_kwh: float | None = None
    energy_cost_usd: float | None = None
    energy_cost_usd_per_m_output_tokens: float | None = None


class EnergySummary(Record):
    """Energy of one run's window: per device, per scope, and the headline scope.

    `primary` is the first valid scope in the order gpu, node, cpu; its figures are the
    run's energy per token. `measured` is false when no meter could run (see
    `not_measured_reason`): then there are no figures at all, never zeros.
    """

    measured: bool
    not_measured_reason: str | None = None
    window_start_ns: int
    window_end_ns: int
    window_s: float
    output_tokens: float
    total_tokens: float
    price_usd_per_kwh: float | None = None
    pue: float | None = None
    gap_factor: float
    primary: TotalScope | None = None
    devices: list[DeviceEnergy] = Field(default_factory=list)
    totals: list[EnergyTotal] = Field(default_factory=list)
    selection: DeviceSelection | None = None
    meters: list[str] = Field(default_factory=list)
    skipped: dict[str, str] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)

    def total(self, scope: TotalScope) -> EnergyTotal | None:
        """The total of `scope`, or None when no channel of that scope was measured."""
        return next((t for t in self.totals if t.scope == scope), None)

    def headline(self) -> str:
        """One line for the terminal and summary.md."""
        if not self.measured:
            return f"energy: not measured ({self.not_measured_reason})"
        primary = self.total(self.primary) if self.primary else None
        if primary is None:
            problems = "; ".join(t.problem or "" for t in self.totals if not t.valid)
            return f"energy: invalid ({problems})"
        peak = primary.peak_power_w
        parts = [
            f"energy ({primary.scope}, {'+'.join(primary.sources)}, measured): "
            f"{primary.energy_j:.1f} J over {self.window_s:.2f} s, "
            f"avg {primary.avg_power_w:.1f} W, "
            + ("peak not measured" if peak is None else f"peak {peak:.1f} W")
        ]
        if primary.j_per_output_token is not None:
            parts.append(f"{primary.j_per_output_token:.4g} J/output token")
        if primary.energy_above_idle_j is not None:
            idle_w = primary.idle_power_w
            parts.append(f"above idle {primary.energy_above_idle_j:.1f} J (idle {idle_w:.1f} W)")
        return "; ".join(parts)
