"""SLO tiers and the operating point a tier gets on a model × SKU's measured curve.

A tier bounds interactivity from below (1 / TPOT at `stat`, tok/s per user) and TTFT at
`stat` from above. Runs breaking the TTFT bound (or with too many errors) are dropped; the
throughput at the interactivity target is read off the remaining points' Pareto front with
monotone interpolation (bench.sweep.curve.operating_point), never extrapolated. A target
looser than every measured point is priced at the highest-throughput measured point
(it meets the tier; more load was not measured), and says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from pydantic import Field

from bench.config.loading import StrictConfig, load_model
from bench.records import Record
from bench.sweep.curve import CurvePoint, operating_point, pareto_front, x_value
from bench.sweep.slo import SLOBound, Stat, SweepSLO, slo_margin


class QuoteTier(StrictConfig):
    """One SLO tier of a price sheet; no bounds means "highest measured throughput"."""

    name: str = Field(min_length=1)
    min_interactivity_tok_per_s: float | None = Field(default=None, gt=0)
    max_ttft_s: float | None = Field(default=None, gt=0)
    stat: Stat = "p99"
    max_error_rate: float = Field(default=0.01, ge=0, le=1)
    source: str | None = None

    @property
    def label(self) -> str:
        parts = []
        if self.min_interactivity_tok_per_s is not None:
            parts.append(f"≥{self.min_interactivity_tok_per_s:g} tok/s/user")
        if self.max_ttft_s is not None:
            parts.append(f"TTFT ≤{self.max_ttft_s:g} s")
        return (" and ".join(parts) + f" ({self.stat})") if parts else "no latency bound"


class QuoteTiers(StrictConfig):
    """A tiers file: `tiers: [{name, min_interactivity_tok_per_s, max_ttft_s, stat}, …]`."""

    tiers: list[QuoteTier] = Field(min_length=1)


DEFAULT_TIERS: tuple[QuoteTier, ...] = (
    QuoteTier(
        name="interactive",
        min_interactivity_tok_per_s=33.0,
        max_ttft_s=0.5,
        source="MLPerf Inference Llama 3.1 8B interactive: TTFT 0.5 s, 33 tok/s/user (p99)",
    ),
    QuoteTier(
        name="standard",
        min_interactivity_tok_per_s=10.0,
        max_ttft_s=2.0,
        source="MLPerf Inference Llama 3.1 8B server: TTFT 2 s, 10 tok/s/user (p99)",
    ),
    QuoteTier(name="batch", source="no latency bound: the highest measured throughput"),
)


def load_tiers(path: Path | None) -> list[QuoteTier]:
    """Tiers from a YAML file, or the defaults (interactive, standard, batch)."""
    if path is None:
        return list(DEFAULT_TIERS)
    return load_model(QuoteTiers, path).tiers


Status = Literal["measured", "interpolated", "highest_measured", "not_reached"]


class TierPoint(Record):
    """Where a tier operates: throughput per GPU and the measured points behind it."""

    tier: str
    constraint: str
    status: Status
    note: str
    total_tok_per_s_per_gpu: float | None = None
    input_tok_per_s_per_gpu: float | None = None
    output_tok_per_s_per_gpu: float | None = None
    interactivity_tok_per_s: float | None = None
    run_dirs: list[str] = Field(default_factory=list)

    @property
    def reached(self) -> bool:
        return self.status != "not_reached"


def _from_point(tier: QuoteTier, p: CurvePoint, status: Status, note: str) -> TierPoint:
    return TierPoint(
        tier=tier.name,
        constraint=tier.label,
        status=status,
        note=note,
        total_tok_per_s_per_gpu=p.total_tok_per_s_per_gpu,
        input_tok_per_s_per_gpu=p.input_tok_per_s_per_gpu,
        output_tok_per_s_per_gpu=p.output_tok_per_s_per_gpu,
        interactivity_tok_per_s=x_value(p, "interactivity_tok_per_s", tier.stat),
        run_dirs=[p.run_dir] if p.run_dir else [],
    )


def tier_point(points: Sequence[CurvePoint], tier: QuoteTier) -> TierPoint:
    """The operating point of `tier` on the measured `points` (one model × SKU)."""
    if tier.max_ttft_s is not None:
        slo = SweepSLO(
            bounds=[SLOBound(metric="ttft_s", stat=tier.stat, limit=tier.max_ttft_s)],
            max_error_rate=tier.max_error_rate,
        )
        feasible = [p for p in points if slo_margin(slo, p).meets]
    else:
        feasible = [p for p in points if p.error_rate <= tier.max_error_rate]
    if not feasible:
        return TierPoint(
            tier=tier.name,
            constraint=tier.label,
            status="not_reached",
            note="no measured point meets the TTFT / error-rate bound",
        )
    target = tier.min_interactivity_tok_per_s
    if target is None:
        best = max(feasible, key=lambda p: p.total_tok_per_s_per_gpu)
        return _from_point(
            tier, best, "measured", f"highest measured throughput (load {best.load:g})"
        )
    op = operating_point(feasible, target, x_stat=tier.stat, throughput="total")
    if op.status == "measured" and op.point is not None:
        return _from_point(tier, op.point, "measured", op.note)
    if op.status == "interpolated" and op.lower is not None and op.upper is not None:
        return TierPoint(
            tier=tier.name,
            constraint=tier.label,
            status="interpolated",
            note=op.note,
            total_tok_per_s_per_gpu=op.total_tok_per_s_per_gpu,
            input_tok_per_s_per_gpu=op.input_tok_per_s_per_gpu,
            output_tok_per_s_per_gpu=op.output_tok_per_s_per_gpu,
            interactivity_tok_per_s=target,
            run_dirs=[d for d in (op.lower.run_dir, op.upper.run_dir) if d],
        )
    front = pareto_front(feasible, x_stat=tier.stat, throughput="total")
    loose = front[0] if front else None  # lowest interactivity = highest throughput
    loose_x = x_value(loose, "interactivity_tok_per_s", tier.stat) if loose else None
    if loose is not None and loose_x is not None and loose_x >= target:
        note = (
            f"target looser than every measured point: priced at the highest-throughput "
            f"measured point (load {loose.load:g}, {loose_x:.1f} tok/s/user); more load was not "
            "measured, so this price is conservative"
        )
        return _from_point(tier, loose, "highest_measured", note)
    return TierPoint(tier=tier.name, constraint=tier.label, status="not_reached", note=op.note)
