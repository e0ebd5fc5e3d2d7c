"""bench compare on the fixture runs of h100-sxm and l40s; projections; fixture validity."""

from __future__ import annotations

from pathlib import Path

import pytest
from cost_testkit import fixture_runs

from bench.cost import CostAssumptions
from bench.cost.compare import make_comparison
from bench.cost.runs import load_runs
from bench.cost.tiers import DEFAULT_TIERS
from bench.errors import UserError
from bench.report.io import load_report, read_requests

RUNS = Path(__file__).resolve().parents[1] / "fixtures" / "runs"
H100_C64 = 1280 / ((1024 / 40_000 + 256 * (0.006 + 0.00005 * 64) / 64) * 1.005)
L40S_C64 = 1280 / ((1024 / 12_000 + 256 * (0.022 + 0.0002 * 64) / 64) * 1.005)


def _sweeps():  # type: ignore[no-untyped-def]
    return load_runs(
        [RUNS / s / f"sweep-c{c}" for s in ("h100-sxm", "l40s") for c in (1, 4, 16, 64)]
    )


def _row(c, tier, sku):  # type: ignore[no-untyped-def]
    return next(r for r in c.rows if r.tier == tier and r.sku == sku)


def test_batch_tier_ranks_h100_first_and_states_by_how_much() -> None:
    c = make_comparison(_sweeps(), CostAssumptions(), tiers=DEFAULT_TIERS)
    h100, l40s = _row(c, "batch", "h100-sxm"), _row(c, "batch", "l40s")
    assert h100.total_tok_per_s_per_gpu == pytest.approx(H100_C64)
    assert l40s.total_tok_per_s_per_gpu == pytest.approx(L40S_C64)
    # rent: h100 $1.30 (SemiAnalysis 3-yr), l40s $1.09 (RunPod secure), per M total tokens
    assert h100.rent_usd_per_m_total == pytest.approx(1.30 / (H100_C64 * 0.0036))  # 0.017692
    assert l40s.rent_usd_per_m_total == pytest.approx(1.09 / (L40S_C64 * 0.0036))  # 0.053378
    assert (h100.rank, l40s.rank) == (1, 2)
    # owned: h100 from capex $40k build-up; l40s has no capex or owned tier
    assert h100.owned_usd_per_m_total is not None and l40s.owned_usd_per_m_total is None
    assert (l40s.owned_method or "").startswith("n/a")
    # tokens/kWh: h100 measured 620 W; l40s estimated from its 350 W board power
    assert h100.power_basis == "measured" and l40s.power_basis == "estimated"
    assert h100.tokens_per_kwh == pytest.approx(H100_C64 * 3600 / 0.62)
    assert l40s.tokens_per_kwh == pytest.approx(L40S_C64 * 3600 / 0.35)
    assert h100.tok_per_s_per_kusd_capex == pytest.approx(H100_C64 / 40)
    batch = next(v for v in c.verdicts if v.startswith("batch"))
    saving = 1 - (1.30 / H100_C64) / (1.09 / L40S_C64)  # 66.9 %
    assert f"h100-sxm (high-end) is {saving:.0%} cheaper per token than l40s" in batch


def test_interactive_tier_matches_slo_per_sku() -> None:
    c = make_comparison(_sweeps(), CostAssumptions(), tiers=DEFAULT_TIERS)
    # l40s breaks TTFT p99 ≤ 0.5 s above C=4, so its interactive point is C=4
    l40s = _row(c, "interactive", "l40s")
    assert l40s.total_tok_per_s_per_gpu < _row(c, "batch", "l40s").total_tok_per_s_per_gpu


def test_projection_is_labelled_and_scaled_by_bandwidth() -> None:
    c = make_comparison(_sweeps(), CostAssumptions(), tiers=DEFAULT_TIERS, project=["h200-sxm"])
    h200 = _row(c, "batch", "h200-sxm")
    assert h200.projected is True
    assert "projected from h100-sxm" in h200.note
    assert h200.total_tok_per_s_per_gpu == pytest.approx(H100_C64 * 4800 / 3350)
    assert h200.power_basis == "estimated"
    with pytest.raises(UserError) as err:
        make_comparison(_sweeps(), CostAssumptions(), tiers=DEFAULT_TIERS, project=["cpu-local"])
    assert err.value.field == "--project"


def test_compare_refuses_several_models(tmp_path: Path) -> None:
    report = load_report(RUNS / "l40s" / "sweep-c1")
    other = report.model_copy(
        update={"config": report.config.model_copy(update={"model": "other/model"})}
    )
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "report.json").write_text(other.model_dump_json())
    with pytest.raises(UserError) as err:
        make_comparison(
            [*_sweeps(), *load_runs([tmp_path / "r"])], CostAssumptions(), tiers=DEFAULT_TIERS
        )
    assert "several models" in err.value.message


def test_fixture_runs_are_valid_and_reproducible() -> None:
    expected = fixture_runs()
    on_disk = sorted(str(p.parent.relative_to(RUNS)) for p in RUNS.glob("*/*/report.json"))
    assert on_disk == sorted(expected)
    for rel, (report, requests) in expected.items():
        stored = load_report(RUNS / rel)  # validates against Report
        # what the generator controls (config gains defaults as RunConfig grows)
        for part in ("summary", "energy", "cost", "provenance"):
            assert getattr(stored, part) == getattr(report, part), (
                f"{rel}.{part} is stale: regenerate with `python tests/unit/cost_testkit.py`"
            )
        for key in ("model", "workload", "load", "hardware", "gpus"):
            assert getattr(stored.config, key) == getattr(report.config, key), (rel, key)
        assert read_requests(RUNS / rel) == requests
