"""One NVML seam: the node probe and the energy meter open pynvml through
`bench.nvml.library`, so both give the same reason when NVML is missing and both read the
clocks-event reasons under either of pynvml's names.

The pynvml stand-ins below answer fixed numbers; nothing here is a measurement.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any

import pytest

from bench.accept.probe import probe_node
from bench.energy.meter import ChannelBuffer
from bench.energy.meterset import open_meters
from bench.energy.nvml import NvmlMeter
from bench.errors import UserError
from bench.nvml.library import (
    NvmlUnavailable,
    clocks_event_reasons,
    decode_throttle_reasons,
    open_library,
)


class _NVMLError(Exception):
    def __init__(self, value: int) -> None:
        self.value = value
        super().__init__(f"NVML error {value}")


def _pynvml(init_error: int | None = None, *, older_name: bool = False) -> types.ModuleType:
    """A pynvml with one GPU whose clocks-event mask is 0x44 (sw power cap, hw thermal), under
    the newer call name or, with `older_name`, only the older "throttle reasons" one."""
    nv = types.ModuleType("pynvml")
    calls: list[str] = []

    def init() -> None:
        calls.append("init")
        if init_error is not None:
            raise _NVMLError(init_error)

    fns: dict[str, Any] = {
        "NVMLError": _NVMLError,
        "NVML_CLOCK_SM": 1,
        "NVML_TEMPERATURE_GPU": 0,
        "nvmlInit": init,
        "nvmlShutdown": lambda: calls.append("shutdown"),
        "nvmlDeviceGetCount": lambda: 1,
        "nvmlDeviceGetHandleByIndex": lambda i: i,
        "nvmlDeviceGetName": lambda h: b"NVIDIA H200",
        "nvmlDeviceGetUUID": lambda h: "GPU-00000000-0000-4000-8000-000000000000",
        "nvmlDeviceGetTotalEnergyConsumption": lambda h: 1_000_000,
        "nvmlDeviceGetPowerUsage": lambda h: 300_000,
        "nvmlDeviceGetEnforcedPowerLimit": lambda h: 700_000,
        "nvmlDeviceGetClockInfo": lambda h, c: 1980,
        "nvmlDeviceGetTemperature": lambda h, s: 50,
    }
    reasons = "nvmlDeviceGetCurrentClocks" + ("Throttle" if older_name else "Event") + "Reasons"
    fns[reasons] = lambda h: 0x44
    for name, value in fns.items():
        setattr(nv, name, value)
    nv.calls = calls  # type: ignore[attr-defined]
    return nv


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (12, "the NVML library (libnvidia-ml.so) was not found: no NVIDIA driver installed"),
        (9, "the NVIDIA kernel driver is not loaded"),
        (999, "NVML failed to initialise: NVML error 999"),
    ],
)
def test_probe_and_energy_meter_give_the_same_reason_without_nvml(
    monkeypatch: pytest.MonkeyPatch, code: int, reason: str
) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", _pynvml(init_error=code))
    with pytest.raises(NvmlUnavailable) as unavailable:
        open_library()
    assert str(unavailable.value) == reason
    assert probe_node().gpu_status == f"no NVIDIA GPU ({reason})"
    with pytest.raises(UserError) as err:
        open_meters("nvml", env={})
    assert f"energy meter 'nvml' cannot run on this host: {reason}" in str(err.value)


def test_without_pynvml_both_say_it_is_not_installed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import pynvml raises ImportError
    assert probe_node().gpu_status == "no NVIDIA GPU (pynvml (nvidia-ml-py) is not installed)"
    with open_meters("auto", env={}, powercap_root=tmp_path) as meters:
        assert meters.skipped["nvml"] == "pynvml (nvidia-ml-py) is not installed"


@pytest.mark.parametrize("older_name", [False, True])
def test_clocks_event_reasons_under_either_name(older_name: bool) -> None:
    nv = _pynvml(older_name=older_name)
    assert decode_throttle_reasons(clocks_event_reasons(nv)(0)) == [
        "sw_power_cap",
        "hw_thermal_slowdown",
    ]
    ticks = iter(range(0, 10**12, 10**8))
    meter = NvmlMeter([0], nvml=nv, power_field="average", clock=lambda: next(ticks))
    meter.buffers = [ChannelBuffer(c, d, **i) for c, d, i in meter.channel_info()]
    meter.read()
    state = meter.buffers[0].gpu_state[0]
    assert state.throttle_reasons == ["sw_power_cap", "hw_thermal_slowdown"]
    meter.close()
    assert nv.calls == ["shutdown"]  # type: ignore[attr-defined]
