"""Device meters without the device: RAPL on a fake sysfs tree, NVML on a scripted stand-in.

The NVML stand-in below is not a measurement: it replays fixed numbers through the pynvml
call names so that NvmlMeter's own logic (mJ → J, counter vs no counter, a GPU lost
mid-run, state sampling) is pinned. Real-GPU agreement is checked by
scripts/gpu_energy_check.py on a GPU host.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from waiting import wait_until

from bench.energy import rapl
from bench.energy.meter import ChannelBuffer
from bench.energy.nvml import NvmlMeter, gpu_selection, select_gpus
from bench.energy.rapl import RaplMeter, RaplUnavailable, find_rapl_domains
from bench.energy.records import EnergyTrace
from bench.energy.summary import summarize_energy

S = 1_000_000_000


class Ticker:
    """A clock advancing 1 ms per reading, so every read gets a distinct, known time."""

    def __init__(self) -> None:
        self.now = 1_000 * S

    def __call__(self) -> int:
        self.now += 1_000_000
        return self.now


# --- RAPL ----------------------------------------------------------------------------


def make_zone(root: Path, name: str, label: str, energy_uj: int, range_uj: int) -> Path:
    zone = root / name
    zone.mkdir(parents=True)
    (zone / "name").write_text(f"{label}\n")
    (zone / "energy_uj").write_text(f"{energy_uj}\n")
    (zone / "max_energy_range_uj").write_text(f"{range_uj}\n")
    return zone


@pytest.fixture
def powercap(tmp_path: Path) -> Path:
    root = tmp_path / "powercap"
    make_zone(root, "intel-rapl:0", "package-0", 262_000_000_000, 262_143_328_850)
    make_zone(root, "intel-rapl:0:0", "core", 1, 262_143_328_850)
    make_zone(root, "intel-rapl:0:1", "dram", 5_000_000, 65_712_999_613)
    make_zone(root, "intel-rapl:1", "package-1", 7_000_000, 262_143_328_850)
    make_zone(root, "intel-rapl-mmio:0", "package-0", 3, 262_143_328_850)
    return root


def test_rapl_finds_packages_and_dram_only(powercap: Path) -> None:
    domains = find_rapl_domains(powercap)
    assert [(d.channel, d.domain) for d in domains] == [
        ("cpu0-package", "cpu_package"),
        ("cpu0-dram", "dram"),
        ("cpu1-package", "cpu_package"),
    ]
    assert domains[0].wrap_j == pytest.approx(262_143.328850)


def test_rapl_meter_reads_across_a_wrap(powercap: Path) -> None:
    clock = Ticker()
    meter = RaplMeter(powercap, clock=clock)
    meter.buffers = [ChannelBuffer(c, d, **i) for c, d, i in meter.channel_info()]
    pkg0 = powercap / "intel-rapl:0" / "energy_uj"
    # package-0: 262000 J, then +100 J, then wraps (range 262143.32885 J) to 56.67115 J: +100 J
    for uj in (262_000_000_000, 262_100_000_000, 56_671_150):
        pkg0.write_text(f"{uj}\n")
        meter.read()
    traces = [b.trace("rapl", 0.1) for b in meter.buffers]
    pkg = traces[0]
    assert pkg.counter_j == [262_000.0, 262_100.0, 56.67115]
    assert pkg.counter_wrap_j == pytest.approx(262_143.32885)
    only_pkg = EnergyTrace(channels=[pkg])
    d = summarize_energy(only_pkg, pkg.counter_ns[0], pkg.counter_ns[-1], 10, 10).devices[0]
    assert d.valid and d.energy_j == pytest.approx(200.0)
    # Domains are read one after another, so the window all of them cover is a bit shorter.
    start = max(t.counter_ns[0] for t in traces)
    end = min(t.counter_ns[-1] for t in traces)
    s = summarize_energy(EnergyTrace(channels=traces), start, end, 10, 10)
    assert [d.valid for d in s.devices] == [True, True, True]
    assert s.devices[1].energy_j == pytest.approx(0.0)  # dram counter did not move
    cpu = s.total("cpu")
    assert cpu is not None and cpu.channels == ["cpu0-package", "cpu0-dram", "cpu1-package"]
    assert s.primary == "cpu"


def test_rapl_unavailable_reasons(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(RaplUnavailable, match="does not exist"):
        find_rapl_domains(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(RaplUnavailable, match="no intel-rapl zones"):
        find_rapl_domains(tmp_path / "empty")
    root = tmp_path / "locked"
    make_zone(root, "intel-rapl:0", "package-0", 1, 2)
    real = rapl._read_text

    def denied(path: Path) -> str:
        if path.name == "energy_uj":
            raise PermissionError(13, "Permission denied")
        return real(path)

    monkeypatch.setattr(rapl, "_read_text", denied)
    with pytest.raises(RaplUnavailable, match="permission denied .*PLATYPUS"):
        find_rapl_domains(root)


def test_rapl_read_failure_mid_run_is_recorded(powercap: Path) -> None:
    meter = RaplMeter(powercap, clock=Ticker())
    meter.buffers = [ChannelBuffer(c, d, **i) for c, d, i in meter.channel_info()]
    (powercap / "intel-rapl:1" / "energy_uj").unlink()
    meter.read()
    meter.read()
    err = meter.buffers[2].errors
    assert len(err) == 1 and err[0].count == 2 and err[0].message.startswith("RAPL read failed")


# --- NVML ----------------------------------------------------------------------------


class ScriptedNvml:
    """pynvml call names over fixed numbers. gpu0: counter + instant power field, 250 W.
    gpu1: no counter, no instant field, 100 W, and "lost" from its 3rd power read on."""

    NVML_SUCCESS = 0
    NVML_ERROR_NOT_SUPPORTED = 3
    NVML_ERROR_GPU_IS_LOST = 15
    NVML_ERROR_UNKNOWN = 999
    NVML_FI_DEV_POWER_INSTANT = 186
    NVML_CLOCK_SM = 1
    NVML_TEMPERATURE_GPU = 0

    class NVMLError(Exception):
        def __init__(self, value: int) -> None:
            super().__init__(f"NVML error {value}")
            self.value = value

    def __init__(self) -> None:
        self.energy_reads = 0
        self.gpu1_reads = 0

    def nvmlDeviceGetCount(self) -> int:  # noqa: N802 - pynvml's names
        return 2

    def nvmlDeviceGetHandleByIndex(self, i: int) -> int:  # noqa: N802
        return i

    def nvmlDeviceGetName(self, h: int) -> bytes:  # noqa: N802
        return b"NVIDIA H100 80GB HBM3"

    def nvmlDeviceGetUUID(self, h: int) -> str:  # noqa: N802
        return f"GPU-{h}aaaaaaa-0000-4000-8000-000000000000"

    def nvmlDeviceGetTotalEnergyConsumption(self, h: int) -> int:  # noqa: N802
        if h == 1:
            raise self.NVMLError(self.NVML_ERROR_NOT_SUPPORTED)
        self.energy_reads += 1
        return 10_000_000 + 25_000 * self.energy_reads  # mJ: +25 J per read

    def nvmlDeviceGetFieldValues(self, h: int, fields: list[int]) -> list[Any]:  # noqa: N802
        if h == 1:
            raise self.NVMLError(self.NVML_ERROR_NOT_SUPPORTED)
        return [SimpleNamespace(nvmlReturn=0, valueType=1, value=SimpleNamespace(uiVal=250_000))]

    def nvmlDeviceGetPowerUsage(self, h: int) -> int:  # noqa: N802
        self.gpu1_reads += 1
        if self.gpu1_reads >= 3:
            raise self.NVMLError(self.NVML_ERROR_GPU_IS_LOST)
        return 100_000

    def nvmlDeviceGetEnforcedPowerLimit(self, h: int) -> int:  # noqa: N802
        return 700_000

    def nvmlDeviceGetClockInfo(self, h: int, clock: int) -> int:  # noqa: N802
        return 1980

    def nvmlDeviceGetTemperature(self, h: int, sensor: int) -> int:  # noqa: N802
        raise self.NVMLError(self.NVML_ERROR_NOT_SUPPORTED)

    def nvmlDeviceGetCurrentClocksEventReasons(self, h: int) -> int:  # noqa: N802
        return 0x4 | 0x40

    def nvmlShutdown(self) -> None:  # noqa: N802
        pass


def test_nvml_meter_counter_fallback_and_lost_gpu() -> None:
    nv = ScriptedNvml()
    meter = NvmlMeter([0, 1], nvml=nv, clock=Ticker(), state_period_s=1.0)
    assert meter.describe() == (
        "nvml: gpu0 (NVIDIA H100 80GB HBM3, counter+power), "
        "gpu1 (NVIDIA H100 80GB HBM3, power only)"
    )
    meter.buffers = [ChannelBuffer(c, d, **i) for c, d, i in meter.channel_info()]
    for _ in range(4):
        meter.read()
    g0, g1 = (b.trace("nvml", 0.1) for b in meter.buffers)
    # mJ → J; the probe at construction made the first read (10 025 J)
    assert g0.counter_j == [10_050.0, 10_075.0, 10_100.0, 10_125.0]
    assert g0.power_w == [250.0] * 4
    assert g0.power_source == "NVML instantaneous power field"
    assert g0.gpu_state[0].power_limit_w == 700.0
    assert g0.gpu_state[0].temperature_c is None  # not supported → None, not 0
    assert g0.gpu_state[0].throttle_reasons == ["sw_power_cap", "hw_thermal_slowdown"]
    assert len(g0.gpu_state) == 1  # the fake clock moves 1 ms per read: one state read per 1 s
    assert g1.counter_ns == [] and g1.power_w == [100.0, 100.0]
    assert g1.notes == ["no total-energy counter on this GPU: energy integrated from power samples"]
    assert [(e.device_lost, e.count) for e in g1.errors] == [(True, 2)]
    s = summarize_energy(EnergyTrace(channels=[g0, g1]), g0.counter_ns[0], g0.counter_ns[-1], 1, 1)
    assert s.devices[0].valid and s.devices[0].method == "counter"
    assert s.devices[0].energy_j == pytest.approx(75.0)
    assert not s.devices[1].valid and s.devices[1].problem is not None
    assert s.devices[1].problem.startswith("device lost at")


def test_select_gpus_visible_devices_and_parallel_size() -> None:
    uuids = [f"GPU-{i}{i}{i}-x" for i in range(8)]
    assert select_gpus(None, 2, uuids).indices == [0, 1]
    assert select_gpus("4,5,6,7", 2, uuids).indices == [4, 5]
    assert select_gpus("GPU-333,GPU-111", None, uuids).indices == [3, 1]
    stop = select_gpus("2,9,3", None, uuids)  # CUDA stops at the first invalid entry
    assert stop.indices == [2]
    assert stop.note is not None and "'9' names no GPU" in stop.note
    assert select_gpus("", 1, uuids).indices == []
    too_many = select_gpus("0,1", 4, uuids)
    assert too_many.indices == [0, 1] and "exceeds the 2 visible" in (too_many.note or "")
    mig = select_gpus("MIG-abc", 1, uuids)
    assert mig.indices == [] and "MIG" in (mig.note or "")


def test_gpu_selection_records_environment() -> None:
    sel = gpu_selection(ScriptedNvml(), 1, {"CUDA_VISIBLE_DEVICES": "1,0"})
    assert sel.gpu_indices == [1]
    assert sel.gpu_uuids == ["GPU-1aaaaaaa-0000-4000-8000-000000000000"]
    assert sel.cuda_visible_devices == "1,0" and sel.parallel_size == 1


def test_open_meters_rapl_threaded_idle_then_load(
    powercap: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole path, threads included: package-0 draws 20 W, then 50 W (its energy_uj is
    computed at read time, as sysfs does); open_meters → idle → start/stop → summary."""
    import time

    from bench.energy.meterset import open_meters

    energy_file = powercap / "intel-rapl:0" / "energy_uj"
    t0 = time.perf_counter()
    switch = {"at": float("inf")}
    real = rapl._read_text

    def sysfs_read(path: Path) -> str:
        if path != energy_file:
            return real(path)
        now = time.perf_counter()
        joules = 20.0 * (min(now, switch["at"]) - t0) + 50.0 * max(0.0, now - switch["at"])
        return str(5_000_000 + int(joules * 1e6))

    monkeypatch.setattr(rapl, "_read_text", sysfs_read)
    meters = open_meters("rapl", powercap_root=powercap, period_s=0.02, gap_factor=50)
    idle = meters.measure_idle(0.3)
    switch["at"] = time.perf_counter()
    meters.start()
    package = meters.meters[0].buffers[0]  # type: ignore[attr-defined]
    switched_ns = int(switch["at"] * 1e9)
    wait_until(lambda: package.counter_ns and package.counter_ns[-1] > switched_ns,
               "a package reading at 50 W")  # fmt: skip
    start = time.perf_counter_ns()
    time.sleep(0.4)  # the window's length; any length would do
    end = time.perf_counter_ns()
    trace = meters.stop()  # its last reading is after `end`
    assert idle[0].channel == "cpu0-package" and idle[0].problem is None, idle
    assert idle[0].power_w == pytest.approx(20.0, rel=0.02)
    s = summarize_energy(trace, start, end, output_tokens=100, total_tokens=100)
    pkg = s.devices[0]
    assert pkg.valid and pkg.method == "counter" and pkg.source == "rapl"
    assert pkg.avg_power_w == pytest.approx(50.0, rel=0.02)
    assert pkg.energy_above_idle_j == pytest.approx(s.window_s * (50.0 - idle[0].power_w), rel=0.02)
    assert s.primary == "cpu"
    assert trace.meters == ["rapl: cpu0-package, cpu0-dram, cpu1-package"]
