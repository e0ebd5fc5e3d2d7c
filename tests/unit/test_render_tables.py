"""The shared tables: values in display units from the fixture runs, notes, basis."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.render.bundle import load_bundle, select
from bench.render.tables import (
    cost_table,
    energy_table,
    errors_table,
    latency_table,
    runs_table,
    sweep_table,
)

FIXTURES = Path(__file__).parents[1] / "fixtures" / "runs_two_skus"
H100_C8 = FIXTURES / "20260302T111500Z-h100-sxm-c8"
H200_C1 = FIXTURES / "20260305T091500Z-h200-sxm-c1"


def _col(table, name: str) -> int:  # type: ignore[no-untyped-def]
    return [c.name for c in table.columns].index(name)


def test_runs_table_row_in_display_units() -> None:
    b = load_bundle(H100_C8)
    s = b.report.summary
    t = runs_table([b])
    (row,) = t.rows
    assert row[_col(t, "load")] == "c=8"
    assert row[_col(t, "failed")] == 1
    assert row[_col(t, "TTFT p50")] == pytest.approx(s.ttft_s.p50 * 1e3)
    assert row[_col(t, "interactivity p50")] == pytest.approx(1 / s.tpot_s.p50)
    assert row[_col(t, "output per GPU")] == pytest.approx(s.steady_state.output_tok_per_s)
    assert row[_col(t, "goodput")] == 0.0  # TPOT ≈ 24 ms misses the 20 ms SLO
    assert row[_col(t, "energy per output token")] == pytest.approx(
        520.0 * s.steady_state.duration_s / s.steady_state.output_tokens
    )
    assert row[_col(t, "cost basis")] == "USD rent"
    assert t.columns[_col(t, "TTFT p50")].header == "TTFT p50 (ms)"
    assert t.columns[_col(t, "TTFT p50")].basis == "measured"


def test_latency_table_in_ms() -> None:
    b = load_bundle(H100_C8)
    t = latency_table(b)
    assert [r[0] for r in t.rows] == [
        "TTFT (ms)", "TPOT (ms)", "ITL (ms)", "E2E (ms)",
        "interactivity (tok/s/user)", "tokens per chunk",
    ]  # fmt: skip
    ttft = t.rows[0]
    assert ttft[1] == 15  # 16 measured, 1 failed
    assert ttft[_col(t, "p99")] == pytest.approx(b.report.summary.ttft_s.p99 * 1e3)


def test_cost_table_note_and_estimated_flag() -> None:
    t = cost_table(load_bundle(H200_C1))
    assert t.note is not None and "ESTIMATED" in t.note and "rent basis" in t.note
    power = next(r for r in t.rows if r[0] == "average power per GPU")
    assert power[1:4] == [700.0, "W", "estimated"]


def test_energy_table_says_not_measured_with_the_reason() -> None:
    t = energy_table(load_bundle(H200_C1))
    assert t.rows == [] and t.note == "energy: not measured (no NVML device on this host)"
    measured = energy_table(load_bundle(H100_C8))
    assert [r[:3] for r in measured.rows] == [["gpu", "nvml", "yes"]]


def test_errors_table_groups_failures() -> None:
    t = errors_table(load_bundle(H100_C8))
    assert t.rows == [["error", "http_500", 1, 500, "Internal Server Error: engine step failed"]]
    assert errors_table(load_bundle(H200_C1)) is None


def test_sweep_table_shows_resets_and_stop_reason(tmp_path: Path) -> None:
    import shutil

    from bench.sweep.manifest import (
        SWEEP_MANIFEST,
        PrefixCacheReset,
        new_manifest,
        stop_sweep,
        update_point,
    )

    m = new_manifest("sw1", {}, "concurrency", [1, 4, 8])
    shutil.copytree(FIXTURES / "20260305T091500Z-h200-sxm-c1", tmp_path / m.points[0].run_dir)
    shutil.copytree(FIXTURES / "20260305T101500Z-h200-sxm-c4", tmp_path / m.points[1].run_dir)
    m = update_point(
        m, 0, status="done", prefix_cache_reset=PrefixCacheReset(attempted=False, ok=None)
    )
    m = update_point(
        m,
        1,
        status="done",
        prefix_cache_reset=PrefixCacheReset(attempted=True, ok=True, http_status=200),
    )
    m = stop_sweep(m, "error rate 12 % over the 5 % limit")
    SWEEP_MANIFEST.write(m, tmp_path)
    sel = select([tmp_path])
    assert sel.kind == "sweep" and [b.label for b in sel.runs] == ["h200-sxm c=1", "h200-sxm c=4"]
    t = sweep_table(sel)
    assert [r[3:6] for r in t.rows] == [
        ["done", 0, "not attempted"],
        ["done", 0, "ok"],
        ["skipped", 0, "-"],
    ]
    assert t.note == "status stopped; server starts 0; stopped: error rate 12 % over the 5 % limit"
