"""Every planned request ends in exactly one record; a per-request failure ends only that
request; a run that could not send everything it planned is partial, never complete."""

from __future__ import annotations

import errno
import json
from collections import Counter

import pytest
from conftest import endpoint_config

import bench.loadgen.client as client_module
import bench.report.io as report_io
from bench.errors import RunFailed
from bench.report.io import load_report, read_requests
from bench.runner import run_benchmark


@pytest.mark.parametrize(("fault", "workers"), [("usage_float", 1), ("usage_string", 2)])
def test_wrong_typed_usage_fails_its_request_not_its_slot(fault_server, tmp_path, fault, workers):
    """Requests 5, 10, ... 40 carry usage of the wrong type (3.5, "lots"): those 8 are
    stream errors; the other 32 are ok; 40 planned = 40 recorded + 0 never sent, complete.
    (Before: the slot died with its request, 8 recorded, 32 never sent, "complete".)"""
    server = fault_server(fault, every=5)
    report = run_benchmark(endpoint_config(server, tmp_path / "run", workers=workers))
    records = read_requests(tmp_path / "run")
    assert len(records) == len({r.request_id for r in records}) == 40
    errors = [r for r in records if r.status != "ok"]
    assert Counter(r.error_class for r in errors) == {"stream_error": 8}
    assert all(r.error_message.startswith("invalid usage: usage") for r in errors)
    assert report.status == "complete"
    s = report.summary
    assert (s.requests_planned, s.requests_total, s.requests_never_sent) == (40, 40, 0)
    assert (s.requests_ok, s.requests_failed) == (32, 8)
    assert server.stats()["generation_requests"] == 40


def test_an_unforeseen_exception_is_one_client_error_record(fault_server, tmp_path, monkeypatch):
    """Any exception while turning a response into a record ends that request only."""
    real, calls = client_module._stream_record, []

    def third_one_breaks(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("bug in the client")
        return real(*args, **kwargs)

    monkeypatch.setattr(client_module, "_stream_record", third_one_breaks)
    server = fault_server()
    report = run_benchmark(endpoint_config(server, tmp_path / "run", num_requests=20))
    records = read_requests(tmp_path / "run")
    assert len(records) == 20
    broken = [r for r in records if r.status != "ok"]
    assert [(r.error_class, r.error_message) for r in broken] == [
        ("client_error", "RuntimeError: bug in the client")
    ]
    assert report.status == "complete" and report.summary.requests_ok == 19


class _FullDisk:
    """A request log file that takes `room` lines, then fails like a full disk."""

    def __init__(self, fh, room):
        self.fh, self.room = fh, room

    def write(self, text):
        if self.room == 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.room -= 1
        return self.fh.write(text)

    def flush(self):
        self.fh.flush()

    def close(self):
        self.fh.close()


def test_disk_full_on_the_request_log_stops_the_run_as_partial(fault_server, tmp_path,
                                                               monkeypatch):  # fmt: skip
    """After 10 lines the log cannot grow: the run stops cleanly, partial, with the 10
    records on disk intact and planned = recorded + never sent in the report."""
    init = report_io.RequestLog.__init__

    def small_disk(self, run_dir):
        init(self, run_dir)
        self._fh = _FullDisk(self._fh, 10)

    monkeypatch.setattr(report_io.RequestLog, "__init__", small_disk)
    server = fault_server(ttft_ms=5, itl_ms=2)
    out = tmp_path / "run"
    with pytest.raises(RunFailed, match="No space left on device"):
        run_benchmark(endpoint_config(server, out, num_requests=200))
    on_disk = read_requests(out)
    assert len(on_disk) == 10 and all(r.status == "ok" for r in on_disk)
    report = load_report(out)
    s = report.summary
    assert report.status == "partial" and "No space left on device" in report.failure
    assert s.requests_planned == 200 == s.requests_total + s.requests_never_sent
    assert s.requests_never_sent > 0 and s.requests_total >= 11  # the 11th is in the report
    assert server.stats()["generation_requests"] == s.requests_total
    assert "planned 200 = " in (out / "summary.md").read_text()


def test_stale_keep_alive_connection_is_retried_once_on_a_fresh_one(fault_server, tmp_path):
    """The server drops every used connection when the next request arrives on it: each
    such request goes again on a fresh connection, once, and succeeds. At C=2 the first
    two requests open fresh connections; the other 18 each meet a dropped one."""
    server = fault_server("close_reused")
    report = run_benchmark(endpoint_config(server, tmp_path / "run", num_requests=20))
    assert report.summary.requests_ok == 20
    assert server.stats() == {"generation_requests": 38, "closed_unanswered": 18, "cut": 0}


def test_no_resend_once_the_server_has_started_answering(fault_server, tmp_path):
    """Responses 3, 6, 9, 12 are cut after their first chunk: those fail (connection) and
    are never sent again, on one keep-alive connection (C=1): 12 received, not 16."""
    server = fault_server("cut_after_head", every=3)
    run_benchmark(endpoint_config(server, tmp_path / "run", num_requests=12,
                                  load=dict(kind="concurrency", concurrency=1)))  # fmt: skip
    records = read_requests(tmp_path / "run")
    failed = sorted(r.index for r in records if r.status != "ok")
    assert failed == [2, 5, 8, 11]
    assert {r.error_class for r in records if r.status != "ok"} == {"connection"}
    assert server.stats() == {"generation_requests": 12, "closed_unanswered": 0, "cut": 4}


def test_a_stream_without_usage_is_ok_and_counted_by_the_client(fault_server, tmp_path):
    """A server that ignores stream_options.include_usage ends streams with [DONE] only:
    each request is ok, its 6 output tokens counted by the client (6 content chunks),
    labelled usage_source "client" in the record and in summary.md."""
    server = fault_server("no_usage", every=2)
    report = run_benchmark(endpoint_config(server, tmp_path / "run", num_requests=10))
    records = read_requests(tmp_path / "run")
    assert all(r.status == "ok" and r.output_tokens == 6 for r in records)
    sources = Counter(r.usage_source for r in records)
    assert sources == {"client": 5, "server": 5}
    client = [r for r in records if r.usage_source == "client"]
    assert all(r.input_tokens == r.requested_input_tokens == 8 for r in client)
    assert report.summary.requests_client_counted == 5
    assert (
        "server sent no token counts for 5 of 10 ok requests"
        in (tmp_path / "run" / "summary.md").read_text()
    )


def test_server_counts_far_from_the_stream_warn_in_summary(fault_server, tmp_path):
    """Usage says 12 tokens where 6 were streamed in 2 of 10 requests (20 % > 5 %): a
    warning in summary.md; in 0 of 10, none."""
    server = fault_server("usage_inflated", every=5)
    report = run_benchmark(endpoint_config(server, tmp_path / "run", num_requests=10))
    assert report.summary.token_count_mismatches == 2
    text = (tmp_path / "run" / "summary.md").read_text()
    assert "**warning**: the server's output-token counts differ from the client's" in text
    assert "in 2 of 10 ok requests (20%)" in text
    clean = fault_server()
    run_benchmark(endpoint_config(clean, tmp_path / "clean", num_requests=10))
    assert "**warning**" not in (tmp_path / "clean" / "summary.md").read_text()
    assert json.loads((tmp_path / "clean" / "report.json").read_text())["status"] == "complete"
