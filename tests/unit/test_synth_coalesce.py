"""A run against `bench synth serve --coalesce K` (K chunks per write, a fault) reports
every request as coalesced and no TPOT of 0, in report.json, the terminal, summary.md and
the HTML report: as a user would run it, two commands in two processes."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
from pathlib import Path

from bench.report.io import load_report, read_requests


def _bench(*args: str) -> list[str]:
    return [sys.executable, "-m", "bench", *args]


def test_run_against_a_coalescing_server_reports_every_request_coalesced(tmp_path: Path):
    env = {**os.environ, "COLUMNS": "200"}
    server = subprocess.Popen(
        _bench("synth", "serve", "--port", "0", "--ttft-ms", "2", "--itl-ms", "2",
               "--coalesce", "4", "--model", "synth"),
        stdout=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        assert select.select([server.stdout], [], [], 60)[0], "no start-up line"
        url = server.stdout.readline().split()[-1]
        assert "4 chunks per write (coalescing fault)" in server.stdout.readline()
        run_dir = tmp_path / "run"
        run = subprocess.run(
            _bench("run", "--endpoint", url, "--model", "tiny-llama", "--served-model",
                   "synth", "--concurrency", "4", "-n", "24", "--input-tokens", "16",
                   "--output-tokens", "16", "--out", str(run_dir)),
            capture_output=True, text=True, env=env, timeout=300,
        )  # fmt: skip
    finally:
        server.send_signal(signal.SIGINT)
        server.communicate(timeout=20)
    assert run.returncode == 0, run.stderr[-3000:]
    records = [r for r in read_requests(run_dir) if not r.warmup]
    assert len(records) == 24 and all(r.status == "ok" for r in records)
    # 16 one-token chunks written 4 at a time: at most 4 reads (a busy host may merge
    # writes further), at least 4 tokens in one of them
    assert all(r.content_reads <= 4 and r.max_tokens_per_read >= 4 for r in records)
    s = load_report(run_dir).summary
    assert s is not None and s.coalescing is not None
    assert (s.coalescing.requests_checked, s.coalescing.requests_coalesced) == (24, 24)
    assert s.coalescing.fraction == 1.0
    # not measured, never 0
    assert s.tpot_s.count == 0 and s.tpot_s.min is None
    assert s.itl_s.count == 0 and s.interactivity_tok_per_s.count == 0
    assert s.ttft_s.count == 24
    report_json = json.loads((run_dir / "report.json").read_text())
    assert report_json["summary"]["tpot_s"] == {"count": 0, **dict.fromkeys(
        ("mean", "min", "max", "p50", "p90", "p95", "p99"))}  # fmt: skip
    warning = "24 of 24 requests (100.0 %, limit 5.0 %)"
    terminal = " ".join(run.stdout.split())
    assert "WARNING: coalesced streams: " + warning in terminal
    summary_md = (run_dir / "summary.md").read_text()
    assert "## Warnings" in summary_md and warning in summary_md
    assert "| TPOT (ms) | — | — | — | — | 0 |" in summary_md
    rendered = subprocess.run(_bench("report", str(run_dir), "--html"), capture_output=True,
                              text=True, env=env, timeout=300)  # fmt: skip
    assert rendered.returncode == 0, rendered.stderr[-3000:]
    page = (run_dir / "report.html").read_text()
    assert warning in page
    assert "coalesced, not measured (24)" in page  # the TPOT-over-time marks
