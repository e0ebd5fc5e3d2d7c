"""NVML samples taken while the microbenchmarks or the soak run (`NodeSample`s).

Idle readings mislead: PCIe links train down, clocks drop and throttle reasons say "idle".
`LoadSampler` reads the NVML seam on a background thread every `interval_s` while a block
of work runs, so link width, temperature, power and throttle reasons are judged under load.
"""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import Literal

from bench.accept.probe import gpu_from_raw
from bench.accept.records import GpuSample, NodeSample
from bench.nvml.snapshot import NvmlSeam, NvmlSnapshot

Phase = Literal["micro", "soak", "final"]


def sample_from_snapshot(snap: NvmlSnapshot, phase: Phase, elapsed_s: float) -> NodeSample:
    """The load-relevant subset of a snapshot, in the probe's units (W, Hz, °C)."""
    gpus = []
    for raw in snap.gpus:
        g = gpu_from_raw(raw)
        gpus.append(
            GpuSample(
                index=g.index,
                temperature_c=g.temperature_c,
                temperature_slowdown_c=g.temperature_slowdown_c,
                power_w=g.power_draw_w,
                clock_sm_hz=g.clock_sm_hz,
                pcie_gen=g.pcie_gen,
                pcie_width=g.pcie_width,
                throttle_reasons=g.throttle_reasons,
                ecc_volatile_corrected=g.ecc_volatile_corrected,
                ecc_volatile_uncorrected=g.ecc_volatile_uncorrected,
            )
        )
    return NodeSample(phase=phase, elapsed_s=elapsed_s, gpus=gpus, xid_events=snap.xid_events)


class LoadSampler:
    """`with LoadSampler(seam, "micro", t0_ns): work()` → `.samples` (first one at entry,
    one every `interval_s`, last one at exit). A failing NVML read stops sampling and is
    kept in `.error`, never raised into the work."""

    def __init__(
        self, seam: NvmlSeam, phase: Phase, t0_ns: int, *, interval_s: float = 1.0
    ) -> None:
        self._seam = seam
        self._phase = phase
        self._t0_ns = t0_ns
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"nvml-{phase}", daemon=True)
        self.samples: list[NodeSample] = []
        self.error: str | None = None

    def __enter__(self) -> LoadSampler:
        self._take()
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        self._take()

    def _loop(self) -> None:
        while not self._stop.wait(self._interval_s):
            self._take()

    def _take(self) -> None:
        if self.error is not None:
            return
        try:
            snap = self._seam.read()
        except Exception as exc:  # NVML died mid-run: keep what we have, say why
            self.error = f"{type(exc).__name__}: {exc}"
            return
        elapsed = (time.perf_counter_ns() - self._t0_ns) / 1e9
        self.samples.append(sample_from_snapshot(snap, self._phase, elapsed))
