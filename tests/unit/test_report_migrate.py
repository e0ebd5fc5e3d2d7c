"""Report schema v2: v1 → v2 migration by hand values, the version check on read, and the v1
fixture runs (tests/fixtures/v1) rendering and importing unchanged in content."""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
from pathlib import Path

import pytest
from typer.main import get_command

from bench.errors import UserError
from bench.render.bundle import select
from bench.render.cli import app as report_app
from bench.render.report import all_tables
from bench.report.io import REPORT, load_report, read_report_file
from bench.report.migrate import migrate, v1_to_v2
from bench.report.records import REPORT_SCHEMA_VERSION, Report
from bench.report.summary import render_summary
from bench.store.db import Store
from bench.store.ingest import import_dirs

FIXTURES = Path(__file__).parents[1] / "fixtures"
V1 = FIXTURES / "v1"
RUN_DIRS = sorted(
    str(p.parent.relative_to(V1)) for p in V1.glob("**/report.json")
)  # runs/<sku>/<run> and runs_two_skus/<run>

# A v1 cost in CNY at 8 CNY per USD: fx_usd_per_unit = 0.125 (exact in binary).
V1_CNY_COST = {
    "currency": "CNY",
    "fx_usd_per_unit": 0.125,
    "cost_basis": "rent",
    "hardware_sku": "a800",
    "gpus": 1,
    "throughput_window": "steady_state",
    "gpu_hour_cost": 16.0,
    "effective_gpu_hour_cost": 20.0,
    "per_m_output_tokens": 4.0,
    "per_m_total_tokens": None,
    "lines": [
        {"name": "rent price", "value": 16.0, "unit": "CNY/GPU-hour", "basis": "configured"},
        {"name": "capex per GPU", "value": 80000.0, "unit": "CNY", "basis": "configured"},
        {"name": "average power per GPU", "value": 400.0, "unit": "W", "basis": "measured"},
        {"name": "utilization", "value": 0.8, "unit": "fraction", "basis": "configured"},
    ],
    "estimated": False,
}
V1_ENERGY = {
    "measured": True,
    "window_start_ns": 0,
    "window_end_ns": 10,
    "window_s": 1e-8,
    "output_tokens": 1.0,
    "total_tokens": 2.0,
    "price_per_kwh": 0.8,
    "gap_factor": 5.0,
    "totals": [
        {
            "scope": "gpu",
            "channels": ["gpu0"],
            "sources": ["nvml"],
            "valid": True,
            "energy_cost": 4.0,
            "energy_cost_per_m_output_tokens": 2.0,
        }
    ],
    "notes": ["idle measured"],
}


def test_v1_cny_cost_becomes_usd_with_its_display_currency() -> None:
    doc = {"schema_version": 1, "cost": copy.deepcopy(V1_CNY_COST), "energy": V1_ENERGY}
    before = copy.deepcopy(doc)
    out = v1_to_v2(doc)
    assert doc == before  # the input is not changed
    cost = out["cost"]
    assert out["schema_version"] == 2
    assert cost["display"] == {
        "currency": "CNY",
        "per_usd": 8.0,
        "fx_source": "fx_usd_per_unit recorded in a schema v1 report (source not recorded)",
    }
    # ¥16 → $2, ¥20 → $2.5, ¥4/M → $0.5/M; None stays None
    assert (cost["gpu_hour_cost_usd"], cost["effective_gpu_hour_cost_usd"]) == (2.0, 2.5)
    assert (cost["cost_usd_per_m_output_tokens"], cost["cost_usd_per_m_total_tokens"]) == (
        0.5,
        None,
    )
    assert "currency" not in cost and "fx_usd_per_unit" not in cost and "gpu_hour_cost" not in cost
    lines = [(ln["value"], ln["unit"]) for ln in cost["lines"]]
    assert lines == [(2.0, "USD/GPU-hour"), (10000.0, "USD"), (400.0, "W"), (0.8, "fraction")]
    # energy at the cost's rate: ¥0.8/kWh → $0.1, ¥4 → $0.5, ¥2/M → $0.25/M
    energy = out["energy"]
    assert energy["price_usd_per_kwh"] == 0.1 and "price_per_kwh" not in energy
    total = energy["totals"][0]
    assert (total["energy_cost_usd"], total["energy_cost_usd_per_m_output_tokens"]) == (0.5, 0.25)
    assert "energy_cost" not in total
    assert energy["notes"] == ["idle measured"]


def test_v1_usd_cost_keeps_its_numbers() -> None:
    cost = {**V1_CNY_COST, "currency": "USD", "fx_usd_per_unit": 1.0}
    cost["lines"] = [{"name": "rent", "value": 1.3, "unit": "USD/GPU-hour", "basis": "configured"}]
    out = v1_to_v2({"schema_version": 1, "cost": cost})["cost"]
    assert out["display"] == {"currency": "USD", "per_usd": 1.0, "fx_source": "USD: no conversion"}
    assert out["gpu_hour_cost_usd"] == 16.0 and out["lines"][0]["value"] == 1.3


def test_v1_energy_price_without_a_cost_is_dropped_and_said() -> None:
    out = v1_to_v2({"schema_version": 1, "cost": None, "energy": V1_ENERGY})["energy"]
    assert out["price_usd_per_kwh"] is None
    assert out["totals"][0]["energy_cost_usd"] is None
    assert out["totals"][0]["energy_cost_usd_per_m_output_tokens"] is None
    assert out["notes"][0] == "idle measured"
    assert "currency is unknown" in out["notes"][1]


def test_migrate_chains_steps_to_the_current_version() -> None:
    doc = {"schema_version": 1, "cost": V1_CNY_COST}
    assert migrate(doc, 1, REPORT_SCHEMA_VERSION) == v1_to_v2(doc)
    assert migrate(doc, REPORT_SCHEMA_VERSION, REPORT_SCHEMA_VERSION) is doc


@pytest.mark.parametrize(
    ("version", "message"),
    [(3, "schema_version 3 is newer than this tokenbench reads (2)"), (0, "not a tokenbench")],
)
def test_reading_refuses_newer_and_unknown_versions(
    tmp_path: Path, version: int, message: str
) -> None:
    (tmp_path / REPORT).write_text(json.dumps({"schema_version": version, "run_id": "x"}))
    with pytest.raises(UserError) as err:
        load_report(tmp_path)
    assert message in err.value.message and err.value.field == "schema_version"


def test_a_v1_report_cannot_pass_as_v2_without_migration() -> None:
    data = json.loads((V1 / RUN_DIRS[0] / REPORT).read_text())
    with pytest.raises(ValueError):
        Report.model_validate(data)


@pytest.mark.parametrize("rel", RUN_DIRS)
def test_every_v1_fixture_migrates_to_its_v2_twin(rel: str) -> None:
    migrated, from_version = read_report_file(V1 / rel / REPORT)
    current, none = read_report_file(FIXTURES / rel / REPORT)
    assert (from_version, none) == (1, None)
    assert migrated == current


def test_v1_runs_render_unchanged_in_content() -> None:
    for rel in RUN_DIRS:
        assert render_summary(load_report(V1 / rel)) == render_summary(load_report(FIXTURES / rel))
    # these fixture energy totals have no peak power: said, never a crash or a number
    assert "avg 620.0 W, peak not measured" in render_summary(load_report(V1 / RUN_DIRS[0]))
    for root in ("runs_two_skus", "runs/h100-sxm"):
        old = all_tables(select([V1 / root]))
        new = all_tables(select([FIXTURES / root]))
        assert [t.model_dump() for t in old] == [t.model_dump() for t in new]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_bench_report_migrates_a_v1_run_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    shutil.copytree(V1 / RUN_DIRS[0], run)
    before = _sha(run / REPORT)
    get_command(report_app)([str(run)], standalone_mode=False)
    err = capsys.readouterr().err
    assert f"{run}: report migrated from schema v1 on read (report.json left unchanged)" in err
    assert _sha(run / REPORT) == before
    assert (run / "summary.md").read_text() == render_summary(load_report(FIXTURES / RUN_DIRS[0]))


def test_runs_import_migrates_v1_runs_and_says_so(tmp_path: Path) -> None:
    fleet = tmp_path / "fleet"
    shutil.copytree(V1 / "runs_two_skus", fleet)
    shas = {p: _sha(p) for p in fleet.glob("*/report.json")}
    outcomes = import_dirs([fleet], tmp_path / "old.sqlite")
    assert [o.outcome for o in outcomes] == ["added"] * 6
    assert all(
        o.message.endswith("; report migrated from schema v1 on read (report.json left unchanged)")
        for o in outcomes
    )
    assert {p: _sha(p) for p in shas} == shas
    import_dirs([FIXTURES / "runs_two_skus"], tmp_path / "new.sqlite")
    volatile = {"run_dir", "report_sha256", "registered_utc"}
    with Store(tmp_path / "old.sqlite") as old, Store(tmp_path / "new.sqlite") as new:
        got = [e.model_dump(exclude=volatile) for e in old.list_runs().runs]
        want = [e.model_dump(exclude=volatile) for e in new.list_runs().runs]
    assert got == want and len(got) == 6


def _layout_1_store(path: Path, rows: list[dict[str, object]]) -> None:
    """A store as layout 1 wrote it: cost in the report's currency, user_version 1."""
    import sqlite3

    from bench.store.entry import RunEntry

    names = [n for n in RunEntry.model_fields if not n.startswith("cost_")] + [
        "cost_currency",
        "cost_per_m_output_tokens",
        "cost_per_m_total_tokens",
        "cost_estimated",
    ]
    conn = sqlite3.connect(path)
    conn.execute(f"CREATE TABLE runs ({', '.join(names)}, PRIMARY KEY (run_id))")
    conn.execute("CREATE TABLE sweeps (sweep_id PRIMARY KEY)")
    for row in rows:
        conn.execute(
            f"INSERT INTO runs ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})",
            list(row.values()),
        )
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()


def test_a_layout_1_store_is_migrated_to_usd_columns(tmp_path: Path) -> None:
    base = {
        "status": "complete",
        "created_utc": "2026-03-02T09:15:00Z",
        "sku": "a800",
        "model": "m",
        "workload": "shape-1x1",
        "requests_ok": 16,
        "requests_failed": 0,
        "report_sha256": "x",
        "registered_utc": "2026-03-03T00:00:00Z",
    }
    cny_run = tmp_path / "cny-run"
    cny_run.mkdir()
    v1 = json.loads((V1 / RUN_DIRS[0] / REPORT).read_text())
    v1["cost"] |= {"currency": "CNY", "fx_usd_per_unit": 0.125, "per_m_output_tokens": 4.0}
    (cny_run / REPORT).write_text(json.dumps(v1))
    db = tmp_path / "index.sqlite"
    _layout_1_store(
        db,
        [
            base
            | {"run_id": "usd", "run_dir": "/gone", "cost_currency": "USD"}
            | {"cost_per_m_output_tokens": 0.6, "cost_per_m_total_tokens": 0.12},
            base
            | {"run_id": "cny", "run_dir": str(cny_run), "cost_currency": "CNY"}
            | {"cost_per_m_output_tokens": 4.0, "cost_per_m_total_tokens": 1.0},
            base
            | {"run_id": "cny-gone", "run_dir": "/gone", "cost_currency": "CNY"}
            | {"cost_per_m_output_tokens": 4.0},
            base | {"run_id": "no-cost", "run_dir": "/gone"},
        ],
    )
    with Store(db) as store:
        listing = store.list_runs()
        assert listing.problems == []
        got = {
            e.run_id: (
                e.cost_display_currency,
                e.cost_display_per_usd,
                e.cost_usd_per_m_output_tokens,
                e.cost_usd_per_m_total_tokens,
            )
            for e in listing.runs
        }
    total_cny_usd = v1["cost"]["per_m_total_tokens"] * 0.125  # re-read from the report
    assert got == {
        "usd": ("USD", 1.0, 0.6, 0.12),
        "cny": ("CNY", 8.0, 0.5, pytest.approx(total_cny_usd)),
        "cny-gone": ("CNY", None, None, None),  # no rate in the store, report unreadable
        "no-cost": (None, None, None, None),
    }
    with Store(db) as store:  # opening again finds layout 2: nothing to migrate
        assert len(store.list_runs().runs) == 4
