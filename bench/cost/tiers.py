"""SLO tiers and the operating point a tier gets on a model × SKU's measured curve.

A tier bounds interactivity from below (1 / TPOT at `stat`, tok/s per user) and TTFT at
`stat` from above. Runs breaking the TTFT bound (or with too many errors) are dropped; the
throughput at the interactivity target is read off the remaining points' Pareto front with
monotone interpolation (bench.sweep.curve.operating_point), never extrapolated. A target
looser than every point within the bounds is priced at the highest-throughput such point,
and the note says why no more: either more load was not measured, or the heavier loads
that were measured broke a bound. Every tier names the points it excluded and by which
bound.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from pydantic import Field

from bench.config.loading import StrictConfig, load_model
from bench.records import Record
from bench.sweep.curve import CurvePoint, operating_point, pareto_front, x_value
from bench.sweep.slo import Stat, distribution_stat


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


class Exclusion(Record):
    """A measured point a tier did not use: which bound it broke and by how much.

    `value` is the measured statistic (TTFT in s, error rate as a fraction); None when the
    statistic was not measured at all.
    """

    load: float
    run_dir: str | None
    bound: str
    value: float | None
    total_tok_per_s_per_gpu: float

    @property
    def text(self) -> str:
        if self.value is None:
            return f"load {self.load:g} ({self.bound}: not measured)"
        shown = f"{self.value:.0%}" if self.bound.startswith("error") else f"{self.value:.3g} s"
        return f"load {self.load:g} ({shown}, bound {self.bound})"


class TierPoint(Record):
    """Where a tier operates: throughput per GPU, the measured points behind it and the
    measured points it excluded (with the bound each broke)."""

    tier: str
    constraint: str
    status: Status
    note: str
    excluded: list[Exclusion] = Field(default_factory=list)
    total_tok_per_s_per_gpu: float | None = None
    input_tok_per_s_per_gpu: float | None = None
    output_tok_per_s_per_gpu: float | None = None
    interactivity_tok_per_s: float | None = None
    run_dirs: list[str] = Field(default_factory=list)

    @property
    def reached(self) -> bool:
        return self.status != "not_reached"


def _from_point(
    tier: QuoteTier, p: CurvePoint, status: Status, note: str, excluded: list[Exclusion]
) -> TierPoint:
    return TierPoint(
        tier=tier.name,
        constraint=tier.label,
        status=status,
        note=note,
        excluded=excluded,
        total_tok_per_s_per_gpu=p.total_tok_per_s_per_gpu,
        input_tok_per_s_per_gpu=p.input_tok_per_s_per_gpu,
        output_tok_per_s_per_gpu=p.output_tok_per_s_per_gpu,
        interactivity_tok_per_s=x_value(p, "interactivity_tok_per_s", tier.stat),
        run_dirs=[p.run_dir] if p.run_dir else [],
    )


def split_by_bounds(
    points: Sequence[CurvePoint], tier: QuoteTier
) -> tuple[list[CurvePoint], list[Exclusion]]:
    """(points within the tier's TTFT and error-rate bounds, the others with the reason).

    A point breaks the TTFT bound when TTFT at `tier.stat` is above `max_ttft_s` or was not
    measured; the error-rate bound when more than `max_error_rate` of its requests failed.
    """
    kept: list[CurvePoint] = []
    excluded: list[Exclusion] = []
    for p in points:
        broke: tuple[str, float | None] | None = None
        if tier.max_ttft_s is not None:
            ttft = distribution_stat(p.ttft_s, tier.stat)
            if ttft is None or ttft > tier.max_ttft_s:
                broke = (f"TTFT {tier.stat} ≤ {tier.max_ttft_s:g} s", ttft)
        if broke is None and p.error_rate > tier.max_error_rate:
            broke = (f"error rate ≤ {tier.max_error_rate:.0%}", p.error_rate)
        if broke is None:
            kept.append(p)
        else:
            excluded.append(
                Exclusion(
                    load=p.load,
                    run_dir=p.run_dir,
                    bound=broke[0],
                    value=broke[1],
                    total_tok_per_s_per_gpu=p.total_tok_per_s_per_gpu,
                )
            )
    return kept, excluded


def _with_exclusions(note: str, excluded: Sequence[Exclusion]) -> str:
    if not excluded:
        return note
    return f"{note}; excluded: " + ", ".join(e.text for e in excluded)


def _loose_note(loose: CurvePoint, loose_x: float, excluded: Sequence[Exclusion]) -> str:
    """Why a target looser than every usable point is priced at the busiest usable one."""
    head = (
        f"target looser than every point within the bounds: priced at the highest-throughput "
        f"one (load {loose.load:g}, {loose_x:.1f} tok/s/user)"
    )
    heavier = [e for e in excluded if e.load > loose.load]
    if not heavier:
        conservative = "; more load was not measured, so this price is conservative"
        return _with_exclusions(head + conservative, excluded)
    note = head + "; heavier loads were measured but broke a bound: "
    note += ", ".join(e.text for e in heavier)
    lighter = [e for e in excluded if e.load <= loose.load]
    if lighter:
        note += "; also excluded: " + ", ".join(e.text for e in lighter)
    return note


def tier_point(points: Sequence[CurvePoint], tier: QuoteTier) -> TierPoint:
    """The operating point of `tier` on the measured `points` (one model × SKU)."""
    feasible, excluded = split_by_bounds(points, tier)
    if not feasible:
        return TierPoint(
            tier=tier.name,
            constraint=tier.label,
            status="not_reached",
            note=_with_exclusions("no measured point meets the TTFT / error-rate bound", excluded),
            excluded=excluded,
        )
    target = tier.min_interactivity_tok_per_s
    if target is None:
        best = max(feasible, key=lambda p: p.total_tok_per_s_per_gpu)
        note = _with_exclusions(f"highest measured throughput (load {best.load:g})", excluded)
        return _from_point(tier, best, "measured", note, excluded)
    op = operating_point(feasible, target, x_stat=tier.stat, throughput="total")
    if op.status == "measured" and op.point is not None:
        return _from_point(
            tier, op.point, "measured", _with_exclusions(op.note, excluded), excluded
        )
    if op.status == "interpolated" and op.lower is not None and op.upper is not None:
        return TierPoint(
            tier=tier.name,
            constraint=tier.label,
            status="interpolated",
            note=_with_exclusions(op.note, excluded),
            excluded=excluded,
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
        note = _loose_note(loose, loose_x, excluded)
        return _from_point(tier, loose, "highest_measured", note, excluded)
    return TierPoint(
        tier=tier.name,
        constraint=tier.label,
        status="not_reached",
        note=_with_exclusions(op.note, excluded),
        excluded=excluded,
    )
