"""pynvml, opened in one place: initialisation with a reason a person can act on, and what
every NVML reader shares (unsupported codes, clocks-event reasons, text fields).

pynvml is imported only inside `open_library`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

# NVML return codes that mean "this GPU / driver does not have it", not "something broke":
# INVALID_ARGUMENT (e.g. a link index past the GPU's last), NOT_SUPPORTED, FUNCTION_NOT_FOUND.
NOT_SUPPORTED_CODES = frozenset({2, 3, 13})

# NVML clocks-event ("throttle") reason bits -> names used in reports.
THROTTLE_REASON_BITS: dict[int, str] = {
    0x1: "gpu_idle",
    0x2: "applications_clocks_setting",
    0x4: "sw_power_cap",
    0x8: "hw_slowdown",
    0x10: "sync_boost",
    0x20: "sw_thermal_slowdown",
    0x40: "hw_thermal_slowdown",
    0x80: "hw_power_brake_slowdown",
    0x100: "display_clock_setting",
}
# Reasons that mean the hardware is protecting itself (heat, power delivery): never healthy.
HARMFUL_THROTTLE_REASONS = (
    "hw_slowdown",
    "sw_thermal_slowdown",
    "hw_thermal_slowdown",
    "hw_power_brake_slowdown",
)

_INIT_FAILURES = {
    9: "the NVIDIA kernel driver is not loaded",
    12: "the NVML library (libnvidia-ml.so) was not found: no NVIDIA driver installed",
    18: "the NVIDIA driver and kernel module versions do not match (reboot?)",
    4: "no permission to use NVML",
}


class NvmlUnavailable(Exception):
    """No usable NVML on this host; the message is the reason shown to the user."""


def open_library() -> Any:
    """Import and initialise pynvml; returns the module. Close it with `close_library`.

    Raises:
        NvmlUnavailable: pynvml missing or NVML failing to initialise; the message says why.
    """
    try:
        import pynvml
    except ImportError:
        raise NvmlUnavailable("pynvml (nvidia-ml-py) is not installed") from None
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:
        raise NvmlUnavailable(init_failure_reason(exc)) from None
    return pynvml


def close_library(nv: Any) -> None:
    """Shut NVML down (NVML counts its inits: each `open_library` wants one close)."""
    quiet(nv.nvmlShutdown)


def init_failure_reason(exc: Exception) -> str:
    """What an `nvmlInit` error means for a person, by NVML return code."""
    code = getattr(exc, "value", None)
    if code is None:
        return str(exc)
    return _INIT_FAILURES.get(code, f"NVML failed to initialise: {exc}")


def clocks_event_reasons(nv: Any) -> Callable[[Any], int]:
    """The device call that returns the clocks-event bitmask: "clocks event reasons" is
    the newer name of "clocks throttle reasons", and pynvml has one or the other."""
    newer = getattr(nv, "nvmlDeviceGetCurrentClocksEventReasons", None)
    return newer or nv.nvmlDeviceGetCurrentClocksThrottleReasons  # type: ignore[no-any-return]


def decode_throttle_reasons(mask: int | None) -> list[str] | None:
    """NVML clocks-event bitmask → reason names, lowest bit first (unknown bits as hex).

    Example: 0x44 → ["sw_power_cap", "hw_thermal_slowdown"].
    """
    if mask is None:
        return None
    names = [name for bit, name in THROTTLE_REASON_BITS.items() if mask & bit]
    unknown = mask & ~sum(THROTTLE_REASON_BITS)
    if unknown:
        names.append(f"unknown_0x{unknown:x}")
    return names


def text(value: Any) -> str | None:
    """An NVML string field as text (older pynvml returns bytes); None stays None."""
    if value is None:
        return None
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def quiet(fn: Callable[[], Any]) -> None:
    """Best-effort teardown of a C library handle: errors here change nothing we report."""
    with contextlib.suppress(Exception):
        fn()
