"""Tier notes say which measured points a tier excluded, by which bound, and never claim
"more load was not measured" when heavier loads were measured and broke a bound.

Fixture l40s sweep (1024/256): TTFT p99 = 1024/12000 × (1 + C/8) × 2 → C=1 0.192 s,
C=4 0.256 s, C=16 0.512 s, C=64 1.536 s; TPOT p99 = (0.022 + 0.0002·C) × 1.25.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.cost.quote import curve_points
from bench.cost.runs import load_runs
from bench.cost.tiers import QuoteTier, tier_point

RUNS = Path(__file__).resolve().parents[1] / "fixtures" / "runs"


def _points(sku: str = "l40s"):  # type: ignore[no-untyped-def]
    return curve_points(load_runs([RUNS / sku / f"sweep-c{c}" for c in (1, 4, 16, 64)]))


def test_loose_target_names_the_heavier_loads_that_broke_ttft() -> None:
    tier = QuoteTier(name="relaxed", min_interactivity_tok_per_s=5, max_ttft_s=0.5)
    tp = tier_point(_points(), tier)
    assert tp.status == "highest_measured"
    assert tp.run_dirs[0].endswith("sweep-c4")
    assert [(e.load, e.bound) for e in tp.excluded] == [
        (16, "TTFT p99 ≤ 0.5 s"),
        (64, "TTFT p99 ≤ 0.5 s"),
    ]
    assert [e.value for e in tp.excluded] == pytest.approx([0.512, 1.536])
    assert "more load was not measured" not in tp.note
    assert "heavier loads were measured but broke a bound: load 16 (0.512 s" in tp.note
    assert "load 64 (1.54 s, bound TTFT p99 ≤ 0.5 s)" in tp.note


def test_loose_target_with_nothing_heavier_says_more_load_was_not_measured() -> None:
    tier = QuoteTier(name="relaxed", min_interactivity_tok_per_s=5, max_ttft_s=5)
    tp = tier_point(_points(), tier)
    assert tp.status == "highest_measured" and tp.run_dirs[0].endswith("sweep-c64")
    assert tp.excluded == []
    assert "more load was not measured, so this price is conservative" in tp.note


def test_unreached_tier_lists_every_point_and_its_value() -> None:
    tier = QuoteTier(name="instant", max_ttft_s=0.1)
    tp = tier_point(_points(), tier)
    assert tp.status == "not_reached"
    assert [e.load for e in tp.excluded] == [1, 4, 16, 64]
    assert "load 1 (0.192 s, bound TTFT p99 ≤ 0.1 s)" in tp.note


def test_error_rate_bound_is_named() -> None:
    points = _points("h100-sxm")
    broken = points[-1].model_copy(update={"error_rate": 0.05, "requests_failed": 5})
    tp = tier_point([*points[:-1], broken], QuoteTier(name="batch"))
    assert tp.run_dirs[0].endswith("sweep-c16")
    assert [(e.load, e.bound, e.value) for e in tp.excluded] == [(64, "error rate ≤ 1%", 0.05)]
    assert "excluded: load 64 (5%, bound error rate ≤ 1%)" in tp.note
