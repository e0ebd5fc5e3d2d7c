"""Open the meters readable on this host and run them together around a benchmark.

meters = open_meters("auto", parallel_size=2)
meters.measure_idle(10.0)          # before the load, with the engine up and idle
meters.start()
...run...
trace = meters.stop()
summary = summarize_energy(trace, window_start_ns, window_end_ns, out_tokens, all_tokens)
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from bench.energy.config import DEFAULT_GAP_FACTOR
from bench.energy.meter import Clock, Meter, NullMeter
from bench.energy.records import ChannelTrace, DeviceSelection, EnergyTrace, IdleBaseline
from bench.energy.summary import idle_baseline
from bench.errors import UserError

MeterChoice = Literal["auto", "nvml", "rapl", "ipmi", "redfish", "none"]
METER_CHOICES: tuple[str, ...] = ("auto", "nvml", "rapl", "ipmi", "redfish", "none")


class MeterSet:
    """Meters started and stopped together; `stop()` returns one `EnergyTrace`.

    `measure_idle(s)` runs the meters for `s` seconds before the run and keeps each
    channel's idle power for the trace. A set holding only a `NullMeter` measures nothing
    and its trace says why.
    """

    def __init__(
        self,
        meters: Sequence[Meter],
        *,
        skipped: Mapping[str, str] | None = None,
        selection: DeviceSelection | None = None,
        gap_factor: float = DEFAULT_GAP_FACTOR,
        clock: Clock = time.perf_counter_ns,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.meters = list(meters)
        self.skipped = dict(skipped or {})
        self.selection = selection
        self.gap_factor = gap_factor
        self.clock = clock
        self.sleep = sleep
        self.idle: list[IdleBaseline] = []
        self.idle_channels: list[ChannelTrace] = []
        self.idle_note: str | None = "idle baseline not measured (measure_idle was not called)"
        self._started_ns: int | None = None

    @property
    def measured(self) -> bool:
        """True when at least one real meter is open."""
        return any(not isinstance(m, NullMeter) for m in self.meters)

    @property
    def not_measured_reason(self) -> str | None:
        if self.measured:
            return None
        reasons = [m.reason for m in self.meters if isinstance(m, NullMeter)]
        return "; ".join(reasons) or "no meter"

    def describe(self) -> list[str]:
        """One line per meter, then one per skipped meter with the reason."""
        lines = [m.describe() for m in self.meters if self.measured or not self.skipped]
        return lines + [f"skipped {k}: {v}" for k, v in self.skipped.items()]

    def measure_idle(self, seconds: float) -> list[IdleBaseline]:
        """Measure each channel's idle power for `seconds` (0 turns the baseline off)."""
        if self._started_ns is not None:
            raise RuntimeError("measure_idle must be called before start()")
        if not self.measured:
            self.idle_note = "idle baseline not measured: no meter"
            return []
        if seconds <= 0:
            self.idle_note = "idle baseline turned off (idle time 0 s)"
            return []
        for meter in self.meters:
            meter.start()
        self.sleep(seconds)
        self.idle_channels = [ch for meter in self.meters for ch in meter.stop()]
        self.idle = [idle_baseline(ch, self.gap_factor) for ch in self.idle_channels]
        self.idle_note = None
        return self.idle

    def start(self) -> None:
        if self._started_ns is not None:
            raise RuntimeError("meters already started")
        for meter in self.meters:
            meter.start()
        self._started_ns = self.clock()

    def stop(self) -> EnergyTrace:
        if self._started_ns is None:
            raise RuntimeError("meters were not started")
        stopped = self.clock()
        channels = [ch for meter in self.meters for ch in meter.stop()]
        trace = EnergyTrace(
            started_ns=self._started_ns,
            stopped_ns=stopped,
            channels=channels,
            idle=self.idle,
            idle_channels=self.idle_channels,
            idle_note=self.idle_note,
            selection=self.selection,
            meters=[m.describe() for m in self.meters],
            skipped=self.skipped,
            not_measured_reason=self.not_measured_reason,
        )
        self._started_ns = None
        return trace

    def close(self) -> None:
        for meter in self.meters:
            meter.close()

    def __enter__(self) -> MeterSet:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class _Unavailable(Exception):
    """A meter cannot run on this host; the message says why."""


def _open_nvml(
    parallel_size: int | None, period_s: float, env: Mapping[str, str], nvml: Any
) -> tuple[Meter, DeviceSelection]:
    from bench.energy.nvml import NvmlMeter, gpu_selection
    from bench.nvml.library import NvmlUnavailable, close_library, open_library

    try:
        nv = nvml if nvml is not None else open_library()
    except NvmlUnavailable as exc:
        raise _Unavailable(str(exc)) from None
    try:
        if nv.nvmlDeviceGetCount() == 0:
            raise _Unavailable("NVML found no NVIDIA GPU")
        selection = gpu_selection(nv, parallel_size, env)
        if not selection.gpu_indices:
            raise _Unavailable(f"no GPU selected ({selection.note})")
        return NvmlMeter(selection.gpu_indices, period_s=period_s, nvml=nv), selection
    except (_Unavailable, nv.NVMLError, RuntimeError) as exc:
        close_library(nv)
        raise _Unavailable(str(exc)) from None


def _open_one(
    kind: str,
    *,
    parallel_size: int | None,
    period_s: float,
    node_period_s: float,
    env: Mapping[str, str],
    powercap_root: Path,
    nvml: Any,
) -> tuple[Meter, DeviceSelection | None]:
    """Open one meter kind or raise `_Unavailable` with the reason."""
    if kind == "nvml":
        return _open_nvml(parallel_size, period_s, env, nvml)
    if kind == "rapl":
        from bench.energy.rapl import RaplMeter, RaplUnavailable

        try:
            return RaplMeter(powercap_root, period_s=period_s), None
        except RaplUnavailable as exc:
            raise _Unavailable(str(exc)) from None
    if kind == "ipmi":
        from bench.energy.ipmi import IpmiMeter, IpmiParseError

        try:
            return IpmiMeter(env=env, period_s=node_period_s), None
        except IpmiParseError as exc:
            raise _Unavailable(str(exc)) from None
    if kind == "redfish":
        from bench.energy.redfish import RedfishError, RedfishMeter

        try:
            return RedfishMeter(env, period_s=node_period_s), None
        except RedfishError as exc:
            raise _Unavailable(str(exc)) from None
    raise ValueError(f"unknown meter kind {kind!r}")


def open_meters(
    kind: MeterChoice = "auto",
    *,
    parallel_size: int | None = None,
    period_s: float = 0.1,
    node_period_s: float = 1.0,
    env: Mapping[str, str] | None = None,
    powercap_root: Path = Path("/sys/class/powercap"),
    gap_factor: float = DEFAULT_GAP_FACTOR,
    nvml: Any = None,
) -> MeterSet:
    """Open the meters of `kind`; "auto" opens every one readable here and says why others aren't.

    auto: NVML when a GPU is present (the GPUs the engine uses: CUDA_VISIBLE_DEVICES narrowed
    to `parallel_size`), RAPL when readable, ipmitool when installed and answering, Redfish
    when TOKENBENCH_REDFISH_URL is set and answering. Nothing readable → a `NullMeter`
    whose reason lists each. "none" → a `NullMeter` (metering turned off).

    Raises:
        UserError: a specific meter was asked for and cannot run here.
    """
    env = os.environ if env is None else env
    if kind not in METER_CHOICES:
        raise UserError(
            f"unknown energy meter {kind!r}",
            field="energy.meter",
            fix=f"one of {', '.join(METER_CHOICES)}",
        )
    if kind == "none":
        return MeterSet(
            [NullMeter("energy metering turned off (meter: none)")], gap_factor=gap_factor
        )
    opts = dict(
        parallel_size=parallel_size,
        period_s=period_s,
        node_period_s=node_period_s,
        env=env,
        powercap_root=powercap_root,
        nvml=nvml,
    )
    if kind != "auto":
        try:
            meter, selection = _open_one(kind, **opts)  # type: ignore[arg-type]
        except _Unavailable as exc:
            raise UserError(
                f"energy meter {kind!r} cannot run on this host: {exc}",
                field="energy.meter",
                fix="use 'auto' (every readable meter) or 'none', or fix the cause above",
            ) from None
        return MeterSet([meter], selection=selection, gap_factor=gap_factor)
    meters: list[Meter] = []
    skipped: dict[str, str] = {}
    selection = None
    for name in ("nvml", "rapl", "ipmi", "redfish"):
        try:
            meter, sel = _open_one(name, **opts)  # type: ignore[arg-type]
        except _Unavailable as exc:
            skipped[name] = str(exc)
            continue
        meters.append(meter)
        selection = sel or selection
    if not meters:
        reason = "no readable meter: " + "; ".join(f"{k}: {v}" for k, v in skipped.items())
        meters.append(NullMeter(reason))
    return MeterSet(meters, skipped=skipped, selection=selection, gap_factor=gap_factor)
