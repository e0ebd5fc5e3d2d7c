"""A whole node read from NVML at one moment: what the node probe and acceptance need.

`PynvmlSeam.read()` returns an `NvmlSnapshot` of raw NVML values in NVML's own units
(milliwatts, MHz, bytes, bitmasks); `bench.accept.probe` turns a snapshot into a `NodeProbe`.
`ReplayNvml` serves recorded snapshots (JSON) instead, so the parsing and the verdict are
tested without a GPU, and a snapshot taken on a real node (`bench probe --raw`) is a fixture.

A field is `None` when NVML says the GPU does not support it (NOT_SUPPORTED and friends);
any other NVML error is kept in `errors[field]`, never turned into a silent 0.
pynvml is opened only inside `PynvmlSeam.open` (through `bench.nvml.library`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from pydantic import Field

from bench.config.loading import validate_data
from bench.errors import UserError
from bench.nvml.library import (
    NOT_SUPPORTED_CODES,
    NvmlUnavailable,
    clocks_event_reasons,
    close_library,
    open_library,
    quiet,
    text,
)
from bench.records import Record

_NVML_ERROR_TIMEOUT = 10


class NvmlGpuRaw(Record):
    """One GPU as NVML reports it, in NVML's units. `None` = not supported on this GPU."""

    index: int
    name: str
    uuid: str | None = None
    pci_bus_id: str | None = None
    compute_capability: tuple[int, int] | None = None
    memory_total_bytes: int | None = None
    memory_used_bytes: int | None = None
    vbios_version: str | None = None
    power_usage_mw: int | None = None
    power_limit_mw: int | None = None
    power_limit_default_mw: int | None = None
    power_limit_enforced_mw: int | None = None
    power_limit_min_mw: int | None = None
    power_limit_max_mw: int | None = None
    clock_sm_mhz: int | None = None
    clock_mem_mhz: int | None = None
    clock_sm_max_mhz: int | None = None
    clock_mem_max_mhz: int | None = None
    ecc_mode_current: int | None = None
    ecc_mode_pending: int | None = None
    ecc_volatile_corrected: int | None = None
    ecc_volatile_uncorrected: int | None = None
    ecc_aggregate_corrected: int | None = None
    ecc_aggregate_uncorrected: int | None = None
    retired_pages_sbe: int | None = Field(default=None, description="pages retired (multi SBE)")
    retired_pages_dbe: int | None = Field(default=None, description="pages retired (DBE)")
    retired_pages_pending: int | None = None
    remapped_rows: tuple[int, int, int, int] | None = Field(
        default=None, description="(correctable, uncorrectable, pending, failure) as NVML returns"
    )
    pcie_gen_current: int | None = None
    pcie_gen_max: int | None = Field(default=None, description="max possible with GPU and system")
    pcie_gen_gpu_max: int | None = Field(default=None, description="the GPU's own max")
    pcie_width_current: int | None = None
    pcie_width_max: int | None = None
    pcie_replay_counter: int | None = None
    nvlink_state: list[int | None] = Field(
        default_factory=list, description="per link: 1 active, 0 inactive, None not present"
    )
    temperature_gpu_c: int | None = None
    temperature_slowdown_c: int | None = None
    temperature_shutdown_c: int | None = None
    clocks_event_reasons: int | None = Field(default=None, description="NVML bitmask")
    persistence_mode: int | None = None
    mig_mode: tuple[int, int] | None = Field(default=None, description="(current, pending)")
    errors: dict[str, str] = Field(default_factory=dict)


class XidEvent(Record):
    """An Xid (critical GPU error) event NVML delivered between two reads."""

    gpu_index: int
    xid: int
    monotonic_ns: int


class NvmlSnapshot(Record):
    """Everything NVML said at one moment. `note` says where a recorded snapshot came from."""

    captured_monotonic_ns: int
    driver_version: str | None = None
    cuda_driver_version: int | None = Field(default=None, description="e.g. 12040 for 12.4")
    nvml_version: str | None = None
    gpus: list[NvmlGpuRaw]
    xid_events: list[XidEvent] = Field(default_factory=list)
    xid_watch: bool = Field(default=False, description="true when Xid events were being watched")
    xid_watch_error: str | None = None
    note: str | None = None


class NvmlSeam(Protocol):
    """What the probe needs from NVML: one snapshot per call."""

    def read(self) -> NvmlSnapshot: ...

    def close(self) -> None: ...


class ReplayNvml:
    """Serves recorded snapshots in order, repeating the last one (for tests and re-renders)."""

    def __init__(self, snapshots: Sequence[NvmlSnapshot]) -> None:
        if not snapshots:
            raise ValueError("ReplayNvml needs at least one snapshot")
        self._snapshots = list(snapshots)
        self._next = 0

    @classmethod
    def from_file(cls, path: Path) -> ReplayNvml:
        """Load a JSON file holding one snapshot or {"snapshots": [...]}.

        Raises:
            UserError: the file is missing or is not a valid snapshot.
        """
        import json

        if not path.is_file():
            raise UserError("file not found", file=path, fix="give a snapshot JSON file")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise UserError(f"not valid JSON: {exc}", file=path) from None
        items = data["snapshots"] if isinstance(data, dict) and "snapshots" in data else [data]
        return cls([validate_data(NvmlSnapshot, item, path) for item in items])

    def read(self) -> NvmlSnapshot:
        snap = self._snapshots[min(self._next, len(self._snapshots) - 1)]
        self._next += 1
        return snap

    def close(self) -> None:
        return None


class PynvmlSeam:
    """The real NVML, through pynvml (nvidia-ml-py). Create with `PynvmlSeam.open()`."""

    def __init__(self, nvml: Any, handles: list[Any]) -> None:
        self._nvml = nvml
        self._handles = handles
        self._events: Any = None
        self._xid_error: str | None = None
        self._open_xid_watch()

    @classmethod
    def open(cls) -> PynvmlSeam:
        """Initialise NVML and find the GPUs.

        Raises:
            NvmlUnavailable: pynvml missing, no driver, or no GPU; the message says which.
        """
        pynvml = open_library()
        try:
            count = pynvml.nvmlDeviceGetCount()
            handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
        except pynvml.NVMLError as exc:
            close_library(pynvml)
            raise NvmlUnavailable(f"NVML could not list GPUs: {exc}") from None
        if not handles:
            close_library(pynvml)
            raise NvmlUnavailable("the NVIDIA driver is loaded but NVML found no GPU")
        return cls(pynvml, handles)

    def close(self) -> None:
        nv = self._nvml
        if self._events is not None:
            quiet(lambda: nv.nvmlEventSetFree(self._events))
            self._events = None
        close_library(nv)

    def _open_xid_watch(self) -> None:
        """Register every GPU for Xid critical-error events (where the GPU supports them)."""
        nv = self._nvml
        try:
            events = nv.nvmlEventSetCreate()
        except nv.NVMLError:
            return
        registered = 0
        for handle in self._handles:
            try:
                if nv.nvmlDeviceGetSupportedEventTypes(handle) & nv.nvmlEventTypeXidCriticalError:
                    nv.nvmlDeviceRegisterEvents(handle, nv.nvmlEventTypeXidCriticalError, events)
                    registered += 1
            except nv.NVMLError:
                continue
        if registered:
            self._events = events
        else:
            quiet(lambda: nv.nvmlEventSetFree(events))

    def _drain_xids(self) -> list[XidEvent]:
        nv = self._nvml
        found: list[XidEvent] = []
        while self._events is not None:
            try:
                data = nv.nvmlEventSetWait(self._events, 0)
            except nv.NVMLError as exc:
                if getattr(exc, "value", None) != _NVML_ERROR_TIMEOUT:
                    # a broken event set must not pass for "no Xid": say so and stop watching
                    self._xid_error = f"Xid event wait failed: {exc}"
                    quiet(lambda: nv.nvmlEventSetFree(self._events))
                    self._events = None
                break
            try:
                index = int(nv.nvmlDeviceGetIndex(data.device))
            except nv.NVMLError:
                index = -1  # the event still counts; only its GPU is unknown
            found.append(
                XidEvent(gpu_index=index, xid=int(data.eventData), monotonic_ns=time.monotonic_ns())
            )
        return found

    def read(self) -> NvmlSnapshot:
        nv = self._nvml
        errors: dict[str, str] = {}
        driver = self._get(errors, "driver_version", nv.nvmlSystemGetDriverVersion)
        cuda = self._get(errors, "cuda_driver_version", nv.nvmlSystemGetCudaDriverVersion)
        nvml_version = self._get(errors, "nvml_version", nv.nvmlSystemGetNVMLVersion)
        gpus = [self._read_gpu(i, h) for i, h in enumerate(self._handles)]
        return NvmlSnapshot(
            captured_monotonic_ns=time.monotonic_ns(),
            driver_version=text(driver),
            cuda_driver_version=cuda,
            nvml_version=text(nvml_version),
            gpus=gpus,
            xid_events=self._drain_xids(),
            xid_watch=self._events is not None,
            xid_watch_error=self._xid_error,
        )

    def _read_gpu(self, index: int, h: Any) -> NvmlGpuRaw:
        nv = self._nvml
        e: dict[str, str] = {}
        g = self._get
        mem = g(e, "memory", nv.nvmlDeviceGetMemoryInfo, h)
        pci = g(e, "pci_bus_id", nv.nvmlDeviceGetPciInfo, h)
        constraints = g(
            e, "power_limit_constraints", nv.nvmlDeviceGetPowerManagementLimitConstraints, h
        )
        ecc_mode = g(e, "ecc_mode", nv.nvmlDeviceGetEccMode, h)
        mig = g(e, "mig_mode", nv.nvmlDeviceGetMigMode, h)
        remap = g(e, "remapped_rows", nv.nvmlDeviceGetRemappedRows, h)
        sbe = g(
            e,
            "retired_pages_sbe",
            nv.nvmlDeviceGetRetiredPages,
            h,
            nv.NVML_PAGE_RETIREMENT_CAUSE_MULTIPLE_SINGLE_BIT_ECC_ERRORS,
        )
        dbe = g(
            e,
            "retired_pages_dbe",
            nv.nvmlDeviceGetRetiredPages,
            h,
            nv.NVML_PAGE_RETIREMENT_CAUSE_DOUBLE_BIT_ECC_ERROR,
        )
        ecc = {
            f"ecc_{counter}_{kind}": g(
                e,
                f"ecc_{counter}_{kind}",
                nv.nvmlDeviceGetTotalEccErrors,
                h,
                err_type,
                counter_type,
            )
            for counter, counter_type in (
                ("volatile", nv.NVML_VOLATILE_ECC),
                ("aggregate", nv.NVML_AGGREGATE_ECC),
            )
            for kind, err_type in (
                ("corrected", nv.NVML_MEMORY_ERROR_TYPE_CORRECTED),
                ("uncorrected", nv.NVML_MEMORY_ERROR_TYPE_UNCORRECTED),
            )
        }
        return NvmlGpuRaw(
            index=index,
            name=text(g(e, "name", nv.nvmlDeviceGetName, h)) or "unknown",
            uuid=text(g(e, "uuid", nv.nvmlDeviceGetUUID, h)),
            pci_bus_id=text(pci.busId) if pci is not None else None,
            compute_capability=g(e, "compute_capability", nv.nvmlDeviceGetCudaComputeCapability, h),
            memory_total_bytes=mem.total if mem is not None else None,
            memory_used_bytes=mem.used if mem is not None else None,
            vbios_version=text(g(e, "vbios_version", nv.nvmlDeviceGetVbiosVersion, h)),
            power_usage_mw=g(e, "power_usage_mw", nv.nvmlDeviceGetPowerUsage, h),
            power_limit_mw=g(e, "power_limit_mw", nv.nvmlDeviceGetPowerManagementLimit, h),
            power_limit_default_mw=g(
                e, "power_limit_default_mw", nv.nvmlDeviceGetPowerManagementDefaultLimit, h
            ),
            power_limit_enforced_mw=g(
                e, "power_limit_enforced_mw", nv.nvmlDeviceGetEnforcedPowerLimit, h
            ),
            power_limit_min_mw=constraints[0] if constraints else None,
            power_limit_max_mw=constraints[1] if constraints else None,
            clock_sm_mhz=g(e, "clock_sm_mhz", nv.nvmlDeviceGetClockInfo, h, nv.NVML_CLOCK_SM),
            clock_mem_mhz=g(e, "clock_mem_mhz", nv.nvmlDeviceGetClockInfo, h, nv.NVML_CLOCK_MEM),
            clock_sm_max_mhz=g(
                e, "clock_sm_max_mhz", nv.nvmlDeviceGetMaxClockInfo, h, nv.NVML_CLOCK_SM
            ),
            clock_mem_max_mhz=g(
                e, "clock_mem_max_mhz", nv.nvmlDeviceGetMaxClockInfo, h, nv.NVML_CLOCK_MEM
            ),
            ecc_mode_current=ecc_mode[0] if ecc_mode else None,
            ecc_mode_pending=ecc_mode[1] if ecc_mode else None,
            **ecc,
            retired_pages_sbe=len(sbe) if sbe is not None else None,
            retired_pages_dbe=len(dbe) if dbe is not None else None,
            retired_pages_pending=g(
                e, "retired_pages_pending", nv.nvmlDeviceGetRetiredPagesPendingStatus, h
            ),
            remapped_rows=tuple(remap) if remap is not None else None,
            pcie_gen_current=g(e, "pcie_gen_current", nv.nvmlDeviceGetCurrPcieLinkGeneration, h),
            pcie_gen_max=g(e, "pcie_gen_max", nv.nvmlDeviceGetMaxPcieLinkGeneration, h),
            pcie_gen_gpu_max=g(e, "pcie_gen_gpu_max", nv.nvmlDeviceGetGpuMaxPcieLinkGeneration, h),
            pcie_width_current=g(e, "pcie_width_current", nv.nvmlDeviceGetCurrPcieLinkWidth, h),
            pcie_width_max=g(e, "pcie_width_max", nv.nvmlDeviceGetMaxPcieLinkWidth, h),
            pcie_replay_counter=g(e, "pcie_replay_counter", nv.nvmlDeviceGetPcieReplayCounter, h),
            nvlink_state=self._nvlink_states(h),
            temperature_gpu_c=g(
                e, "temperature_gpu_c", nv.nvmlDeviceGetTemperature, h, nv.NVML_TEMPERATURE_GPU
            ),
            temperature_slowdown_c=g(
                e,
                "temperature_slowdown_c",
                nv.nvmlDeviceGetTemperatureThreshold,
                h,
                nv.NVML_TEMPERATURE_THRESHOLD_SLOWDOWN,
            ),
            temperature_shutdown_c=g(
                e,
                "temperature_shutdown_c",
                nv.nvmlDeviceGetTemperatureThreshold,
                h,
                nv.NVML_TEMPERATURE_THRESHOLD_SHUTDOWN,
            ),
            clocks_event_reasons=g(e, "clocks_event_reasons", clocks_event_reasons(nv), h),
            persistence_mode=g(e, "persistence_mode", nv.nvmlDeviceGetPersistenceMode, h),
            mig_mode=tuple(mig) if mig is not None else None,
            errors=e,
        )

    def _nvlink_states(self, h: Any) -> list[int | None]:
        nv = self._nvml
        states: list[int | None] = []
        for link in range(nv.NVML_NVLINK_MAX_LINKS):
            try:
                states.append(int(nv.nvmlDeviceGetNvLinkState(h, link)))
            except nv.NVMLError:
                states.append(None)
        while states and states[-1] is None:
            states.pop()
        return states

    def _get(self, errors: dict[str, str], field: str, fn: Callable[..., Any], *args: Any) -> Any:
        """Call one NVML function: None when unsupported, other errors kept in `errors`."""
        nv = self._nvml
        try:
            return fn(*args)
        except nv.NVMLError as exc:
            if getattr(exc, "value", None) not in NOT_SUPPORTED_CODES:
                errors[field] = str(exc)
            return None
