"""Terminal output for `bench run`: a progress bar while requests run, a summary table after."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bench.records import RequestRecord
from bench.report.records import Report
from bench.report.summary import latency_rows, request_lines, throughput_rows
from bench.report.trust import server_counter_line, status_text, trust_notes, trust_warnings

console = Console(stderr=True)


def _money(value: float | None) -> str:
    return "—" if value is None else f"{value:.4f}"


def run_with_progress(config: Any, assumptions: Any, execute: Callable[..., Report]) -> Report:
    total = (config.num_requests or 0) + config.warmup_requests
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[failed]} failed"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task("requests", total=total or None, failed=0)
        failed = 0

        def on_record(rec: RequestRecord) -> None:
            nonlocal failed
            failed += rec.status != "ok"
            progress.update(task, advance=1, failed=failed)

        return execute(
            config,
            assumptions,
            on_record=on_record,
            on_status=lambda msg: progress.console.print(msg),
        )


def print_summary(report: Report, run_dir: Path) -> None:
    out = Console()
    lat = Table(
        title=f"latency — run {report.run_id} ({status_text(report.status, report.summary)})"
    )
    for col in ("metric", "p50", "p90", "p99", "mean", "n"):
        lat.add_column(col, justify="right")
    for row in latency_rows(report):
        lat.add_row(*row)
    thr = Table(title="throughput")
    for col in ("window", "duration (s)", "req/s", "input tok/s", "output tok/s", "total tok/s"):
        thr.add_column(col, justify="right")
    for row in throughput_rows(report):
        thr.add_row(*row)
    out.print(lat)
    for note in trust_notes(report.summary):
        out.print(note, markup=False, highlight=False)
    out.print(thr)
    counter = server_counter_line(report.summary) if report.summary else None
    if counter:
        out.print(counter, markup=False, highlight=False)
    if report.cost is not None:
        c = report.cost
        flag = " (estimated inputs)" if c.estimated else ""
        cur = c.display.currency
        out.print(
            f"cost on {c.hardware_sku} ({c.cost_basis} basis{flag}): "
            f"{_money(c.display.amount(c.cost_usd_per_m_output_tokens))} {cur}/M output tokens, "
            f"{_money(c.display.amount(c.cost_usd_per_m_total_tokens))} {cur}/M total tokens"
        )
    elif report.cost_note:
        out.print(f"cost: {report.cost_note}")
    summary = report.summary
    if summary and summary.client:
        for warning in summary.client.warnings:
            out.print(f"[yellow]client warning:[/] {warning}")
    if summary:  # planned/never sent, usage source, token-count warning
        for line in request_lines(summary)[1:]:
            out.print(escape(line.removeprefix("- ")).replace("**warning**", "[yellow]warning[/]"))
    for note in report.notes:
        out.print(f"[yellow]note:[/] {escape(note)}")
    for warning in trust_warnings(summary):
        out.print(f"[bold red]WARNING:[/] [red]{escape(warning)}[/]")
    out.print(f"run directory: {run_dir} (report.json, requests.jsonl, summary.md)")
