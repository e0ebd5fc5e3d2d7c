"""`bench probe`: inventory and health of one node, as a `NodeProbe` record.

GPU facts come from an NVML snapshot (`bench.nvml.snapshot`) converted to SI-ish units with the
unit in each name (W, Hz, bytes, °C); CPU and memory come from /proc. On a host without NVML
the probe still describes CPU and memory and says "no NVIDIA GPU (reason)".
"""

from __future__ import annotations

import os
import platform
import socket
import time
from pathlib import Path

from pydantic import Field

from bench.nvml.library import NvmlUnavailable, decode_throttle_reasons
from bench.nvml.snapshot import NvmlGpuRaw, NvmlSeam, NvmlSnapshot, XidEvent
from bench.records import Record
from bench.units import utc_now


class GpuProbe(Record):
    """One GPU's inventory and health. `None` = the GPU does not report it."""

    index: int
    name: str
    uuid: str | None
    pci_bus_id: str | None
    compute_capability: str | None
    memory_total_bytes: int | None
    memory_used_bytes: int | None
    vbios_version: str | None
    power_draw_w: float | None
    power_limit_w: float | None = Field(description="the enforced limit")
    power_limit_default_w: float | None
    power_limit_max_w: float | None
    clock_sm_hz: float | None
    clock_sm_max_hz: float | None
    clock_mem_hz: float | None
    clock_mem_max_hz: float | None
    ecc_enabled: bool | None
    ecc_enabled_pending: bool | None
    ecc_volatile_corrected: int | None
    ecc_volatile_uncorrected: int | None
    ecc_aggregate_corrected: int | None
    ecc_aggregate_uncorrected: int | None
    retired_pages_sbe: int | None
    retired_pages_dbe: int | None
    retired_pages_pending: bool | None
    remapped_rows_correctable: int | None
    remapped_rows_uncorrectable: int | None
    remap_pending: bool | None
    remap_failure: bool | None
    pcie_gen: int | None
    pcie_gen_max: int | None
    pcie_gen_gpu_max: int | None
    pcie_width: int | None
    pcie_width_max: int | None
    pcie_replay_count: int | None
    nvlink_links_present: int
    nvlink_links_active: int
    temperature_c: float | None
    temperature_slowdown_c: float | None
    temperature_shutdown_c: float | None
    throttle_reasons: list[str] | None
    persistence_mode: bool | None
    mig_enabled: bool | None
    mig_enabled_pending: bool | None
    nvml_errors: dict[str, str] = Field(default_factory=dict)


class CpuProbe(Record):
    model: str | None
    logical_cores: int | None
    physical_cores: int | None
    sockets: int | None
    memory_total_bytes: int | None
    memory_available_bytes: int | None


class NodeProbe(Record):
    """The whole node at one moment: the probe's output and the verdict's health input."""

    host: str
    taken_utc: str
    taken_monotonic_ns: int
    platform: str
    nvml_available: bool
    gpu_status: str = Field(description='"ok: N GPUs" or "no NVIDIA GPU (reason)"')
    driver_version: str | None = None
    cuda_driver_version: str | None = None
    nvml_version: str | None = None
    gpus: list[GpuProbe] = Field(default_factory=list)
    xid_events: list[XidEvent] = Field(default_factory=list)
    xid_watch: bool = False
    xid_watch_error: str | None = None
    cpu: CpuProbe
    source: str = Field(default="nvml", description='"nvml", or the note of a replayed snapshot')


def probe_node(nvml: NvmlSeam | None = None) -> NodeProbe:
    """Probe this node. `nvml=None` opens the real NVML (and closes it after one read).

    Without NVML (no driver, no GPU, pynvml missing) the record has no GPUs, `nvml_available`
    false and `gpu_status` "no NVIDIA GPU (reason)"; CPU and memory are still filled.
    """
    if nvml is not None:
        return read_probe(nvml)[0]
    seam, reason = open_nvml()
    try:
        return read_probe(seam, reason)[0]
    finally:
        if seam is not None:
            seam.close()


def open_nvml() -> tuple[NvmlSeam | None, str | None]:
    """(the real NVML seam, None), or (None, why there is none)."""
    from bench.nvml.snapshot import PynvmlSeam

    try:
        return PynvmlSeam.open(), None
    except NvmlUnavailable as exc:
        return None, str(exc)


def read_probe(
    seam: NvmlSeam | None, reason: str | None = None
) -> tuple[NodeProbe, NvmlSnapshot | None]:
    """The node's probe from one read of `seam` (left open), with the snapshot it came from;
    without a seam, the probe of a host with no usable GPU for `reason` (and no snapshot)."""
    cpu = probe_cpu()
    if seam is None:
        return node_without_gpu(reason or "unknown reason", cpu), None
    snap = seam.read()
    return node_from_snapshot(snap, cpu), snap


def node_from_snapshot(snap: NvmlSnapshot, cpu: CpuProbe) -> NodeProbe:
    """Turn one raw NVML snapshot into a `NodeProbe` (pure)."""
    now = utc_now()
    return NodeProbe(
        host=socket.gethostname(),
        taken_utc=now,
        taken_monotonic_ns=snap.captured_monotonic_ns,
        platform=platform.platform(),
        nvml_available=True,
        gpu_status=f"ok: {len(snap.gpus)} GPU{'s' if len(snap.gpus) != 1 else ''}",
        driver_version=snap.driver_version,
        cuda_driver_version=cuda_version_text(snap.cuda_driver_version),
        nvml_version=snap.nvml_version,
        gpus=[gpu_from_raw(raw) for raw in snap.gpus],
        xid_events=snap.xid_events,
        xid_watch=snap.xid_watch,
        xid_watch_error=snap.xid_watch_error,
        cpu=cpu,
        source=f"replay: {snap.note}" if snap.note else "nvml",
    )


def gpu_from_raw(raw: NvmlGpuRaw) -> GpuProbe:
    """Convert NVML units: mW → W (/1000), MHz → Hz (×1e6), bitmask → reason names."""
    remap = raw.remapped_rows
    links = [s for s in raw.nvlink_state if s is not None]
    cc = raw.compute_capability
    return GpuProbe(
        index=raw.index,
        name=raw.name,
        uuid=raw.uuid,
        pci_bus_id=raw.pci_bus_id,
        compute_capability=f"{cc[0]}.{cc[1]}" if cc else None,
        memory_total_bytes=raw.memory_total_bytes,
        memory_used_bytes=raw.memory_used_bytes,
        vbios_version=raw.vbios_version,
        power_draw_w=_mw_to_w(raw.power_usage_mw),
        power_limit_w=_mw_to_w(raw.power_limit_enforced_mw or raw.power_limit_mw),
        power_limit_default_w=_mw_to_w(raw.power_limit_default_mw),
        power_limit_max_w=_mw_to_w(raw.power_limit_max_mw),
        clock_sm_hz=_mhz_to_hz(raw.clock_sm_mhz),
        clock_sm_max_hz=_mhz_to_hz(raw.clock_sm_max_mhz),
        clock_mem_hz=_mhz_to_hz(raw.clock_mem_mhz),
        clock_mem_max_hz=_mhz_to_hz(raw.clock_mem_max_mhz),
        ecc_enabled=_flag(raw.ecc_mode_current),
        ecc_enabled_pending=_flag(raw.ecc_mode_pending),
        ecc_volatile_corrected=raw.ecc_volatile_corrected,
        ecc_volatile_uncorrected=raw.ecc_volatile_uncorrected,
        ecc_aggregate_corrected=raw.ecc_aggregate_corrected,
        ecc_aggregate_uncorrected=raw.ecc_aggregate_uncorrected,
        retired_pages_sbe=raw.retired_pages_sbe,
        retired_pages_dbe=raw.retired_pages_dbe,
        retired_pages_pending=_flag(raw.retired_pages_pending),
        remapped_rows_correctable=remap[0] if remap else None,
        remapped_rows_uncorrectable=remap[1] if remap else None,
        remap_pending=bool(remap[2]) if remap else None,
        remap_failure=bool(remap[3]) if remap else None,
        pcie_gen=raw.pcie_gen_current,
        pcie_gen_max=raw.pcie_gen_max,
        pcie_gen_gpu_max=raw.pcie_gen_gpu_max,
        pcie_width=raw.pcie_width_current,
        pcie_width_max=raw.pcie_width_max,
        pcie_replay_count=raw.pcie_replay_counter,
        nvlink_links_present=len(links),
        nvlink_links_active=sum(1 for s in links if s == 1),
        temperature_c=_num(raw.temperature_gpu_c),
        temperature_slowdown_c=_num(raw.temperature_slowdown_c),
        temperature_shutdown_c=_num(raw.temperature_shutdown_c),
        throttle_reasons=decode_throttle_reasons(raw.clocks_event_reasons),
        persistence_mode=_flag(raw.persistence_mode),
        mig_enabled=_flag(raw.mig_mode[0]) if raw.mig_mode else None,
        mig_enabled_pending=_flag(raw.mig_mode[1]) if raw.mig_mode else None,
        nvml_errors=raw.errors,
    )


def cuda_version_text(version: int | None) -> str | None:
    """NVML's integer CUDA driver version → "major.minor": 12040 → "12.4", 13000 → "13.0"."""
    if version is None:
        return None
    return f"{version // 1000}.{(version % 1000) // 10}"


def probe_cpu(proc: Path = Path("/proc")) -> CpuProbe:
    """CPU model, cores and memory from /proc (None where a file is missing, e.g. macOS)."""
    cpuinfo = _read(proc / "cpuinfo")
    meminfo = _read(proc / "meminfo")
    if cpuinfo:
        parsed = parse_cpuinfo(cpuinfo)
    else:
        parsed = CpuProbe(
            model=platform.processor() or None,
            logical_cores=os.cpu_count(),
            physical_cores=None,
            sockets=None,
            memory_total_bytes=None,
            memory_available_bytes=None,
        )
    total, available = parse_meminfo(meminfo) if meminfo else (None, None)
    return parsed.model_copy(
        update={"memory_total_bytes": total, "memory_available_bytes": available}
    )


def parse_cpuinfo(text: str) -> CpuProbe:
    """Parse /proc/cpuinfo: model name, logical CPUs, distinct (physical id, core id) pairs."""
    model = None
    logical = 0
    cores: set[tuple[str, str]] = set()
    sockets: set[str] = set()
    for block in text.strip().split("\n\n"):
        fields = {}
        for line in block.splitlines():
            key, sep, value = line.partition(":")
            if sep:
                fields[key.strip()] = value.strip()
        if "processor" not in fields:
            continue
        logical += 1
        model = model or fields.get("model name")
        if "physical id" in fields and "core id" in fields:
            cores.add((fields["physical id"], fields["core id"]))
            sockets.add(fields["physical id"])
    return CpuProbe(
        model=model,
        logical_cores=logical or None,
        physical_cores=len(cores) or None,
        sockets=len(sockets) or None,
        memory_total_bytes=None,
        memory_available_bytes=None,
    )


def parse_meminfo(text: str) -> tuple[int | None, int | None]:
    """(MemTotal, MemAvailable) in bytes from /proc/meminfo (values there are in kB = KiB)."""
    values: dict[str, int] = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            scale = 1024 if len(parts) > 1 and parts[1] == "kB" else 1
            values[key.strip()] = int(parts[0]) * scale
    return values.get("MemTotal"), values.get("MemAvailable")


def node_without_gpu(reason: str, cpu: CpuProbe) -> NodeProbe:
    """The probe of a host with no usable NVIDIA GPU: CPU and memory only."""
    return NodeProbe(
        host=socket.gethostname(),
        taken_utc=utc_now(),
        taken_monotonic_ns=time.monotonic_ns(),
        platform=platform.platform(),
        nvml_available=False,
        gpu_status=f"no NVIDIA GPU ({reason})",
        cpu=cpu,
        source="none",
    )


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _mw_to_w(value: int | None) -> float | None:
    return value / 1000.0 if value is not None else None


def _mhz_to_hz(value: int | None) -> float | None:
    return value * 1e6 if value is not None else None


def _num(value: int | None) -> float | None:
    return float(value) if value is not None else None


def _flag(value: int | None) -> bool | None:
    return bool(value) if value is not None else None
