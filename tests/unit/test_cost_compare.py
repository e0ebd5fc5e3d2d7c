"""bench compare on the fixture runs of h100-sxm and l40s: like-for-like prices and
workloads, projections, fixture validity.

Fixture throughput at C = 64, shape 1024/256 (cost_testkit's serving model):
  h100-sxm  1280 / ((1024/40000 + 256·(0.006 + 0.00005·64)/64) × 1.005) = 20,410.8 tok/s/GPU
  l40s      1280 / ((1024/12000 + 256·(0.022 + 0.0002·64)/64) × 1.005) =  5,672.4 tok/s/GPU
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cost_testkit import fixture_runs

from bench.cost import CostAssumptions
from bench.cost.compare import make_comparison
from bench.cost.runs import load_runs
from bench.cost.tiers import DEFAULT_TIERS
from bench.errors import UserError
from bench.hardware import default_hardware_dir
from bench.report.io import load_report, read_requests
from bench.workloads.spec import WorkloadRef

RUNS = Path(__file__).resolve().parents[1] / "fixtures" / "runs"
H100_C64 = 1280 / ((1024 / 40_000 + 256 * (0.006 + 0.00005 * 64) / 64) * 1.005)
L40S_C64 = 1280 / ((1024 / 12_000 + 256 * (0.022 + 0.0002 * 64) / 64) * 1.005)
ON_DEMAND = CostAssumptions(price_tier="on-demand")


def _sweeps(skus: tuple[str, ...] = ("h100-sxm", "l40s")):  # type: ignore[no-untyped-def]
    return load_runs([RUNS / s / f"sweep-c{c}" for s in skus for c in (1, 4, 16, 64)])


def _row(c, tier, sku):  # type: ignore[no-untyped-def]
    return next(r for r in c.rows if r.tier == tier and r.sku == sku)


def test_same_kind_of_price_gives_the_figure_computed_by_hand() -> None:
    c = make_comparison(_sweeps(), ON_DEMAND, tiers=DEFAULT_TIERS)
    h100, l40s = _row(c, "batch", "h100-sxm"), _row(c, "batch", "l40s")
    assert h100.total_tok_per_s_per_gpu == pytest.approx(H100_C64)
    assert l40s.total_tok_per_s_per_gpu == pytest.approx(L40S_C64)
    # both on RunPod Secure on-demand: h100 $3.49 (2026-11), l40s $1.09 (2026-09-25)
    for row, price, date in ((h100, 3.49, "2026-11"), (l40s, 1.09, "2026-09-25")):
        assert (row.price, row.price_kind, row.price_date) == ("runpod-secure", "on-demand", date)
        assert row.gpu_hour_price_usd == pytest.approx(price)
    assert h100.usd_per_m_total == pytest.approx(3.49 / (H100_C64 * 0.0036))  # 0.047497
    assert l40s.usd_per_m_total == pytest.approx(1.09 / (L40S_C64 * 0.0036))  # 0.053378
    assert (h100.rank, l40s.rank) == (1, 2)
    saving = 1 - (3.49 / H100_C64) / (1.09 / L40S_C64)  # 1 − 0.047497 / 0.053378 = 11.0 %
    assert round(saving, 3) == 0.110
    batch = next(v for v in c.verdicts if v.startswith("batch"))
    assert f"h100-sxm (high-end) is {saving:.0%} cheaper per token than l40s" in batch
    assert "runpod-secure (on-demand, 2026-09-25)" in batch
    # tokens/kWh: h100 measured 620 W; l40s estimated from its 350 W board power
    assert h100.power_basis == "measured" and l40s.power_basis == "estimated"
    assert h100.tokens_per_kwh == pytest.approx(H100_C64 * 3600 / 0.62)
    assert h100.tok_per_s_per_kusd_capex == pytest.approx(H100_C64 / 40)


def test_mixing_kinds_is_refused_naming_both_tiers() -> None:
    # the defaults: h100 a SemiAnalysis 3-year contract, l40s RunPod Secure on demand
    with pytest.raises(UserError) as err:
        make_comparison(_sweeps(), CostAssumptions(), tiers=DEFAULT_TIERS)
    assert err.value.field == "--price-tier"
    assert "h100-sxm: semianalysis-3yr-rental (3-year, 2026-04-03)" in err.value.message
    assert "l40s: runpod-secure (on-demand, 2026-09-25)" in err.value.message
    assert "--price-tier on-demand" in (err.value.fix or "")
    c = make_comparison(_sweeps(), CostAssumptions(), tiers=DEFAULT_TIERS, allow_mixed_basis=True)
    assert all("MIXED BASIS" in v for v in c.verdicts)
    assert any(n.startswith("MIXED BASIS (3-year, on-demand)") for n in c.notes)


def test_mixing_kinds_exits_2_from_the_command_line() -> None:
    runs = [str(RUNS / s / "sweep-c64") for s in ("h100-sxm", "l40s")]
    done = subprocess.run(
        [sys.executable, "-m", "bench", "compare", *runs], capture_output=True, text=True
    )
    assert done.returncode == 2
    assert "semianalysis-3yr-rental (3-year, 2026-04-03)" in done.stderr
    assert "runpod-secure (on-demand, 2026-09-25)" in done.stderr


def test_one_price_for_every_sku_is_refused() -> None:
    with pytest.raises(UserError) as err:
        make_comparison(
            _sweeps(), CostAssumptions(rent_price_per_gpu_hour=2.0), tiers=DEFAULT_TIERS
        )
    assert err.value.field == "rent_price_per_gpu_hour" and "--price SKU=VALUE" in (
        err.value.fix or ""
    )


def test_interactive_tier_matches_slo_per_sku() -> None:
    c = make_comparison(_sweeps(), ON_DEMAND, tiers=DEFAULT_TIERS)
    # l40s breaks TTFT p99 ≤ 0.5 s above C=4, so its interactive point is C=4
    l40s = _row(c, "interactive", "l40s")
    assert l40s.total_tok_per_s_per_gpu < _row(c, "batch", "l40s").total_tok_per_s_per_gpu
    assert "load 16 (0.512 s, bound TTFT p99 ≤ 0.5 s)" in l40s.note


def test_workloads_are_matched_and_unmatched_runs_named() -> None:
    # an H100 4096/32 probe against an L40S 1024/256 sweep: nothing like for like
    runs = load_runs([RUNS / "h100-sxm" / "probe-prefill", *[RUNS / "l40s" / "sweep-c64"]])
    with pytest.raises(UserError) as err:
        make_comparison(runs, ON_DEMAND, tiers=DEFAULT_TIERS)
    assert "no workload was run on every SKU" in err.value.message
    assert "h100-sxm: 4096/32 (completions)" in err.value.message
    assert "l40s: 1024/256 (completions)" in err.value.message
    # folders with sweeps and probes: each shared workload is compared on its own
    c = make_comparison(
        load_runs([RUNS / "h100-sxm", RUNS / "l40s"]), ON_DEMAND, tiers=DEFAULT_TIERS
    )
    assert c.workloads == [
        "1536/384 (completions)",
        "128/1024 (completions)",
        "4096/32 (completions)",
        "1024/256 (completions)",
    ]
    sweep = next(r for r in c.rows if r.workload.startswith("1024/256") and r.tier == "batch")
    assert sweep.total_tok_per_s_per_gpu == pytest.approx(H100_C64)  # not a probe's


def test_projection_is_bounded_labelled_and_priced_when_given_a_price(tmp_path: Path) -> None:
    c = make_comparison(
        _sweeps(), ON_DEMAND, tiers=DEFAULT_TIERS, project=["h20"], prices={"h20": 2.0}
    )
    h20 = _row(c, "batch", "h20")
    assert h20.projected and h20.status == "projected"
    assert "projected from h100-sxm" in h20.note
    assert h20.total_tok_per_s_per_gpu_low < h20.total_tok_per_s_per_gpu
    assert h20.total_tok_per_s_per_gpu < h20.total_tok_per_s_per_gpu_high < H100_C64
    assert (h20.price, h20.price_kind, h20.gpu_hour_price_usd) == ("your price", "on-demand", 2.0)
    assert h20.usd_per_m_total == pytest.approx(2.0 / (h20.total_tok_per_s_per_gpu * 0.0036))
    assert h20.usd_per_m_total_low == pytest.approx(
        2.0 / (h20.total_tok_per_s_per_gpu_high * 0.0036)
    )
    # without a price the row says so and the notes give the command
    c = make_comparison(_sweeps(), ON_DEMAND, tiers=DEFAULT_TIERS, project=["h20"])
    assert _row(c, "batch", "h20").usd_per_m_total is None
    assert any("--price h20=VALUE" in n and "no public rent figure" in n for n in c.notes)
    with pytest.raises(UserError) as err:
        make_comparison(_sweeps(), ON_DEMAND, tiers=DEFAULT_TIERS, project=["mi300x"])
    assert "--cross-vendor" in (err.value.fix or "")
    with pytest.raises(UserError) as err:
        make_comparison(_sweeps(), ON_DEMAND, tiers=DEFAULT_TIERS, project=["cpu-local"])
    assert err.value.field == "--project"


def test_projecting_a_profile_given_by_path_works(tmp_path: Path) -> None:
    data = yaml.safe_load((default_hardware_dir() / "h20.yaml").read_text())
    data["prices"] = {
        "default_rent_tier": "my-quote",
        "rent": [
            {
                "tier": "my-quote",
                "kind": "on-demand",
                "provider": "me",
                "usd_per_gpu_hour": 1.9,
                "includes_power": True,
                "source": "our own quote",
                "date": "2026-12",
                "reliability": "assumption",
            },  # fmt: skip
        ],
    }
    path = tmp_path / "h20-priced.yaml"
    path.write_text(yaml.safe_dump(data))
    c = make_comparison(_sweeps(), ON_DEMAND, tiers=DEFAULT_TIERS, project=[str(path)])
    h20 = _row(c, "batch", "h20")
    assert (h20.price, h20.gpu_hour_price_usd) == ("my-quote", 1.9)


def test_owned_basis_refuses_capex_of_different_kinds() -> None:
    owned = CostAssumptions(basis="owned")
    # h100 all-in capex (2023-05) against h200's street price (unverified, 2026-06)
    with pytest.raises(UserError) as err:
        make_comparison(_sweeps(("h100-sxm",)), owned, tiers=DEFAULT_TIERS, project=["h200-sxm"])
    assert "capex-all-in" in err.value.message and "capex-street" in err.value.message
    c = make_comparison(
        _sweeps(("h100-sxm",)),
        owned.model_copy(update={"price_tier": "owned-modelled"}),
        tiers=DEFAULT_TIERS,
        project=["h200-sxm"],
    )
    h100, h200 = _row(c, "batch", "h100-sxm"), _row(c, "batch", "h200-sxm")
    # SemiAnalysis neocloud owning cost: h100 $1.69, h200 $1.74 per GPU-hour
    assert (h100.price, h100.gpu_hour_price_usd) == ("semianalysis-neocloud", 1.69)
    assert (h200.price, h200.gpu_hour_price_usd) == ("semianalysis-neocloud", 1.74)


def test_compare_refuses_several_models(tmp_path: Path) -> None:
    report = load_report(RUNS / "l40s" / "sweep-c1")
    other = report.model_copy(
        update={"config": report.config.model_copy(update={"model": "other/model"})}
    )
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "report.json").write_text(other.model_dump_json())
    with pytest.raises(UserError) as err:
        make_comparison([*_sweeps(), *load_runs([tmp_path / "r"])], ON_DEMAND, tiers=DEFAULT_TIERS)
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


def test_scenario_cost_from_runs_of_a_standard_workload(tmp_path: Path) -> None:
    # the C=64 fixture runs relabelled as runs of the standard `chat` workload
    dirs = []
    for sku in ("h100-sxm", "l40s"):
        report = load_report(RUNS / sku / "sweep-c64")
        config = report.config.model_copy(update={"workload": WorkloadRef(name="chat")})
        chat = report.model_copy(update={"config": config})
        (tmp_path / sku).mkdir()
        (tmp_path / sku / "report.json").write_text(chat.model_dump_json())
        dirs.append(tmp_path / sku)
    tiers = [t for t in DEFAULT_TIERS if t.name == "batch"]
    c = make_comparison(load_runs(dirs), ON_DEMAND, tiers=tiers)
    assert c.workloads == ["chat"]
    h100 = _row(c, "batch", "h100-sxm")
    # 1024 + 256 = 1,280 tokens per request at $0.047497 per M total
    assert h100.scenario == "chat answer"
    assert h100.usd_per_scenario == pytest.approx(3.49 / (H100_C64 * 0.0036) * 1280 / 1e6)


def test_owned_basis_with_your_capex_for_a_card_without_a_public_price() -> None:
    owned = CostAssumptions(basis="owned")
    c = make_comparison(
        _sweeps(("h100-sxm",)), owned, tiers=DEFAULT_TIERS, project=["h20"],
        prices={"h20": 15_000},
    )  # fmt: skip
    h100, h20 = _row(c, "batch", "h100-sxm"), _row(c, "batch", "h20")
    assert (h100.price_kind, h20.price_kind, h20.price) == ("capex-all-in",) * 2 + ("your price",)
    # capex build-up, H20 (no node overhead figure: 1.0): $15,000 × 0.315471 / 8760 = 0.540190
    # + power 400 W (board, estimated) × 1.2 PUE × $0.08 = 0.0384 + hosting 0.4 kW × $184.06
    # × 12 / 8760 = 0.100855 + opex $15,000 × 4 % / 8760 = 0.068493 → $0.747938 per GPU-hour
    assert h20.gpu_hour_cost_usd == pytest.approx(0.747938, rel=1e-5)
    assert not any(n.startswith("MIXED BASIS") for n in c.notes)
