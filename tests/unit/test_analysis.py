"""bench.analysis: runs and requests as DataFrames, `bench runs export`, and the example
that compares two SKUs — values checked against numbers read by hand from the fixtures."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.main import get_command

from bench.analysis import load_requests, load_runs
from bench.errors import UserError
from bench.store.cli import app as runs_app
from bench.store.ingest import import_dirs

ROOT = Path(__file__).parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "runs_two_skus"
V1 = ROOT / "tests" / "fixtures" / "v1" / "runs_two_skus"
H100_C4 = "20260302T101500Z-h100-sxm-c4"
H100_C8 = "20260302T111500Z-h100-sxm-c8"
H200_C8 = "20260305T111500Z-h200-sxm-c8"


def _json(run: str) -> dict:  # type: ignore[type-arg]
    return json.loads((FIXTURES / run / "report.json").read_text())


def _row(df: pd.DataFrame, run_id: str) -> pd.Series:  # type: ignore[type-arg]
    return df.set_index("run_id").loc[run_id]


def test_one_row_per_run_with_units_in_column_names() -> None:
    runs = load_runs(FIXTURES)
    assert len(runs) == 6 and runs["run_id"].is_unique
    for column in ("ttft_p50_s", "output_tok_per_s_per_gpu", "cost_usd_per_m_output_tokens"):
        assert column in runs.columns
    assert str(runs["ttft_p50_s"].dtype) == "Float64" and str(runs["gpus"].dtype) == "Int64"
    # h100 c=4 by hand: steady output 203.66 tok/s on 1 GPU, $2.49/h at 80 % utilization
    raw = _json(H100_C4)
    steady = raw["summary"]["steady_state"]
    row = _row(runs, H100_C4)
    assert (row["sku"], row["model"], row["workload"]) == (
        "h100-sxm",
        "meta-llama/Llama-3.1-8B-Instruct",
        "shape-1024x32",
    )
    assert (row["load_kind"], row["load_value"], row["gpus"]) == ("concurrency", 4.0, 1)
    assert row["output_tok_per_s_per_gpu"] == pytest.approx(steady["output_tok_per_s"])
    assert row["output_tok_per_s_per_gpu"] == pytest.approx(203.66, abs=0.01)
    assert row["cost_usd_per_m_output_tokens"] == pytest.approx(
        2.49 / 0.8 / (steady["output_tok_per_s"] * 3600 / 1e6)
    )
    assert row["cost_usd_per_m_output_tokens"] == pytest.approx(4.2452, abs=1e-4)
    assert row["interactivity_p50_tok_per_s"] == pytest.approx(1 / raw["summary"]["tpot_s"]["p50"])
    assert row["ttft_p90_s"] == pytest.approx(raw["summary"]["ttft_s"]["p90"])
    assert row["gpu_hour_cost_usd"] == 2.49 and row["cost_display_currency"] == "USD"
    assert row["energy_avg_power_w"] == pytest.approx(520.0)


def test_what_a_run_did_not_measure_is_missing_never_zero() -> None:
    row = _row(load_runs(FIXTURES / H200_C8), H200_C8)
    assert pd.isna(row["energy_j"]) and pd.isna(row["energy_avg_power_w"])
    assert bool(row["cost_estimated"]) is True


def test_a_store_gives_the_same_frame_as_its_run_directories(tmp_path: Path) -> None:
    db = tmp_path / "index.sqlite"
    import_dirs([FIXTURES], db)
    from_dirs = load_runs(FIXTURES).sort_values("run_id", ignore_index=True)
    from_store = load_runs(db).sort_values("run_id", ignore_index=True)
    pd.testing.assert_frame_equal(from_dirs, from_store)


def test_v1_runs_load_migrated_and_say_so() -> None:
    old, new = load_runs(V1), load_runs(FIXTURES)
    assert len(old.attrs["migrated"]) == 6 and new.attrs["migrated"] == []
    same = [c for c in new.columns if c != "run_dir"]
    pd.testing.assert_frame_equal(old[same], new[same])


def test_one_row_per_request_with_canonical_latencies() -> None:
    reqs = load_requests(FIXTURES)
    assert len(reqs) == 6 * 17  # 16 measured + 1 warm-up per run
    assert "chunk_ns" not in reqs.columns and str(reqs["ttft_s"].dtype) == "Float64"
    c8 = reqs[reqs["run_id"] == H100_C8]
    failed = c8[c8["status"] == "error"]
    assert len(failed) == 1 and pd.isna(failed["ttft_s"].iloc[0])
    assert failed["http_status"].iloc[0] == 500
    first = json.loads((FIXTURES / H100_C8 / "requests.jsonl").read_text().splitlines()[1])
    row = c8.set_index("request_id").loc[first["request_id"]]
    assert row["ttft_s"] == pytest.approx((first["first_chunk_ns"] - first["sent_ns"]) / 1e9)
    assert row["e2e_s"] == pytest.approx((first["last_chunk_ns"] - first["sent_ns"]) / 1e9)
    assert row["chunks"] == len(first["chunk_ns"])
    assert (row["sku"], row["load_value"]) == ("h100-sxm", 8.0)
    assert reqs["warmup"].sum() == 6


def test_unreadable_runs_are_skipped_and_named(tmp_path: Path) -> None:
    fleet = tmp_path / "fleet"
    shutil.copytree(FIXTURES, fleet, ignore=shutil.ignore_patterns("*.py"))
    (fleet / H200_C8 / "report.json").write_text("{")
    runs = load_runs(fleet)
    assert len(runs) == 5 and H200_C8 in runs.attrs["skipped"][0]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UserError, match="no run directories"):
        load_runs(empty)


def _export(*args: str) -> None:
    get_command(runs_app)(["export", *args], standalone_mode=False)


def test_runs_export_parquet_and_csv(tmp_path: Path) -> None:
    _export(str(FIXTURES), "--format", "parquet", "--out", str(tmp_path / "pq"))
    runs = pd.read_parquet(tmp_path / "pq" / "runs.parquet")
    pd.testing.assert_frame_equal(runs, load_runs(FIXTURES))
    assert len(pd.read_parquet(tmp_path / "pq" / "requests.parquet")) == 6 * 17
    _export(str(FIXTURES / H200_C8), "--format", "csv", "--out", str(tmp_path / "csv"))
    lines = (tmp_path / "csv" / "runs.csv").read_text().splitlines()
    header, row = lines[0].split(","), lines[1].split(",")
    assert row[header.index("energy_j")] == ""  # not measured: empty, not 0 or NaN
    assert float(row[header.index("cost_usd_per_m_output_tokens")]) == pytest.approx(2.7321, 1e-4)
    with pytest.raises(UserError) as err:  # never overwritten
        _export(str(FIXTURES), "--format", "csv", "--out", str(tmp_path / "csv"))
    assert err.value.field == "--out"
    with pytest.raises(UserError) as err:  # filters select store runs only
        _export(str(FIXTURES), "--sku", "h100-sxm", "--out", str(tmp_path / "x"))
    assert err.value.field == "--sku"


def test_runs_export_from_the_store_with_a_filter(tmp_path: Path) -> None:
    db = tmp_path / "index.sqlite"
    import_dirs([FIXTURES], db)
    _export("--store", str(db), "--sku", "h200*", "--format", "csv", "--out", str(tmp_path / "o"))
    runs = pd.read_csv(tmp_path / "o" / "runs.csv")
    assert sorted(runs["load_value"]) == [1.0, 4.0, 8.0] and set(runs["sku"]) == {"h200-sxm"}


def _example():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(
        "compare_skus", ROOT / "examples" / "compare_skus.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_compare_skus_example_runs_and_its_frame_matches_the_fixtures(tmp_path: Path) -> None:
    out = tmp_path / "cmp.html"
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "compare_skus.py"), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "h200-sxm is 36% cheaper per output token than h100-sxm" in done.stdout
    page = out.read_text()
    assert page.startswith("<!doctype html>") and "Plotly.newPlot" in page
    assert '"name":"h100-sxm"' in page and '"name":"h200-sxm"' in page
    example = _example()
    points = example.sku_points(load_runs(FIXTURES))
    assert len(points) == 6
    # by hand from the reports: cost = effective $/GPU-hour / (output tok/s × 3600 / 1e6)
    for _, p in points.iterrows():
        raw = _json(p["run_id"])
        steady = raw["summary"]["steady_state"]["output_tok_per_s"]
        effective = {"h100-sxm": 2.49 / 0.8, "h200-sxm": 3.49 / 0.8}[p["sku"]]
        assert p["cost_usd_per_m_output_tokens"] == pytest.approx(effective / (steady * 0.0036))
        assert p["interactivity_p50_tok_per_s"] == pytest.approx(
            1 / raw["summary"]["tpot_s"]["p50"]
        )
    best = example.cheapest_meeting(points, 50.0)
    # ≥ 50 tok/s/user: h100 c=1 (76.0) and c=4 (58.8), h200 all three (114.3, 81.8, 66.0)
    assert list(best["run_id"]) == [H200_C8, H100_C4]
    assert list(best["cost_usd_per_m_output_tokens"].round(4)) == [2.7321, 4.2452]
