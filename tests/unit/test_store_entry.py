"""RunEntry: what the store keeps from a report, checked against the fixture's numbers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.errors import UserError
from bench.report.records import Report
from bench.store.entry import entry_from_report, utc_text, workload_label
from bench.store.query import date_bound, make_filter
from bench.workloads.spec import WorkloadRef

FIXTURES = Path(__file__).parents[1] / "fixtures" / "runs_two_skus"
H100_C4 = FIXTURES / "20260302T101500Z-h100-sxm-c4"
H200_C8 = FIXTURES / "20260305T111500Z-h200-sxm-c8"


def _report(run_dir: Path) -> Report:
    return Report.model_validate_json((run_dir / "report.json").read_text())


def test_entry_carries_filters_and_key_figures_of_a_measured_run() -> None:
    report = _report(H100_C4)
    e = entry_from_report(report, H100_C4, sha256="abc")
    assert (e.run_id, e.sku, e.model, e.workload) == (
        "20260302T101500Z-h100-sxm-c4",
        "h100-sxm",
        "meta-llama/Llama-3.1-8B-Instruct",
        "shape-1024x32",
    )
    assert (e.load_kind, e.load_value, e.load_label, e.gpus) == ("concurrency", 4.0, "c=4", 1)
    assert e.created_utc == "2026-03-02T10:15:00Z"
    assert e.throughput_window == "steady_state"
    steady = report.summary.steady_state
    assert e.output_tok_per_s == pytest.approx(steady.output_tok_per_s)
    assert e.output_tok_per_s_per_gpu == pytest.approx(steady.output_tok_per_s / 1)
    assert e.interactivity_p50_tok_per_s == pytest.approx(1 / report.summary.tpot_s.p50)
    # energy: 520 W over the steady window, per output token in that window
    energy = json.loads((H100_C4 / "report.json").read_text())["energy"]
    assert e.energy_j == pytest.approx(520.0 * steady.duration_s)
    assert e.energy_j_per_output_token == pytest.approx(
        520.0 * steady.duration_s / steady.output_tokens
    )
    assert e.energy_valid is True and energy["primary"] == "gpu"
    # cost: 2.49 USD/h at 80 % utilization over output tok/s × 3600 / 1e6
    expected = 2.49 / 0.8 / (steady.output_tok_per_s * 3600 / 1e6)
    assert e.cost_usd_per_m_output_tokens == pytest.approx(expected)
    assert (e.cost_display_currency, e.cost_estimated) == ("USD", False)
    assert e.run_dir == str(H100_C4.resolve())


def test_entry_of_an_unmetered_run_has_no_energy_and_an_estimated_cost() -> None:
    e = entry_from_report(_report(H200_C8), H200_C8, sha256="x")
    assert (e.energy_j, e.energy_j_per_output_token, e.energy_valid) == (None, None, None)
    assert e.cost_estimated is True
    assert (e.requests_ok, e.requests_failed) == (16, 0)


def test_entry_of_a_failed_run_without_summary() -> None:
    report = _report(H100_C4).model_copy(update={"summary": None, "status": "failed"})
    e = entry_from_report(report, H100_C4, sha256="x")
    assert (e.status, e.requests_ok, e.ttft_p50_s, e.output_tok_per_s_per_gpu) == (
        "failed",
        0,
        None,
        None,
    )


def test_gpus_used_takes_the_cost_then_the_config_then_the_engine_flags() -> None:
    report = _report(H100_C4)
    assert report.cost is not None and report.gpus_used() == report.cost.gpus == 1
    engine = {"kind": "managed", "extra_args": ["-tp", "4", "--pipeline-parallel-size=2"]}
    config = report.config.model_validate(
        {**report.config.model_dump(), "engine": engine, "gpus": None}
    )
    no_cost = report.model_copy(update={"cost": None, "config": config})
    assert no_cost.gpus_used() == 8  # 4 × 2 from the flags
    given = config.model_copy(update={"gpus": 3})
    assert no_cost.model_copy(update={"config": given}).gpus_used() == 3
    bad = config.model_validate(
        {**config.model_dump(), "engine": {**engine, "extra_args": ["-tp"]}}
    )
    with pytest.raises(UserError):
        no_cost.model_copy(update={"config": bad}).gpus_used()
    broken = no_cost.model_copy(update={"config": bad})
    assert entry_from_report(broken, H100_C4, sha256="abc").gpus is None


def test_workload_label_prefers_the_suite_name() -> None:
    suite = _report(H100_C4).config.model_copy(
        update={"workload": WorkloadRef(name="chat", seed=1)}
    )
    report = _report(H100_C4).model_copy(update={"config": suite})
    assert workload_label(report) == "chat"


def test_utc_text_normalises_offsets_and_naive_times() -> None:
    assert utc_text("2026-03-02T11:15:00+02:00") == "2026-03-02T09:15:00Z"
    assert utc_text("2026-03-02T09:15:00.123456Z") == "2026-03-02T09:15:00Z"
    assert utc_text("2026-03-02 09:15:00") == "2026-03-02T09:15:00Z"


def test_date_bounds_treat_a_bare_date_as_a_whole_day() -> None:
    assert date_bound("2026-03-02", option="--since") == "2026-03-02T00:00:00Z"
    assert date_bound("2026-03-02", option="--until", end=True) == "2026-03-03T00:00:00Z"
    assert date_bound("2026-03-02T10:00:00Z", option="--until", end=True) == "2026-03-02T10:00:00Z"
    f = make_filter(sku="h1*", since="2026-03-01")
    assert f.where() == (" WHERE sku GLOB ? AND created_utc >= ?", ["h1*", "2026-03-01T00:00:00Z"])


def test_bad_date_is_a_user_error_naming_the_option() -> None:
    with pytest.raises(UserError) as err:
        date_bound("last tuesday", option="--since")
    assert err.value.field == "--since" and "YYYY-MM-DD" in (err.value.fix or "")
