"""`bench report`: render stored runs to HTML, Markdown, CSV and Parquet.

    paths ─► select (run | sweep | comparison) ─► tables + figures ─► files

Renderers read only run directories on disk, so every report re-renders without a GPU.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from bench.render.bundle import RunBundle, Selection, select
from bench.render.figures import (
    FigureSpec,
    latency_cdf,
    latency_over_time,
    power_timeline,
    throughput_over_time,
)
from bench.render.figures_compare import (
    cost_vs_interactivity,
    sku_bars,
    throughput_vs_interactivity,
)
from bench.render.html import esc, figure_html, page, section, table_html
from bench.render.tables import (
    Table,
    cost_table,
    energy_table,
    errors_table,
    latency_table,
    runs_table,
    setup_table,
    sweep_table,
    throughput_table,
)
from bench.report.trust import status_text, trust_warnings

FORMATS = ("html", "md", "csv", "parquet")


def run_tables(b: RunBundle) -> list[Table]:
    """The per-run tables that exist for this run, in page order."""
    tables = [
        throughput_table(b),
        energy_table(b),
        cost_table(b),
        errors_table(b),
        latency_table(b),
        setup_table(b),
    ]
    return [t for t in tables if t is not None]


def all_tables(sel: Selection) -> list[Table]:
    """Every table of the report (what Markdown and CSV export)."""
    tables = [runs_table(sel.runs)]
    sweep = sweep_table(sel)
    if sweep is not None:
        tables.append(sweep)
    for b in sel.runs:
        tables += run_tables(b)
    return tables


def warnings(sel: Selection) -> list[str]:
    """Things a reader must see before trusting the numbers."""
    out = [f"skipped (unreadable): {s}" for s in sel.skipped]
    for b in sel.runs:
        rep, s = b.report, b.report.summary
        if rep.status != "complete":
            out.append(
                f"run {rep.run_id} is {rep.status}" + (f": {rep.failure}" if rep.failure else "")
            )
        out += b.notes
        if s is not None:
            if s.steady_state is None:
                out.append(
                    f"run {rep.run_id}: no steady-state window; throughput is whole-run"
                    + (f" ({s.steady_state_note})" if s.steady_state_note else "")
                )
            if s.token_count_mismatches:
                out.append(
                    f"run {rep.run_id}: {s.token_count_mismatches} request(s) where the "
                    "client's token count differs from the server's by over 1 %"
                )
            if s.client is not None:
                out += [f"run {rep.run_id}: load generator: {w}" for w in s.client.warnings]
            out += [f"run {rep.run_id}: WARNING: {w}" for w in trust_warnings(s)]
        e = b.energy
        if e is not None and e.measured and not any(t.valid for t in e.totals):
            out.append(f"run {rep.run_id}: energy measured but invalid; no energy figures shown")
    return out


def _energy_note(runs: list[RunBundle], *, skip_explained: bool = False) -> str:
    """Which runs have no power timeline and why (`skip_explained`: leave out runs whose
    energy table already says "not measured")."""
    notes = []
    for b in runs:
        e = b.energy
        if skip_explained and e is not None and not e.measured:
            continue
        if b.trace is None:
            why = e.not_measured_reason if e is not None and not e.measured else "no power trace"
            notes.append(f"{b.label}: power not measured ({why})")
    if not notes:
        return ""
    return '<p class="note">' + esc("; ".join(notes)) + "</p>"


def _figs(specs: Sequence[FigureSpec | None]) -> list[str]:
    return [figure_html(s) for s in specs if s is not None]


def _latency_sections(runs: list[RunBundle]) -> list[str]:
    return [
        section(
            "Latency distributions",
            "latency",
            _figs([latency_cdf(runs, m) for m in ("ttft", "tpot", "e2e", "itl")]),
            grid=True,
        ),
        section(
            "Latency over time",
            "latency-time",
            _figs([latency_over_time(runs, m) for m in ("ttft", "tpot")]),
            grid=True,
        ),
    ]


def run_sections(b: RunBundle) -> list[str]:
    """Sections of a single-run page."""
    runs = [b]
    tp, en, co, er, la, se = (
        throughput_table(b),
        energy_table(b),
        cost_table(b),
        errors_table(b),
        latency_table(b),
        setup_table(b),
    )
    cost_note = ""
    if b.report.cost_note and co is None:
        cost_note = f'<p class="note">cost: {esc(b.report.cost_note)}</p>'
    return [
        section("Summary", "summary", [table_html(runs_table(runs))]),
        *_latency_sections(runs),
        section(
            "Throughput",
            "throughput",
            _figs([throughput_over_time(runs)]) + [table_html(tp) if tp else ""],
        ),
        section(
            "Power and energy",
            "energy",
            _figs([power_timeline(runs)]) + [_energy_note(runs), table_html(en) if en else ""],
        ),
        section("Cost", "cost", [table_html(co) if co else "", cost_note]),
        section("Failed requests", "errors", [table_html(er) if er else ""]),
        section("Latency statistics", "latency-stats", [table_html(la) if la else ""]),
        section("Configuration and provenance", "setup", [table_html(se)]),
    ]


def multi_sections(sel: Selection) -> list[str]:
    """Sections of a sweep or comparison page: overlays first, then each run's tables."""
    runs = sel.runs
    sweep = sweep_table(sel)
    details = []
    for b in runs:
        inner = "".join(table_html(t, heading="h4") for t in run_tables(b))
        details.append(
            f"<details><summary>{esc(b.label)} — {esc(b.report.run_id)}</summary>{inner}</details>"
        )
    return [
        section("Runs", "runs", [table_html(runs_table(runs))]),
        section("Sweep", "sweep", [table_html(sweep)] if sweep else []),
        section(
            "Throughput, cost and interactivity",
            "curves",
            _figs([throughput_vs_interactivity(runs), cost_vs_interactivity(runs), sku_bars(runs)]),
            grid=True,
        ),
        *_latency_sections(runs),
        section("Throughput over time", "throughput", _figs([throughput_over_time(runs)])),
        section("Power", "energy", _figs([power_timeline(runs)]) + [_energy_note(runs)]),
        section("Each run", "each-run", details),
    ]


def render_html(sel: Selection) -> str:
    """The self-contained HTML page for a selection."""
    first = sel.runs[0].report
    if sel.kind == "run":
        sections = run_sections(sel.runs[0])
        sub = [
            f"model {first.config.model} · hardware {first.config.hardware} · "
            f"{sel.runs[0].label} · created {first.created_utc} · "
            f"status {status_text(first.status, first.summary)}"
        ]
    else:
        sections = multi_sections(sel)
        skus = sorted({b.report.config.hardware for b in sel.runs})
        models = sorted({b.report.config.model for b in sel.runs})
        sub = [f"{len(sel.runs)} runs · hardware {', '.join(skus)} · model {', '.join(models)}"]
        if sel.sweep_dir is not None:
            sub.append(f"sweep directory {sel.sweep_dir}")
    return page(sel.title, sub, warnings(sel), sections)


def _file_key(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", key)


def default_out_dir(sel: Selection) -> Path:
    """The run's or sweep's own directory; `reports/compare-<UTC time>` for a comparison."""
    if sel.kind == "run":
        return sel.runs[0].run_dir
    if sel.kind == "sweep" and sel.sweep_dir is not None:
        return sel.sweep_dir
    return Path("reports") / f"compare-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}"


def write_report(
    paths: list[Path], formats: Sequence[str], out_dir: Path | None = None
) -> tuple[Selection, list[Path]]:
    """Render `paths` in each of `formats` (html, md, csv, parquet) into `out_dir`.

    Writes report.html, report.md, tables/<table>.csv, requests.parquet.

    Raises:
        UserError: see `bundle.select`.
    """
    from bench.report.io import write_atomic

    sel = select(paths)
    out = out_dir or default_out_dir(sel)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    if "html" in formats:
        write_atomic(out / "report.html", render_html(sel))
        written.append(out / "report.html")
    if "md" in formats or "csv" in formats:
        tables = all_tables(sel)
        if "md" in formats:
            from bench.render.export import report_markdown

            write_atomic(out / "report.md", report_markdown(sel.title, tables))
            written.append(out / "report.md")
        if "csv" in formats:
            from bench.render.export import write_csv

            written += [write_csv(t, out / "tables" / f"{_file_key(t.key)}.csv") for t in tables]
    if "parquet" in formats:
        from bench.render.export import write_parquet

        written.append(write_parquet(sel.runs, out / "requests.parquet"))
    return sel, written
