"""Probe parsing through the NVML seam: recorded H100/H200 snapshots, and the pynvml seam."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

from bench.accept.probe import (
    cuda_version_text,
    gpu_from_raw,
    parse_cpuinfo,
    parse_meminfo,
    probe_cpu,
    probe_node,
)
from bench.errors import UserError
from bench.nvml.library import decode_throttle_reasons
from bench.nvml.snapshot import NvmlGpuRaw, NvmlSnapshot, PynvmlSeam, ReplayNvml, XidEvent

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "accept"
H100 = FIXTURES / "nvml_h100_sxm_8x_idle.json"
H200 = FIXTURES / "nvml_h200_sxm_8x_idle.json"


def test_h100_snapshot_parses_into_si_units() -> None:
    node = probe_node(ReplayNvml.from_file(H100))
    assert node.nvml_available and node.gpu_status == "ok: 8 GPUs"
    assert node.driver_version == "550.90.07"
    assert node.cuda_driver_version == "12.4"
    assert node.source.startswith("replay: hand-assembled 8x H100")
    assert len(node.gpus) == 8
    g = node.gpus[3]
    assert g.index == 3 and g.name == "NVIDIA H100 80GB HBM3"
    assert g.pci_bus_id == "00000000:5D:00.0"
    assert g.compute_capability == "9.0"
    assert g.memory_total_bytes == 85_520_809_984  # 81,559 MiB
    assert g.power_limit_w == 700.0 and g.power_limit_default_w == 700.0
    assert g.power_draw_w == pytest.approx(70.48)
    assert g.clock_sm_hz == 345e6 and g.clock_sm_max_hz == 1980e6
    assert g.clock_mem_max_hz == 2619e6
    assert g.ecc_enabled is True and g.ecc_volatile_uncorrected == 0
    assert g.retired_pages_pending is None  # Hopper: row remapping, no page retirement
    assert (g.remapped_rows_correctable, g.remap_pending, g.remap_failure) == (0, False, False)
    assert (g.pcie_gen, g.pcie_gen_max, g.pcie_width, g.pcie_width_max) == (1, 5, 16, 16)
    assert (g.nvlink_links_active, g.nvlink_links_present) == (18, 18)
    assert g.throttle_reasons == ["gpu_idle"]
    assert (g.temperature_c, g.temperature_slowdown_c) == (32.0, 87.0)
    assert g.persistence_mode is True and g.mig_enabled is False


def test_h200_snapshot_memory_and_clocks() -> None:
    node = probe_node(ReplayNvml.from_file(H200))
    assert {g.name for g in node.gpus} == {"NVIDIA H200"}
    assert node.gpus[0].memory_total_bytes == 150_754_820_096  # 143,771 MiB
    assert node.gpus[0].clock_mem_max_hz == 3201e6
    assert node.cuda_driver_version == "12.6"


def test_nvlink_counts_skip_absent_links_and_count_inactive_ones() -> None:
    raw = NvmlGpuRaw(index=0, name="x", nvlink_state=[1, 0, 1, None, 1])
    g = gpu_from_raw(raw)
    assert (g.nvlink_links_present, g.nvlink_links_active) == (4, 3)


def test_throttle_reason_bits() -> None:
    assert decode_throttle_reasons(0x44) == ["sw_power_cap", "hw_thermal_slowdown"]
    assert decode_throttle_reasons(0x0) == []
    assert decode_throttle_reasons(0x80 | 0x1000) == ["hw_power_brake_slowdown", "unknown_0x1000"]
    assert decode_throttle_reasons(None) is None


def test_cuda_version_text() -> None:
    assert cuda_version_text(12040) == "12.4"
    assert cuda_version_text(12090) == "12.9"
    assert cuda_version_text(13000) == "13.0"
    assert cuda_version_text(None) is None


CPUINFO = """processor\t: 0
model name\t: Intel(R) Xeon(R) Platinum 8480C
physical id\t: 0
core id\t\t: 0

processor\t: 1
model name\t: Intel(R) Xeon(R) Platinum 8480C
physical id\t: 0
core id\t\t: 0

processor\t: 2
model name\t: Intel(R) Xeon(R) Platinum 8480C
physical id\t: 1
core id\t\t: 0
"""


def test_parse_cpuinfo_counts_threads_cores_and_sockets() -> None:
    cpu = parse_cpuinfo(CPUINFO)
    assert cpu.model == "Intel(R) Xeon(R) Platinum 8480C"
    assert (cpu.logical_cores, cpu.physical_cores, cpu.sockets) == (3, 2, 2)


def test_parse_meminfo_kib_to_bytes() -> None:
    text = "MemTotal:       16384 kB\nMemFree:  1 kB\nMemAvailable:    8192 kB\n"
    assert parse_meminfo(text) == (16384 * 1024, 8192 * 1024)


def test_probe_cpu_reads_a_proc_folder(tmp_path: Path) -> None:
    (tmp_path / "cpuinfo").write_text(CPUINFO)
    (tmp_path / "meminfo").write_text("MemTotal: 2048 kB\nMemAvailable: 1024 kB\n")
    cpu = probe_cpu(tmp_path)
    assert (cpu.logical_cores, cpu.memory_total_bytes, cpu.memory_available_bytes) == (
        3,
        2048 * 1024,
        1024 * 1024,
    )


def test_replay_rejects_a_bad_snapshot_naming_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "snap.json"
    bad.write_text('{"captured_monotonic_ns": 1, "gpus": [{"index": 0}]}')
    with pytest.raises(UserError) as err:
        ReplayNvml.from_file(bad)
    assert err.value.field == "gpus.0.name"


# ---------------------------------------------------------------- the real pynvml seam


class _NVMLError(Exception):
    def __init__(self, value: int) -> None:
        self.value = value
        super().__init__(f"NVML error {value}")


def _fake_pynvml(snap: NvmlSnapshot, *, init_error: int | None = None) -> types.ModuleType:
    """A pynvml stand-in answering from a snapshot: None fields raise NOT_SUPPORTED (3).

    Only what PynvmlSeam calls; it lets the test check that the seam maps every NVML call
    onto the right snapshot field (the round trip below), and its error handling.
    """
    nv = types.ModuleType("pynvml")
    gpus = {i: g for i, g in enumerate(snap.gpus)}

    def field(name: str):  # type: ignore[no-untyped-def]
        def get(h, *args):  # type: ignore[no-untyped-def]
            value = getattr(gpus[h], name)
            if value is None:
                raise _NVMLError(3)
            return value

        return get

    def init() -> None:
        if init_error is not None:
            raise _NVMLError(init_error)

    def ecc(h, err_type, counter):  # type: ignore[no-untyped-def]
        name = f"ecc_{'volatile' if counter == 0 else 'aggregate'}_"
        return field(name + ("corrected" if err_type == 0 else "uncorrected"))(h)

    def link(h, i):  # type: ignore[no-untyped-def]
        states = gpus[h].nvlink_state
        if i >= len(states) or states[i] is None:
            raise _NVMLError(2)
        return states[i]

    def pages(h, cause):  # type: ignore[no-untyped-def]
        count = field("retired_pages_dbe" if cause == 1 else "retired_pages_sbe")(h)
        return list(range(count))

    consts = {
        "NVMLError": _NVMLError, "NVML_PAGE_RETIREMENT_CAUSE_MULTIPLE_SINGLE_BIT_ECC_ERRORS": 0,
        "NVML_PAGE_RETIREMENT_CAUSE_DOUBLE_BIT_ECC_ERROR": 1, "NVML_VOLATILE_ECC": 0,
        "NVML_AGGREGATE_ECC": 1, "NVML_MEMORY_ERROR_TYPE_CORRECTED": 0,
        "NVML_MEMORY_ERROR_TYPE_UNCORRECTED": 1, "NVML_CLOCK_SM": 1, "NVML_CLOCK_MEM": 2,
        "NVML_TEMPERATURE_GPU": 0, "NVML_TEMPERATURE_THRESHOLD_SHUTDOWN": 0,
        "NVML_TEMPERATURE_THRESHOLD_SLOWDOWN": 1, "NVML_NVLINK_MAX_LINKS": 36,
        "nvmlEventTypeXidCriticalError": 8,
    }  # fmt: skip
    for key, value in consts.items():
        setattr(nv, key, value)
    clock = {1: ("clock_sm_mhz", "clock_sm_max_mhz"), 2: ("clock_mem_mhz", "clock_mem_max_mhz")}
    thresholds = {0: "temperature_shutdown_c", 1: "temperature_slowdown_c"}
    fns = {
        "nvmlInit": init,
        "nvmlShutdown": lambda: None,
        "nvmlDeviceGetCount": lambda: len(gpus),
        "nvmlDeviceGetHandleByIndex": lambda i: i,
        "nvmlSystemGetDriverVersion": lambda: snap.driver_version,
        "nvmlSystemGetCudaDriverVersion": lambda: snap.cuda_driver_version,
        "nvmlSystemGetNVMLVersion": lambda: snap.nvml_version,
        "nvmlDeviceGetName": lambda h: gpus[h].name.encode(),  # bytes, as older pynvml returns
        "nvmlDeviceGetUUID": field("uuid"),
        "nvmlDeviceGetPciInfo": lambda h: types.SimpleNamespace(busId=gpus[h].pci_bus_id),
        "nvmlDeviceGetCudaComputeCapability": field("compute_capability"),
        "nvmlDeviceGetMemoryInfo": lambda h: types.SimpleNamespace(
            total=gpus[h].memory_total_bytes, used=gpus[h].memory_used_bytes
        ),
        "nvmlDeviceGetVbiosVersion": field("vbios_version"),
        "nvmlDeviceGetPowerUsage": field("power_usage_mw"),
        "nvmlDeviceGetPowerManagementLimit": field("power_limit_mw"),
        "nvmlDeviceGetPowerManagementDefaultLimit": field("power_limit_default_mw"),
        "nvmlDeviceGetEnforcedPowerLimit": field("power_limit_enforced_mw"),
        "nvmlDeviceGetPowerManagementLimitConstraints": lambda h: [
            gpus[h].power_limit_min_mw,
            gpus[h].power_limit_max_mw,
        ],
        "nvmlDeviceGetClockInfo": lambda h, c: field(clock[c][0])(h),
        "nvmlDeviceGetMaxClockInfo": lambda h, c: field(clock[c][1])(h),
        "nvmlDeviceGetEccMode": lambda h: [gpus[h].ecc_mode_current, gpus[h].ecc_mode_pending],
        "nvmlDeviceGetTotalEccErrors": ecc,
        "nvmlDeviceGetRetiredPages": pages,
        "nvmlDeviceGetRetiredPagesPendingStatus": field("retired_pages_pending"),
        "nvmlDeviceGetRemappedRows": field("remapped_rows"),
        "nvmlDeviceGetCurrPcieLinkGeneration": field("pcie_gen_current"),
        "nvmlDeviceGetMaxPcieLinkGeneration": field("pcie_gen_max"),
        "nvmlDeviceGetGpuMaxPcieLinkGeneration": field("pcie_gen_gpu_max"),
        "nvmlDeviceGetCurrPcieLinkWidth": field("pcie_width_current"),
        "nvmlDeviceGetMaxPcieLinkWidth": field("pcie_width_max"),
        "nvmlDeviceGetPcieReplayCounter": field("pcie_replay_counter"),
        "nvmlDeviceGetNvLinkState": link,
        "nvmlDeviceGetTemperature": lambda h, s: field("temperature_gpu_c")(h),
        "nvmlDeviceGetTemperatureThreshold": lambda h, t: field(thresholds[t])(h),
        "nvmlDeviceGetCurrentClocksEventReasons": field("clocks_event_reasons"),
        "nvmlDeviceGetPersistenceMode": field("persistence_mode"),
        "nvmlDeviceGetMigMode": field("mig_mode"),
        "nvmlEventSetCreate": lambda: "events",
        "nvmlDeviceGetSupportedEventTypes": lambda h: 8,
        "nvmlDeviceRegisterEvents": lambda h, t, s: None,
        "nvmlEventSetWait": _xid_queue(snap),
        "nvmlEventSetFree": lambda s: None,
        "nvmlDeviceGetIndex": lambda h: h,
    }
    for key, fn in fns.items():
        setattr(nv, key, fn)
    return nv


def _xid_queue(snap: NvmlSnapshot):  # type: ignore[no-untyped-def]
    pending = [types.SimpleNamespace(device=e.gpu_index, eventData=e.xid) for e in snap.xid_events]

    def wait(events, timeout_ms):  # type: ignore[no-untyped-def]
        if not pending:
            raise _NVMLError(10)  # NVML_ERROR_TIMEOUT: nothing happened
        return pending.pop(0)

    return wait


def test_pynvml_seam_round_trips_a_recorded_snapshot(monkeypatch: pytest.MonkeyPatch) -> None:
    recorded = ReplayNvml.from_file(H100).read()
    gpus = list(recorded.gpus)  # one GPU with a page-retirement history
    gpus[2] = gpus[2].model_copy(
        update={"retired_pages_dbe": 2, "retired_pages_sbe": 0, "retired_pages_pending": 1}
    )
    recorded = recorded.model_copy(update={"gpus": gpus})
    queued = [
        XidEvent(gpu_index=4, xid=79, monotonic_ns=1),
        XidEvent(gpu_index=4, xid=48, monotonic_ns=2),
    ]
    nvml_state = recorded.model_copy(update={"xid_events": queued})
    monkeypatch.setitem(sys.modules, "pynvml", _fake_pynvml(nvml_state))
    seam = PynvmlSeam.open()
    try:
        got = seam.read()
        again = seam.read()
    finally:
        seam.close()
    assert [g.model_dump() for g in got.gpus] == [g.model_dump() for g in recorded.gpus]
    assert (got.driver_version, got.cuda_driver_version) == ("550.90.07", 12040)
    assert got.xid_watch is True
    assert [(e.gpu_index, e.xid) for e in got.xid_events] == [(4, 79), (4, 48)]
    assert again.xid_events == []  # each event is reported once


def test_pynvml_seam_keeps_unexpected_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    recorded = ReplayNvml.from_file(H100).read()
    fake = _fake_pynvml(recorded)

    def lost(h):  # type: ignore[no-untyped-def]
        raise _NVMLError(15)  # NVML_ERROR_GPU_IS_LOST

    fake.nvmlDeviceGetPowerUsage = lost  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    seam = PynvmlSeam.open()
    got = seam.read()
    seam.close()
    assert got.gpus[0].power_usage_mw is None
    assert got.gpus[0].errors == {"power_usage_mw": "NVML error 15"}
    assert got.gpus[0].retired_pages_dbe is None  # NOT_SUPPORTED is no error
    node = probe_node(ReplayNvml([got]))
    assert node.gpus[0].nvml_errors == {"power_usage_mw": "NVML error 15"}


def test_without_nvml_the_probe_names_the_reason_and_fills_cpu(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    empty = NvmlSnapshot(captured_monotonic_ns=0, gpus=[])
    monkeypatch.setitem(sys.modules, "pynvml", _fake_pynvml(empty, init_error=12))
    node = probe_node()
    assert not node.nvml_available and node.gpus == []
    assert node.gpu_status == (
        "no NVIDIA GPU (the NVML library (libnvidia-ml.so) was not found: "
        "no NVIDIA driver installed)"
    )
    assert node.cpu.logical_cores and node.cpu.logical_cores >= 1
    assert node.cpu.memory_total_bytes and node.cpu.memory_total_bytes > 0


def test_driver_without_gpus_is_no_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    empty = NvmlSnapshot(captured_monotonic_ns=0, gpus=[])
    monkeypatch.setitem(sys.modules, "pynvml", _fake_pynvml(empty))
    node = probe_node()
    assert node.gpu_status == "no NVIDIA GPU (the NVIDIA driver is loaded but NVML found no GPU)"
