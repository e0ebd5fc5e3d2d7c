"""Runs long enough to mean something, and a server-counter check that states its own
uncertainty: limits and bounds by hand, then every output of a real (synthetic) run."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from bench.config.run import ConcurrencyLoad, RateLoad, RunConfig, ValidityRules
from bench.engines.prometheus import (
    Scraper,
    counter_bracket,
    scrape_period_s,
    window_count_bounds,
)
from bench.engines.served import Served
from bench.metrics.validity import validity
from bench.records import Throughput
from bench.render.bundle import select
from bench.render.report import render_html
from bench.report.io import load_report
from bench.runner import run_benchmark
from bench.store.cli import app as runs_app
from bench.store.db import Store
from bench.store.entry import RunEntry
from bench.synth.control import SynthServer

S = 1_000_000_000


def window(duration_s: float, completed: int) -> Throughput:
    return Throughput(
        label="steady_state", start_ns=0, end_ns=int(duration_s * S), duration_s=duration_s,
        requests_completed=completed, input_tokens=0, output_tokens=0, request_per_s=0,
        input_tok_per_s=0, output_tok_per_s=0, total_tok_per_s=0,
    )  # fmt: skip


def test_minimum_requests_rule_by_hand():
    rules = ValidityRules()
    assert rules.min_requests(ConcurrencyLoad(concurrency=8)) == (
        50,
        "max(50, 4 × concurrency 8)",
    )
    assert rules.min_requests(ConcurrencyLoad(concurrency=64))[0] == 256
    assert rules.min_requests(RateLoad(rate_per_s=5, max_concurrency=20))[0] == 80
    assert rules.min_requests(RateLoad(rate_per_s=5))[0] == 50
    assert ValidityRules(min_window_requests=7).min_requests(ConcurrencyLoad(concurrency=64)) == (
        7,
        "configured",
    )


def test_the_issue_demo_window_is_too_short_with_both_reasons():
    # 1.6 s steady-state window, 40 requests completed in it, C=8
    v = validity(window(1.6, 40), ConcurrencyLoad(concurrency=8), ValidityRules())
    assert v.verdict == "too_short"
    assert v.reasons == [
        "the steady-state window lasted 1.60 s (minimum 10 s)",
        "40 requests completed in it (minimum 50: max(50, 4 × concurrency 8))",
    ]
    assert (v.window_s, v.requests_completed, v.min_window_s, v.min_requests) == (1.6, 40, 10, 50)


def test_long_enough_windows_and_the_edges():
    load = ConcurrencyLoad(concurrency=8)
    assert validity(window(20.0, 480), load, ValidityRules()).verdict == "ok"
    assert validity(window(10.0, 50), load, ValidityRules()).verdict == "ok"  # limits included
    [reason] = validity(window(20.0, 49), load, ValidityRules()).reasons
    assert reason.startswith("49 requests completed")
    none = validity(None, load, ValidityRules())
    assert none.verdict == "too_short" and none.window_s is None
    assert "no steady-state window" in none.reasons[0]
    relaxed = ValidityRules(min_window_s=1.0, min_window_requests=10)
    assert validity(window(1.6, 40), load, relaxed).verdict == "ok"


def test_scrape_period_by_hand():
    assert scrape_period_s(20.0) == pytest.approx(0.2)
    assert scrape_period_s(5.0) == pytest.approx(0.1)  # never under 0.1 s
    assert scrape_period_s(300.0) == pytest.approx(0.5)  # never over 0.5 s
    assert scrape_period_s(None) == pytest.approx(0.25)


def test_a_rising_counter_bounds_the_window_count():
    scrapes = [(k * S, {"c": 100.0 * k}) for k in range(4)]  # 100 per s, scraped every 1 s
    assert counter_bracket(scrapes, "c", S // 2) == (0.0, 100.0)
    assert counter_bracket(scrapes, "c", S) == (100.0, 100.0)  # on a scrape: exact
    assert counter_bracket(scrapes, "c", 4 * S) is None
    # window 0.5-2.5 s: interpolated 200; at least 200 - 100, at most 300 - 0
    assert window_count_bounds(scrapes, "c", (S // 2, 5 * S // 2)) == (100.0, 300.0)


def test_scraper_summary_states_its_uncertainty():
    scraper = Scraper("http://127.0.0.1:1", period_s=1.0)
    name = "vllm:generation_tokens_total"
    scraper.scrapes = [(k * S, {name: 100.0 * k}) for k in range(12)]
    # a 10 s window from 0.5 s: 1000 tokens interpolated, between 900 and 1100
    counters = scraper.summary((S // 2, S // 2 + 10 * S))
    assert counters.window_generation_tokens == pytest.approx(1000.0)
    assert (counters.window_generation_tokens_low, counters.window_generation_tokens_high) == (
        900.0,
        1100.0,
    )
    assert counters.uncertainty_fraction == pytest.approx(0.1)  # = period / window
    assert counters.period_s == 1.0


def test_a_layout_2_store_gains_the_validity_column(tmp_path: Path):
    db = tmp_path / "index.sqlite"
    names = [n for n in RunEntry.model_fields if n != "too_short"]
    conn = sqlite3.connect(db)
    conn.execute(f"CREATE TABLE runs ({', '.join(names)}, PRIMARY KEY (run_id))")
    conn.execute("CREATE TABLE sweeps (sweep_id PRIMARY KEY)")
    row = {"run_id": "old", "status": "complete", "created_utc": "2026-03-02T09:15:00Z",
           "sku": "a800", "model": "m", "workload": "w", "requests_ok": 1,
           "requests_failed": 0, "run_dir": "/gone", "report_sha256": "x",
           "registered_utc": "2026-03-03T00:00:00Z"}  # fmt: skip
    conn.execute(f"INSERT INTO runs ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                 list(row.values()))  # fmt: skip
    conn.execute("PRAGMA user_version = 2")
    conn.commit()
    conn.close()
    with Store(db) as store:
        [entry] = store.list_runs().runs
    assert entry.run_id == "old" and entry.too_short is None  # not judged, not "ok"
    with Store(db) as store:  # opening again: nothing left to migrate
        assert store.list_runs().problems == []


def _run(tmp_path: Path, name: str, **validity_rules: float) -> Path:
    cfg = RunConfig.model_validate(dict(
        model="tiny-llama", workload=dict(input_tokens=8, output_tokens=16),
        load=dict(kind="concurrency", concurrency=4), num_requests=40, warmup_requests=0,
        output_dir=str(tmp_path / name), energy=dict(meter="none"),
        validity=validity_rules))  # fmt: skip
    with SynthServer(ttft_s=0.002, itl_s=0.002) as server:
        run_benchmark(cfg, served=Served("synth", server.base_url))
    return cfg.output_dir


def test_every_output_marks_a_run_too_short_to_trust(tmp_path, monkeypatch):
    from bench.cli_progress import print_summary

    store = tmp_path / "index.sqlite"
    monkeypatch.setenv("TOKENBENCH_STORE", str(store))
    short = _run(tmp_path, "short")  # default limits: 10 s and 50 requests
    fine = _run(tmp_path, "fine", min_window_s=0.0, min_window_requests=1)
    report = load_report(short)
    v = report.summary.validity
    assert v.verdict == "too_short" and v.min_window_s == 10.0 and v.min_requests == 50
    assert load_report(fine).summary.validity.verdict == "ok"
    md = (short / "summary.md").read_text()
    assert "- status: **complete, too short to trust**" in md
    assert "WARNING: too short to trust: the steady-state window lasted" in md
    assert "Validity: too short (limits: steady-state window ≥ 10 s and ≥ 50 completed" in md
    assert "too short" not in (fine / "summary.md").read_text().replace("Validity: ok", "")
    # the synthetic server counts its tokens like vLLM: the check and its uncertainty
    assert report.summary.server.uncertainty_fraction is not None
    assert "from scrape timing (" in md
    out = io.StringIO()
    monkeypatch.setattr("bench.cli_progress.Console", lambda: Console(file=out, width=300))
    print_summary(report, short)
    terminal = out.getvalue()
    assert "(complete, too short to trust)" in terminal
    assert "WARNING: too short to trust:" in terminal
    page = render_html(select([short]))
    assert "status complete, too short to trust" in page
    assert "WARNING: too short to trust" in page
    listing = CliRunner().invoke(runs_app, ["list", "--format", "table", "--wide"],
                                 env={"COLUMNS": "250"})  # fmt: skip
    assert listing.exit_code == 0, listing.output
    rows = {line.split()[1]: line for line in listing.output.splitlines() if "│" in line}
    assert "complete, too short to trust" in rows[report.run_id]
    assert "too short" not in rows[load_report(fine).run_id]
