"""Every report the tool writes, its own reader accepts: property-based, over whatever
records a run can produce (any mix of statuses, timings, token counts, warm-up, usage
source), for both load patterns, with and without an SLO."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.config.plan import plan_run
from bench.config.run import RunConfig
from bench.records import RequestRecord
from bench.report.io import RequestLog, load_report, read_requests
from bench.report.provenance import collect_provenance
from bench.run_dir import write_run
from bench.runner import assemble_report

S = 1_000_000_000


@st.composite
def request_records(draw) -> list[RequestRecord]:
    out = []
    for i in range(draw(st.integers(0, 12))):
        sent = draw(st.integers(0, 50 * S))
        status = draw(st.sampled_from(["ok", "ok", "error", "timeout", "cancelled"]))
        gaps = draw(st.lists(st.integers(0, 2 * S), max_size=6))
        chunks, t = [], sent
        for gap in gaps:
            t += gap
            chunks.append(t)
        tokens = [draw(st.integers(0, 4)) for _ in chunks]
        ok = status == "ok"
        out.append(RequestRecord(
            request_id=f"r{i}", index=i, warmup=draw(st.booleans()) and i < 2, status=status,
            error_class=None if ok else "x", sent_ns=sent, done_ns=chunks[-1] if chunks else sent,
            chunk_ns=chunks, chunk_tokens=tokens, first_chunk_ns=chunks[0] if chunks else None,
            last_chunk_ns=chunks[-1] if chunks else None,
            input_tokens=draw(st.one_of(st.none(), st.integers(0, 10**6))),
            output_tokens=draw(st.one_of(st.none(), st.integers(0, 10**6))),
            client_output_tokens=sum(tokens), usage_source=draw(
                st.sampled_from([None, "server", "client"])),
            scheduled_ns=draw(st.one_of(st.none(), st.integers(0, sent))),
        ))  # fmt: skip
    return out


LOADS = [
    {"kind": "concurrency", "concurrency": 2},
    {"kind": "rate", "rate_per_s": 3.0},
]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture])  # fmt: skip
@given(
    records=request_records(),
    load=st.sampled_from(LOADS),
    slo=st.one_of(st.none(), st.just({"ttft_s": 0.5, "e2e_s": 3.0})),
    failure=st.sampled_from([None, "interrupted by SIGTERM"]),
    planned=st.integers(0, 20),
)
def test_every_report_written_reads_back(tmp_path_factory, records, load, slo, failure, planned):
    out: Path = tmp_path_factory.mktemp("run")
    cfg = RunConfig.model_validate(dict(
        model="tiny-llama", workload=dict(input_tokens=8, output_tokens=6), load=load,
        num_requests=20, slo=slo, output_dir=str(out), energy=dict(meter="none"),
    ))  # fmt: skip
    plan = plan_run(cfg)
    log = RequestLog(out)
    for rec in records:
        log.append(rec)
    log.close()
    report = assemble_report(plan, records, run_id="prop", created="now",
                             provenance=collect_provenance(), stats=None, scraper=None,
                             failure=failure, planned=planned, notes=[])  # fmt: skip
    write_run(out, report, None, log)
    text = (out / "report.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    json.loads(text)
    back = load_report(out)
    assert back.status == report.status
    assert read_requests(out) == records
