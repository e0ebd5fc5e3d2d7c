"""The meter seam: one interface, a threaded sampling base, and the null and replay meters.

A meter is started before the work and stopped after it; `stop()` returns one
`ChannelTrace` per device it measured. Sampling meters read once synchronously in `start()`
and in `stop()`, so every channel covers the whole [start, stop] interval, and in between a
background thread reads every `period_s` (timestamps from `time.perf_counter_ns()`).
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

from bench.energy.records import (
    ChannelTrace,
    Domain,
    EnergyTrace,
    GpuStateSample,
    MeterError,
    MeterKind,
)

Clock = Callable[[], int]


@runtime_checkable
class Meter(Protocol):
    """What a meter set needs from a meter."""

    name: str

    def describe(self) -> str:
        """What this meter measures, e.g. 'nvml: gpu0 (NVIDIA H100 80GB HBM3), counter+power'."""
        ...

    def start(self) -> None: ...

    def stop(self) -> list[ChannelTrace]: ...

    def close(self) -> None: ...


class ChannelBuffer:
    """Readings of one channel while a meter runs (appended from the sampling thread)."""

    def __init__(self, channel: str, domain: Domain, **info: Any) -> None:
        self.channel = channel
        self.domain = domain
        self.info = info
        self.sample_ns: list[int] = []
        self.power_w: list[float] = []
        self.counter_ns: list[int] = []
        self.counter_j: list[float] = []
        self.gpu_state: list[GpuStateSample] = []
        self.errors: list[MeterError] = []

    def power(self, t_ns: int, watts: float) -> None:
        self.sample_ns.append(t_ns)
        self.power_w.append(float(watts))

    def counter(self, t_ns: int, joules: float) -> None:
        self.counter_ns.append(t_ns)
        self.counter_j.append(float(joules))

    def error(self, t_ns: int, message: str, device_lost: bool = False) -> None:
        """Record a failed read; a repeat of the previous message extends that entry."""
        last = self.errors[-1] if self.errors else None
        if last is not None and last.message == message and last.device_lost == device_lost:
            self.errors[-1] = last.model_copy(update={"last_ns": t_ns, "count": last.count + 1})
        else:
            self.errors.append(
                MeterError(first_ns=t_ns, last_ns=t_ns, message=message, device_lost=device_lost)
            )

    def trace(self, meter: MeterKind, period_s: float) -> ChannelTrace:
        return ChannelTrace(
            channel=self.channel,
            domain=self.domain,
            meter=meter,
            nominal_period_s=period_s,
            sample_ns=self.sample_ns,
            power_w=self.power_w,
            counter_ns=self.counter_ns,
            counter_j=self.counter_j,
            gpu_state=self.gpu_state,
            errors=self.errors,
            **self.info,
        )


class SamplingMeter(ABC):
    """A meter that reads its devices every `period_s` on a background thread.

    Subclasses set `kind`, build `self.buffers` in `__init__` and implement `read()`, which
    reads every device once and appends to the buffers (errors go to `ChannelBuffer.error`,
    never raised). An exception escaping `read()` is a bug; it is recorded on every channel
    so the figures become invalid instead of silently stopping.
    """

    kind: ClassVar[MeterKind]

    def __init__(self, period_s: float, clock: Clock = time.perf_counter_ns) -> None:
        if period_s <= 0:
            raise ValueError("period_s must be > 0")
        self.name: str = self.kind
        self.period_s = period_s
        self.clock = clock
        self.buffers: list[ChannelBuffer] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @abstractmethod
    def read(self) -> None:
        """Read every device once, appending to `self.buffers`."""

    @abstractmethod
    def describe(self) -> str: ...

    def channel_info(self) -> list[tuple[str, Domain, dict[str, Any]]]:
        """(channel, domain, extra ChannelTrace fields) for each buffer, to rebuild them."""
        return [(b.channel, b.domain, b.info) for b in self.buffers]

    def _safe_read(self) -> None:
        try:
            self.read()
        except Exception as exc:  # a bug in read(): keep it visible in the trace
            now = self.clock()
            for buf in self.buffers:
                buf.error(now, f"sampler error: {type(exc).__name__}: {exc}")

    def _loop(self) -> None:
        period_ns = int(self.period_s * 1e9)
        next_ns = self.clock() + period_ns
        while not self._stop.wait(max(0.0, (next_ns - self.clock()) / 1e9)):
            self._safe_read()
            next_ns += period_ns
            now = self.clock()
            if next_ns <= now:  # fell behind (slow read): skip missed slots, do not burst
                next_ns = now + period_ns

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError(f"{self.name} meter already started")
        self.buffers = [ChannelBuffer(c, d, **info) for c, d, info in self.channel_info()]
        self._stop.clear()
        self._safe_read()
        self._thread = threading.Thread(target=self._loop, name=f"meter-{self.name}", daemon=True)
        self._thread.start()

    def stop(self) -> list[ChannelTrace]:
        if self._thread is None:
            raise RuntimeError(f"{self.name} meter was not started")
        self._stop.set()
        self._thread.join()
        self._thread = None
        self._safe_read()
        return [b.trace(self.kind, self.period_s) for b in self.buffers]

    def close(self) -> None:  # noqa: B027 - optional hook, most meters hold nothing
        """Release the device library; the default has nothing to release."""


class NullMeter:
    """Measures nothing and says why; a meter set holding only this reports 'not measured'."""

    name = "none"

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def describe(self) -> str:
        return f"none: {self.reason}"

    def start(self) -> None:
        return None

    def stop(self) -> list[ChannelTrace]:
        return []

    def close(self) -> None:
        return None


class ReplayMeter:
    """Plays back recorded channel traces in real time, for tests and re-analysis.

    Each `start()` plays the next recording (the last one repeats): its readings are shifted
    so the recording's first reading falls at the start time, and `stop()` returns those up
    to the stop time. Recordings come from `EnergyTrace.channels` saved by a real run.
    """

    name = "replay"

    def __init__(
        self, recordings: Sequence[Sequence[ChannelTrace]], clock: Clock = time.perf_counter_ns
    ) -> None:
        if not recordings or not all(recordings):
            raise ValueError("ReplayMeter needs at least one recording with channels")
        self.recordings = [list(r) for r in recordings]
        self.clock = clock
        self._plays = 0
        self._t0: int | None = None

    def describe(self) -> str:
        names = ", ".join(ch.channel for ch in self.recordings[0])
        return f"replay: {names} ({len(self.recordings)} recording(s))"

    def start(self) -> None:
        self._t0 = self.clock()

    def stop(self) -> list[ChannelTrace]:
        if self._t0 is None:
            raise RuntimeError("replay meter was not started")
        t_stop = self.clock()
        recording = self.recordings[min(self._plays, len(self.recordings) - 1)]
        self._plays += 1
        firsts = [t for ch in recording for t in (ch.sample_ns[:1] + ch.counter_ns[:1])]
        origin = min(firsts, default=self._t0)
        shift, end = self._t0 - origin, t_stop - self._t0
        out = [_shifted(ch, shift, end + origin) for ch in recording]
        self._t0 = None
        return out

    def close(self) -> None:
        return None


def _shifted(ch: ChannelTrace, shift: int, until_ns: int) -> ChannelTrace:
    """`ch` with readings after `until_ns` dropped and all times moved by `shift`."""

    def keep(times: list[int], values: list[Any]) -> tuple[list[int], list[Any]]:
        pairs = [(t + shift, v) for t, v in zip(times, values, strict=True) if t <= until_ns]
        return [t for t, _ in pairs], [v for _, v in pairs]

    sample_ns, power_w = keep(ch.sample_ns, ch.power_w)
    counter_ns, counter_j = keep(ch.counter_ns, ch.counter_j)
    states = [
        s.model_copy(update={"t_ns": s.t_ns + shift}) for s in ch.gpu_state if s.t_ns <= until_ns
    ]
    errors = [
        e.model_copy(update={"first_ns": e.first_ns + shift, "last_ns": e.last_ns + shift})
        for e in ch.errors
        if e.first_ns <= until_ns
    ]
    return ch.model_copy(
        update={
            "replayed": True,
            "sample_ns": sample_ns,
            "power_w": power_w,
            "counter_ns": counter_ns,
            "counter_j": counter_j,
            "gpu_state": states,
            "errors": errors,
        }
    )


def write_trace(trace: EnergyTrace, path: Path) -> None:
    """Save a trace as JSON (e.g. `<run>/energy_trace.json`), for plots and for replay."""
    path.write_text(trace.model_dump_json(), encoding="utf-8")


def read_trace(path: Path) -> EnergyTrace:
    """Load a trace saved by `write_trace`.

    Raises:
        UserError: the file is missing or not a valid trace.
    """
    from pydantic import ValidationError

    from bench.config.loading import validation_to_user_error
    from bench.errors import UserError

    if not path.is_file():
        raise UserError("energy trace not found", file=path, fix="check the path")
    try:
        return EnergyTrace.model_validate_json(path.read_text(encoding="utf-8"))
    except ValidationError as exc:
        raise validation_to_user_error(exc, path) from None
