"""NVIDIA GPU energy through NVML (opened by `bench.nvml.library` only when a meter opens).

Per GPU: the total-energy counter (`nvmlDeviceGetTotalEnergyConsumption`, mJ since driver
load, Volta and newer) and a power timeline (instantaneous power field where the driver
has it, else `nvmlDeviceGetPowerUsage`, which is a 1 s average on Ampere and newer), plus
power limit, SM clock, temperature and clock-event (throttle) reasons every `state_period_s`.
GPUs without the counter are measured by integrating the power samples.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from bench.energy.meter import ChannelBuffer, Clock, SamplingMeter
from bench.energy.records import DeviceSelection, GpuStateSample
from bench.nvml.library import (
    clocks_event_reasons,
    close_library,
    decode_throttle_reasons,
    open_library,
    text,
)

PowerField = Literal["auto", "instant", "average"]


@dataclass(frozen=True)
class GpuSelection:
    indices: list[int]
    note: str | None


def select_gpus(
    visible: str | None, parallel_size: int | None, uuids: Sequence[str]
) -> GpuSelection:
    """The NVML indices the engine uses: `CUDA_VISIBLE_DEVICES` narrowed to the parallel size.

    `uuids[i]` is the UUID of NVML index i. Entries are indices or (prefixes of) GPU UUIDs,
    as CUDA accepts; like CUDA, parsing stops at the first entry that names no GPU. The
    engine (tensor × pipeline × data parallel) uses the first `parallel_size` visible GPUs.
    Integer entries are taken as NVML indices, which match CUDA's order when
    CUDA_DEVICE_ORDER=PCI_BUS_ID (and on nodes of identical GPUs).
    """
    notes: list[str] = []
    if visible is None:
        chosen = list(range(len(uuids)))
    else:
        chosen = []
        for raw in (tok.strip() for tok in visible.split(",")):
            if raw.startswith("MIG-"):
                return GpuSelection(
                    [],
                    f"MIG instance {raw}: NVML energy is per physical GPU, "
                    "not per MIG instance, so GPU energy is not measured",
                )
            idx = _resolve(raw, uuids)
            if idx is None or idx in chosen:
                if raw:
                    notes.append(
                        f"CUDA_VISIBLE_DEVICES entry {raw!r} names no GPU; CUDA "
                        "ignores it and every entry after it"
                    )
                break
            chosen.append(idx)
    if parallel_size is None:
        notes.append("engine parallel size not given: measuring every visible GPU")
    elif parallel_size > len(chosen):
        notes.append(f"parallel size {parallel_size} exceeds the {len(chosen)} visible GPU(s)")
    else:
        chosen = chosen[:parallel_size]
    return GpuSelection(chosen, "; ".join(notes) or None)


def _resolve(token: str, uuids: Sequence[str]) -> int | None:
    if token.isdigit():
        i = int(token)
        return i if i < len(uuids) else None
    if token.startswith("GPU-"):
        matches = [i for i, u in enumerate(uuids) if u.startswith(token)]
        return matches[0] if len(matches) == 1 else None
    return None


def gpu_selection(
    nvml: Any, parallel_size: int | None, env: Mapping[str, str] | None = None
) -> DeviceSelection:
    """Record which GPUs the engine uses, from an initialised NVML and the environment."""
    env = os.environ if env is None else env
    count = nvml.nvmlDeviceGetCount()
    handles = [nvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
    uuids = [_text(nvml.nvmlDeviceGetUUID(h)) for h in handles]
    names = [_text(nvml.nvmlDeviceGetName(h)) for h in handles]
    visible = env.get("CUDA_VISIBLE_DEVICES")
    sel = select_gpus(visible, parallel_size, uuids)
    notes = [sel.note] if sel.note else []
    chosen_names = {names[i] for i in sel.indices}
    if len(chosen_names) > 1 and env.get("CUDA_DEVICE_ORDER") != "PCI_BUS_ID":
        notes.append(
            "mixed GPU models and CUDA_DEVICE_ORDER is not PCI_BUS_ID: CUDA may order "
            "them fastest-first, so indices may not match NVML's"
        )
    return DeviceSelection(
        cuda_visible_devices=visible,
        parallel_size=parallel_size,
        gpu_indices=sel.indices,
        gpu_uuids=[uuids[i] for i in sel.indices],
        gpu_names=[names[i] for i in sel.indices],
        note="; ".join(notes) or None,
    )


def _text(value: Any) -> str:
    return text(value) or ""


class NvmlMeter(SamplingMeter):
    """Energy counter + power timeline + GPU state for the given NVML indices.

    Args:
        indices: NVML device indices (see `select_gpus`).
        period_s: power/counter sampling period (0.1 s ≈ NVML's own update rate).
        state_period_s: period of the slower state reads (limit, clock, temperature, reasons).
        power_field: "instant" (NVML_FI_DEV_POWER_INSTANT), "average" (GetPowerUsage), or
            "auto" = instant where the driver supports it.
        nvml: an initialised pynvml module (default: `bench.nvml.library.open_library()`).
    """

    kind = "nvml"

    def __init__(
        self,
        indices: Sequence[int],
        *,
        period_s: float = 0.1,
        state_period_s: float = 1.0,
        power_field: PowerField = "auto",
        nvml: Any = None,
        clock: Clock = time.perf_counter_ns,
    ) -> None:
        super().__init__(period_s, clock)
        if not indices:
            raise ValueError("NvmlMeter needs at least one GPU index")
        self.nvml = nvml if nvml is not None else open_library()
        self.state_period_ns = int(state_period_s * 1e9)
        self._last_state_ns: int | None = None
        self.devices = [self._probe(i, power_field) for i in indices]

    def _probe(self, index: int, power_field: PowerField) -> dict[str, Any]:
        nv = self.nvml
        h = nv.nvmlDeviceGetHandleByIndex(index)
        dev: dict[str, Any] = {
            "index": index,
            "handle": h,
            "name": _text(nv.nvmlDeviceGetName(h)),
            "uuid": _text(nv.nvmlDeviceGetUUID(h)),
        }
        try:
            nv.nvmlDeviceGetTotalEnergyConsumption(h)
            dev["counter"] = True
        except nv.NVMLError:
            dev["counter"] = False
        dev["instant"] = power_field != "average" and self._instant_power_mw(h) is not None
        if power_field == "instant" and not dev["instant"]:
            raise RuntimeError(
                f"GPU {index}: instantaneous power field not supported by this driver"
            )
        return dev

    def _instant_power_mw(self, handle: Any) -> float | None:
        nv = self.nvml
        field = getattr(nv, "NVML_FI_DEV_POWER_INSTANT", None)
        if field is None:
            return None
        try:
            value = nv.nvmlDeviceGetFieldValues(handle, [field])[0]
        except nv.NVMLError:
            return None
        if value.nvmlReturn != nv.NVML_SUCCESS:
            return None
        return float(getattr(value.value, _FIELD_MEMBER.get(value.valueType, "uiVal")))

    def channel_info(self) -> list[tuple[str, Any, dict[str, Any]]]:
        out = []
        for dev in self.devices:
            source = (
                "NVML instantaneous power field"
                if dev["instant"]
                else "nvmlDeviceGetPowerUsage (1 s average on Ampere and newer)"
            )
            notes = (
                []
                if dev["counter"]
                else ["no total-energy counter on this GPU: energy integrated from power samples"]
            )
            out.append(
                (
                    f"gpu{dev['index']}",
                    "gpu",
                    {
                        "device_name": dev["name"],
                        "gpu_index": dev["index"],
                        "gpu_uuid": dev["uuid"],
                        "power_source": source,
                        "notes": notes,
                    },
                )
            )
        return out

    def describe(self) -> str:
        parts = [
            f"gpu{d['index']} ({d['name']}, {'counter+power' if d['counter'] else 'power only'})"
            for d in self.devices
        ]
        return "nvml: " + ", ".join(parts)

    def read(self) -> None:
        now = self.clock()
        read_state = (
            self._last_state_ns is None or now - self._last_state_ns >= self.state_period_ns
        )
        if read_state:
            self._last_state_ns = now
        for dev, buf in zip(self.devices, self.buffers, strict=True):
            self._read_device(dev, buf, read_state)

    def _read_device(self, dev: dict[str, Any], buf: ChannelBuffer, read_state: bool) -> None:
        nv, h = self.nvml, dev["handle"]
        try:
            t0 = self.clock()
            if dev["counter"]:
                energy_mj = nv.nvmlDeviceGetTotalEnergyConsumption(h)
            if dev["instant"]:
                power_mw = self._instant_power_mw(h)
                if power_mw is None:
                    raise nv.NVMLError(nv.NVML_ERROR_UNKNOWN)
            else:
                power_mw = nv.nvmlDeviceGetPowerUsage(h)
            t = (t0 + self.clock()) // 2  # both reads are stamped with the midpoint
        except nv.NVMLError as exc:
            lost = getattr(exc, "value", None) in _LOST_CODES(nv)
            buf.error(self.clock(), f"NVML: {exc}", device_lost=lost)
            return
        if dev["counter"]:
            buf.counter(t, energy_mj / 1000.0)
        buf.power(t, power_mw / 1000.0)
        if read_state:
            buf.gpu_state.append(self._state(h, t))

    def _state(self, h: Any, t_ns: int) -> GpuStateSample:
        nv = self.nvml

        def maybe(fn: Any, *args: Any) -> Any:
            try:
                return fn(h, *args)
            except nv.NVMLError:
                return None

        limit_mw = maybe(nv.nvmlDeviceGetEnforcedPowerLimit)
        mask = maybe(clocks_event_reasons(nv))
        return GpuStateSample(
            t_ns=t_ns,
            power_limit_w=limit_mw / 1000.0 if limit_mw is not None else None,
            sm_clock_mhz=maybe(nv.nvmlDeviceGetClockInfo, nv.NVML_CLOCK_SM),
            temperature_c=maybe(nv.nvmlDeviceGetTemperature, nv.NVML_TEMPERATURE_GPU),
            throttle_reasons=decode_throttle_reasons(mask) or [],
        )

    def close(self) -> None:
        close_library(self.nvml)


# nvmlValueType_t → member of c_nvmlValue_t
_FIELD_MEMBER = {
    0: "dVal",
    1: "uiVal",
    2: "ulVal",
    3: "ullVal",
    4: "sllVal",
    5: "siVal",
    6: "usVal",
}


def _LOST_CODES(nv: Any) -> set[int]:  # noqa: N802 - reads like the constant set it is
    names = ("NVML_ERROR_GPU_IS_LOST", "NVML_ERROR_NOT_FOUND", "NVML_ERROR_UNINITIALIZED")
    return {getattr(nv, n) for n in names if hasattr(nv, n)}
