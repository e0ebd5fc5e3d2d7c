"""Side channels (/metrics, /v1/models) can only add a note: the report is always written,
holds no NaN or infinity, and reads back."""

from __future__ import annotations

import time

import pytest
from conftest import endpoint_config

from bench.engines.endpoint import check_endpoint
from bench.report.io import load_report
from bench.runner import execute_run, run_benchmark


@pytest.mark.parametrize("fault", ["metrics_binary", "metrics_nan"])
def test_a_hostile_metrics_endpoint_only_adds_a_note(fault_server, tmp_path, fault):
    """/metrics answering non-UTF-8 bytes ended the run with a traceback after every
    request had finished (no report); NaN/+Inf there wrote a report `bench report`
    refused. Now: complete, 10 ok, the counters not measured, the report reads back."""
    server = fault_server(fault)
    out = tmp_path / "run"
    report = run_benchmark(endpoint_config(server, out, num_requests=10))
    assert report.status == "complete" and report.summary.requests_ok == 10
    counters = report.summary.server
    assert counters.window_output_tok_per_s is None
    if fault == "metrics_binary":
        assert counters.scrapes == 0 and "UnicodeDecodeError" in counters.note
    else:  # the NaN/Inf samples are skipped: nothing tracked was readable
        assert counters.before == {} and counters.after == {}
    text = (out / "report.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert load_report(out).summary.requests_ok == 10


def test_a_malformed_model_list_is_a_note_in_the_report(fault_server, tmp_path):
    server = fault_server("models_malformed")
    check = check_endpoint(server.base_url)
    assert check.models == [] and "other than a model list" in check.note
    report = execute_run(endpoint_config(server, tmp_path / "run", num_requests=4))
    assert report.status == "complete"
    assert [n for n in report.notes if "/v1/models answered" in n] == [check.note]
    assert (
        "/v1/models answered something other than a model list"
        in (tmp_path / "run" / "summary.md").read_text()
    )


def test_a_slow_dripping_model_list_is_cut_off(fault_server):
    """One byte every 0.5 s, never ending: it hung forever; now cut off at the deadline."""
    server = fault_server("models_drip")
    start = time.perf_counter()
    check = check_endpoint(server.base_url, timeout_s=1.5)
    assert check.note == "/v1/models did not answer within 1.5 s"
    assert time.perf_counter() - start < 3
