"""GPU memory health: ECC mode and error counts, row remapping / page retirement (pure)."""

from __future__ import annotations

from bench.accept.bands import Bands
from bench.accept.checklib import gpu_list, not_applicable
from bench.accept.probe import GpuProbe, NodeProbe
from bench.accept.records import Check, NodeSample


def ecc_mode(probe: NodeProbe, samples: list[NodeSample], bands: Bands) -> Check:
    known = [g for g in probe.gpus if g.ecc_enabled is not None]
    if not known:
        return not_applicable("ecc_mode", "major", required=False, why="GPUs do not report ECC")
    off = [g.index for g in known if not g.ecc_enabled]
    return Check(
        name="ecc_mode",
        required=True,
        status="fail" if off else "pass",
        severity="major",
        measured_text=f"disabled on {gpu_list(off)}" if off else "enabled on all GPUs",
        expected="ECC enabled",
        gpus=off,
        action="enable ECC: `nvidia-smi -e 1`, then reset the GPU or reboot" if off else None,
    )


def ecc_uncorrected(probe: NodeProbe, samples: list[NodeSample], bands: Bands) -> Check:
    counts = _lifetime(probe.gpus, "uncorrected", samples)
    if not counts:
        return not_applicable("ecc_uncorrected", "critical", required=False, why="no ECC counters")
    bad = [i for i, n in counts.items() if n > 0]
    total = sum(counts.values())
    return Check(
        name="ecc_uncorrected",
        required=True,
        status="fail" if bad else "pass",
        severity="critical",
        measured=float(total),
        unit="errors",
        measured_text=f"{total} on {gpu_list(bad)}" if bad else "0",
        expected="0 uncorrectable ECC errors (volatile and aggregate)",
        expected_min=0.0,
        gpus=bad,
        action="drain; run `dcgmi diag -r 3` on the GPU; reset it; if errors recur, RMA"
        if bad
        else None,
    )


def ecc_corrected(probe: NodeProbe, samples: list[NodeSample], bands: Bands) -> Check:
    counts = _lifetime(probe.gpus, "corrected", samples)
    if not counts:
        return not_applicable("ecc_corrected", "minor", required=False, why="no ECC counters")
    bad = [i for i, n in counts.items() if n > 0]
    total = sum(counts.values())
    return Check(
        name="ecc_corrected",
        required=False,
        status="warn" if bad else "pass",
        severity="minor",
        measured=float(total),
        unit="errors",
        measured_text=f"{total} on {gpu_list(bad)}" if bad else "0",
        expected="0 on a new node (corrected errors are survivable; watch the trend)",
        gpus=bad,
        action="watch the count over the soak; a rising count precedes row remaps" if bad else None,
    )


def memory_remap(probe: NodeProbe, samples: list[NodeSample], bands: Bands) -> Check:
    """Row remapping (Ampere and later) or page retirement (earlier GPUs)."""
    judged = [
        g for g in probe.gpus if g.remap_failure is not None or g.retired_pages_pending is not None
    ]
    if not judged:
        return not_applicable("memory_remap", "critical", required=False, why="not reported")
    failed = [g.index for g in judged if g.remap_failure]
    pending = [g.index for g in judged if g.remap_pending or g.retired_pages_pending]
    remapped = {
        g.index: (g.remapped_rows_uncorrectable or 0) + (g.retired_pages_dbe or 0) for g in judged
    }
    note = ", ".join(f"gpu{i}: {n}" for i, n in remapped.items() if n) or None
    parts = [f"remap failure on {gpu_list(failed)}"] if failed else []
    parts += [f"remap/retirement pending on {gpu_list(pending)}"] if pending else []
    action = None
    if failed:
        action = "RMA the GPU: row remapping failed (no spare rows left)"
    elif pending:
        action = "reset the GPU (`nvidia-smi -r`) or reboot to apply the pending remap/retirement"
    return Check(
        name="memory_remap",
        required=True,
        status="fail" if parts else "pass",
        severity="critical" if failed or not pending else "major",
        measured_text="; ".join(parts) or "no failure, nothing pending",
        expected="no remap failure, no pending remap or page retirement",
        gpus=sorted(set(failed + pending)),
        action=action,
        note=f"rows remapped / pages retired for uncorrectable errors: {note}" if note else None,
    )


def _lifetime(gpus: list[GpuProbe], kind: str, samples: list[NodeSample]) -> dict[int, int]:
    """Per GPU: the larger of the aggregate (lifetime) and volatile counts, including counts
    seen in later samples (errors that appeared during the run)."""
    counts: dict[int, int] = {}
    for g in gpus:
        values = [getattr(g, f"ecc_volatile_{kind}"), getattr(g, f"ecc_aggregate_{kind}")]
        known = [v for v in values if v is not None]
        if known:
            counts[g.index] = max(known)
    for s in samples:
        for gs in s.gpus:
            v = getattr(gs, f"ecc_volatile_{kind}")
            if v is not None and gs.index in counts:
                counts[gs.index] = max(counts[gs.index], v)
    return counts
