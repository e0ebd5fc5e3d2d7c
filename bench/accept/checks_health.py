"""Health checks from the NVML probe and the samples taken under load (pure functions).

Severity and actions follow the NVIDIA Health Validation style: what is wrong, how bad,
what to do next. On a CPU SKU (`bands.expected_gpus == 0`) every GPU check is
not applicable and not required; on a GPU SKU whose GPUs are missing they are not
applicable but still required, so the verdict can never pass.
"""

from __future__ import annotations

from collections.abc import Callable

from bench.accept.bands import Bands
from bench.accept.checklib import gpu_list, not_applicable
from bench.accept.checks_memory import ecc_corrected, ecc_mode, ecc_uncorrected, memory_remap
from bench.accept.probe import NodeProbe
from bench.accept.records import Check, NodeSample, Severity
from bench.nvml.library import HARMFUL_THROTTLE_REASONS

HealthCheck = Callable[[NodeProbe, list[NodeSample], Bands], Check]

ACTION_SERVICE = (
    "drain the node; reset the GPU (nvidia-smi -r) or reboot; if it persists, open a service ticket"
)


def gpu_count(probe: NodeProbe, samples: list[NodeSample], bands: Bands) -> Check:
    found = len(probe.gpus)
    ok = found == bands.expected_gpus
    return Check(
        name="gpu_count",
        required=True,
        status="pass" if ok else "fail",
        severity="critical",
        measured=float(found),
        unit="GPUs",
        measured_text=f"{found} ({probe.gpu_status})" if not found else str(found),
        expected=f"= {bands.expected_gpus} ({bands.sku})",
        expected_min=float(bands.expected_gpus),
        action=None
        if ok
        else "check `nvidia-smi -L` and dmesg; reseat or replace the missing GPU; "
        + ACTION_SERVICE,
    )


def gpu_model(probe: NodeProbe, samples: list[NodeSample], bands: Bands) -> Check:
    names = sorted({g.name for g in probe.gpus})
    ok = len(names) == 1
    odd = [g.index for g in probe.gpus if g.name != probe.gpus[0].name]
    return Check(
        name="gpu_model",
        required=True,
        status="pass" if ok else "fail",
        severity="major",
        measured_text=" / ".join(names),
        expected=f"one model on every GPU (SKU: {bands.gpu_name or bands.sku})",
        gpus=odd,
        action=None if ok else "replace the GPUs that differ from the SKU",
    )


def nvml_health(probe: NodeProbe, samples: list[NodeSample], bands: Bands) -> Check:
    bad = {g.index: g.nvml_errors for g in probe.gpus if g.nvml_errors}
    text = "; ".join(
        f"gpu{i}: " + ", ".join(f"{k}: {v}" for k, v in e.items()) for i, e in bad.items()
    )
    return Check(
        name="nvml_queries",
        required=True,
        status="error" if bad else "pass",
        severity="major",
        measured_text=text or "all NVML queries answered",
        expected="every NVML query answers (or is unsupported)",
        gpus=sorted(bad),
        action="read the NVML error (e.g. GPU is lost, InfoROM corrupted); " + ACTION_SERVICE
        if bad
        else None,
    )


def pcie_link(probe: NodeProbe, samples: list[NodeSample], bands: Bands) -> Check:
    """Degraded = the slot caps the GPU (max gen < GPU max gen, or a narrower max width than
    the siblings'), or under load the link never trained to its max gen/width. Idle links
    train down to save power, so current gen/width is judged only from load samples."""
    gpus = [g for g in probe.gpus if g.pcie_gen_max is not None and g.pcie_width_max is not None]
    if not gpus:
        return not_applicable("pcie_link", "major", required=False, why="PCIe link not reported")
    widest = max(g.pcie_width_max or 0 for g in gpus)
    best = _best_link(samples)
    problems: dict[int, str] = {}
    for g in gpus:
        if g.pcie_gen_gpu_max and g.pcie_gen_max and g.pcie_gen_max < g.pcie_gen_gpu_max:
            problems[g.index] = f"slot Gen{g.pcie_gen_max} < GPU Gen{g.pcie_gen_gpu_max}"
        elif g.pcie_width_max is not None and g.pcie_width_max < widest:
            problems[g.index] = f"max x{g.pcie_width_max} < siblings' x{widest}"
        elif g.index in best:
            gen, width = best[g.index]
            if (gen or 0) < (g.pcie_gen_max or 0) or (width or 0) < (g.pcie_width_max or 0):
                problems[g.index] = (
                    f"under load Gen{gen} x{width} < Gen{g.pcie_gen_max} x{g.pcie_width_max}"
                )
    first = gpus[0]
    note = (
        None
        if best
        else "link state not observed during host copies; only the slot maximums judged"
    )
    return Check(
        name="pcie_link",
        required=True,
        status="fail" if problems else "pass",
        severity="major",
        measured_text="; ".join(f"gpu{i}: {p}" for i, p in problems.items())
        or f"Gen{first.pcie_gen_max} x{first.pcie_width_max} on all GPUs",
        expected="every GPU at its max PCIe generation and width",
        gpus=sorted(problems),
        action="reseat the GPU / riser / cable; check BIOS PCIe settings and retimers; "
        "`nvidia-smi -q -d PCIE`"
        if problems
        else None,
        note=note,
    )


def nvlink(probe: NodeProbe, samples: list[NodeSample], bands: Bands) -> Check:
    most = max((g.nvlink_links_present for g in probe.gpus), default=0)
    if most == 0:
        return not_applicable("nvlink", "critical", required=False, why="no NVLink on these GPUs")
    down = {
        g.index: most - g.nvlink_links_active for g in probe.gpus if g.nvlink_links_active < most
    }
    return Check(
        name="nvlink",
        required=True,
        status="fail" if down else "pass",
        severity="critical",
        measured=float(sum(down.values())),
        unit="inactive links",
        measured_text=", ".join(f"gpu{i}: {n} of {most} down" for i, n in down.items())
        or f"{most} of {most} links active on every GPU",
        expected=f"{most} active links per GPU",
        gpus=sorted(down),
        action="check `nvidia-smi nvlink --status` and the fabric manager; reseat the baseboard; "
        + ACTION_SERVICE
        if down
        else None,
    )


def throttling(probe: NodeProbe, samples: list[NodeSample], bands: Bands) -> Check:
    seen: dict[int, set[str]] = {}
    power_capped: set[int] = set()
    readings = [(g.index, g.throttle_reasons) for g in probe.gpus]
    readings += [(g.index, g.throttle_reasons) for s in samples for g in s.gpus]
    for index, reasons in readings:
        harmful = set(reasons or ()) & set(HARMFUL_THROTTLE_REASONS)
        if harmful:
            seen.setdefault(index, set()).update(harmful)
        if reasons and "sw_power_cap" in reasons:
            power_capped.add(index)
    if all(r is None for _, r in readings):
        return not_applicable("throttling", "critical", required=False, why="not reported")
    return Check(
        name="throttling",
        required=True,
        status="fail" if seen else "pass",
        severity="critical",
        measured_text="; ".join(f"gpu{i}: {', '.join(sorted(r))}" for i, r in seen.items())
        or "no thermal / power-brake / hardware slowdown",
        expected="no hw_slowdown, hw/sw thermal slowdown or power-brake (idle and under load)",
        gpus=sorted(seen),
        action="check cooling (fans, airflow, inlet temperature) and power delivery (PSUs, BMC "
        "power brake); `nvidia-smi -q -d PERFORMANCE`"
        if seen
        else None,
        note=f"software power cap reached under load on {gpu_list(power_capped)}"
        if power_capped
        else None,
    )


def power_limit(probe: NodeProbe, samples: list[NodeSample], bands: Bands) -> Check:
    known = [g for g in probe.gpus if g.power_limit_w and g.power_limit_default_w]
    if not known:
        return not_applicable("power_limit", "major", required=False, why="not reported")
    low = [g for g in known if (g.power_limit_w or 0) < (g.power_limit_default_w or 0)]
    return Check(
        name="power_limit",
        required=True,
        status="fail" if low else "pass",
        severity="major",
        measured=min(g.power_limit_w or 0 for g in known),
        unit="W",
        measured_text=", ".join(f"gpu{g.index}: {g.power_limit_w:.0f} W" for g in low)
        or f"{known[0].power_limit_w:.0f} W on all GPUs",
        expected=f"= default {known[0].power_limit_default_w:.0f} W",
        gpus=[g.index for g in low],
        action="restore with `nvidia-smi -pl <default>`; check BMC / chassis power capping"
        if low
        else None,
    )


def temperature(probe: NodeProbe, samples: list[NodeSample], bands: Bands) -> Check:
    peak: dict[int, float] = {}
    limit: dict[int, float] = {}
    for g in probe.gpus:
        if g.temperature_c is not None:
            peak[g.index] = g.temperature_c
        if g.temperature_slowdown_c is not None:
            limit[g.index] = g.temperature_slowdown_c
    for s in samples:
        for gs in s.gpus:
            if gs.temperature_c is not None:
                peak[gs.index] = max(peak.get(gs.index, gs.temperature_c), gs.temperature_c)
    judged = [i for i in peak if i in limit]
    if not judged:
        return not_applicable("temperature", "critical", required=False, why="no slowdown limit")
    hot = [i for i in judged if peak[i] >= limit[i]]
    hottest = max(judged, key=lambda i: peak[i] - limit[i])
    return Check(
        name="temperature",
        required=True,
        status="fail" if hot else "pass",
        severity="critical",
        measured=max(peak[i] for i in judged),
        unit="°C",
        measured_text=f"peak {peak[hottest]:.0f} °C on gpu{hottest} "
        f"(slowdown {limit[hottest]:.0f} °C)",
        expected="peak below each GPU's slowdown temperature (idle and under load)",
        gpus=hot,
        action="check airflow, fans and inlet temperature" if hot else None,
    )


def mig_mode(probe: NodeProbe, samples: list[NodeSample], bands: Bands) -> Check:
    known = [g for g in probe.gpus if g.mig_enabled is not None]
    if not known:
        return not_applicable("mig_mode", "major", required=False, why="MIG not supported")
    on = [g.index for g in known if g.mig_enabled or g.mig_enabled_pending]
    return Check(
        name="mig_mode",
        required=True,
        status="fail" if on else "pass",
        severity="major",
        measured_text=f"enabled or pending on {gpu_list(on)}" if on else "disabled",
        expected="MIG disabled (whole GPUs, as the SKU is priced)",
        gpus=on,
        action="`nvidia-smi -i <gpu> -mig 0`, then reset the GPU" if on else None,
    )


def persistence(probe: NodeProbe, samples: list[NodeSample], bands: Bands) -> Check:
    known = [g for g in probe.gpus if g.persistence_mode is not None]
    if not known:
        return not_applicable("persistence_mode", "minor", required=False, why="not reported")
    off = [g.index for g in known if not g.persistence_mode]
    return Check(
        name="persistence_mode",
        required=False,
        status="warn" if off else "pass",
        severity="minor",
        measured_text=f"off on {gpu_list(off)}" if off else "on",
        expected="on (avoids driver re-initialisation per process)",
        gpus=off,
        action="enable nvidia-persistenced (or `nvidia-smi -pm 1`)" if off else None,
    )


def xid_errors(probe: NodeProbe, samples: list[NodeSample], bands: Bands) -> Check:
    if not probe.xid_watch:
        why = probe.xid_watch_error or "NVML Xid events not available on these GPUs"
        return not_applicable("xid_errors", "critical", required=False, why=why)
    events = list(probe.xid_events) + [e for s in samples for e in s.xid_events]
    return Check(
        name="xid_errors",
        required=True,
        status="fail" if events else "pass",
        severity="critical",
        measured=float(len(events)),
        unit="events",
        measured_text=", ".join(f"gpu{e.gpu_index}: Xid {e.xid}" for e in events) or "none",
        expected="no Xid critical error during the run",
        gpus=sorted({e.gpu_index for e in events}),
        action="look the Xid up in NVIDIA's Xid catalogue; " + ACTION_SERVICE if events else None,
        note=probe.xid_watch_error,
    )


HEALTH_CHECKS: dict[str, tuple[HealthCheck, Severity]] = {
    "gpu_count": (gpu_count, "critical"),
    "gpu_model": (gpu_model, "major"),
    "nvml_queries": (nvml_health, "major"),
    "ecc_mode": (ecc_mode, "major"),
    "ecc_uncorrected": (ecc_uncorrected, "critical"),
    "ecc_corrected": (ecc_corrected, "minor"),
    "memory_remap": (memory_remap, "critical"),
    "pcie_link": (pcie_link, "major"),
    "nvlink": (nvlink, "critical"),
    "throttling": (throttling, "critical"),
    "power_limit": (power_limit, "major"),
    "temperature": (temperature, "critical"),
    "mig_mode": (mig_mode, "major"),
    "persistence_mode": (persistence, "minor"),
    "xid_errors": (xid_errors, "critical"),
}


def health_checks(probe: NodeProbe, samples: list[NodeSample], bands: Bands) -> list[Check]:
    """Every health check, in a fixed order."""
    if bands.expected_gpus == 0:
        why = f"{bands.sku} is a CPU SKU: no GPU is expected"
        return [
            not_applicable(name, sev, required=False, why=why)
            for name, (_, sev) in HEALTH_CHECKS.items()
        ]
    if not probe.gpus:
        checks = [gpu_count(probe, samples, bands)]
        why = f"no GPU to check: {probe.gpu_status}"
        checks += [
            not_applicable(name, sev, required=True, why=why)
            for name, (_, sev) in HEALTH_CHECKS.items()
            if name != "gpu_count"
        ]
        return checks
    return [fn(probe, samples, bands) for fn, _ in HEALTH_CHECKS.values()]


def _best_link(samples: list[NodeSample]) -> dict[int, tuple[int | None, int | None]]:
    """Highest PCIe (gen, width) each GPU reached while the microbenchmarks ran (their host
    copies drive the link to full speed; inference barely uses it, and the "final" sample is
    taken at idle, when links have trained down)."""
    best: dict[int, tuple[int | None, int | None]] = {}
    for s in samples:
        if s.phase != "micro":
            continue
        for g in s.gpus:
            if g.pcie_gen is None and g.pcie_width is None:
                continue
            gen, width = best.get(g.index, (None, None))
            best[g.index] = (max(gen or 0, g.pcie_gen or 0), max(width or 0, g.pcie_width or 0))
    return best
