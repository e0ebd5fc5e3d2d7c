"""The tables every report format shares (HTML, Markdown, CSV), built from stored runs.

A `Table` holds display-unit values (latency in ms; throughput in tok/s; money converted
from USD to each report's display currency) with the unit and basis of each column, so the
three renderers show the same numbers. Basis: measured (from the run), configured (what a
person set), estimated (a stand-in for a measurement), derived (arithmetic on the others).
"""

from __future__ import annotations

from typing import Any

from bench.records import Basis, Distribution, Record
from bench.render.bundle import RunBundle, Selection
from bench.report.trust import server_counter_line, status_text, trust_notes, validity_note

Cell = str | float | int | None


class Column(Record):
    name: str
    unit: str | None = None
    basis: Basis | None = None

    @property
    def header(self) -> str:
        return f"{self.name} ({self.unit})" if self.unit else self.name


class Table(Record):
    """A titled table; `key` names its CSV file and HTML anchor."""

    key: str
    title: str
    columns: list[Column]
    rows: list[list[Cell]]
    note: str | None = None


def _ms(v: float | None) -> float | None:
    return None if v is None else v * 1e3


def _per_gpu(value: float | None, gpus: int | None) -> float | None:
    return None if value is None or not gpus else value / gpus


def runs_table(runs: list[RunBundle]) -> Table:
    """One row per run with its key figures (throughput over the steady-state window)."""
    from bench.store.entry import gpu_count, load_text, workload_label

    cols = [
        Column(name="run"),
        Column(name="SKU", basis="configured"),
        Column(name="model", basis="configured"),
        Column(name="workload", basis="configured"),
        Column(name="load", basis="configured"),
        Column(name="status"),
        Column(name="GPUs", basis="configured"),
        Column(name="ok", unit="requests", basis="measured"),
        Column(name="failed", unit="requests", basis="measured"),
        Column(name="TTFT p50", unit="ms", basis="measured"),
        Column(name="TTFT p99", unit="ms", basis="measured"),
        Column(name="TPOT p50", unit="ms", basis="measured"),
        Column(name="TPOT p99", unit="ms", basis="measured"),
        Column(name="E2E p50", unit="ms", basis="measured"),
        Column(name="interactivity p50", unit="tok/s/user", basis="derived"),
        Column(name="output per GPU", unit="tok/s", basis="measured"),
        Column(name="total per GPU", unit="tok/s", basis="measured"),
        Column(name="throughput window"),
        Column(name="goodput", unit="%", basis="measured"),
        Column(name="energy per output token", unit="J", basis="measured"),
        Column(name="cost per M output tokens", unit="currency", basis="derived"),
        Column(name="cost basis"),
    ]
    rows: list[list[Cell]] = []
    for b in runs:
        rep, s = b.report, b.report.summary
        load = rep.config.load
        gpus = gpu_count(rep)
        window = (s.steady_state or s.whole_run) if s else None
        tpot = s.tpot_s.p50 if s else None
        energy = b.energy
        primary = energy.total(energy.primary) if energy and energy.primary else None
        cost = rep.cost
        rows.append(
            [
                rep.run_id,
                rep.config.hardware,
                rep.config.model,
                workload_label(rep),
                load_text(load.kind, load.level),
                status_text(rep.status, s),
                gpus,
                s.requests_ok if s else None,
                s.requests_failed if s else None,
                _ms(s.ttft_s.p50) if s else None,
                _ms(s.ttft_s.p99) if s else None,
                _ms(tpot),
                _ms(s.tpot_s.p99) if s else None,
                _ms(s.e2e_s.p50) if s else None,
                1.0 / tpot if tpot else None,
                _per_gpu(window.output_tok_per_s if window else None, gpus),
                _per_gpu(window.total_tok_per_s if window else None, gpus),
                window.label.replace("_", "-") if window else None,
                s.goodput.fraction * 100 if s and s.goodput else None,
                primary.j_per_output_token if primary and primary.valid else None,
                cost.display.amount(cost.cost_usd_per_m_output_tokens) if cost else None,
                (
                    f"{cost.display.currency} {cost.cost_basis}"
                    + (", estimated" if cost.estimated else "")
                )
                if cost
                else None,
            ]
        )
    return Table(key="runs", title="Runs", columns=cols, rows=rows)


def _dist_row(name: str, d: Distribution, scale: float) -> list[Cell]:
    vals = [d.mean, d.min, d.p50, d.p90, d.p95, d.p99, d.max]
    row: list[Cell] = [name, d.count]
    return row + [None if v is None else v * scale for v in vals]


def latency_table(b: RunBundle) -> Table | None:
    """Distribution of each latency metric of one run (ms; interactivity in tok/s/user)."""
    s = b.report.summary
    if s is None:
        return None
    stats = ["mean", "min", "p50", "p90", "p95", "p99", "max"]
    cols = [Column(name="metric"), Column(name="count")]
    cols += [Column(name=n, basis="measured") for n in stats]
    rows = [
        _dist_row("TTFT (ms)", s.ttft_s, 1e3),
        _dist_row("TPOT (ms)", s.tpot_s, 1e3),
        _dist_row("ITL (ms)", s.itl_s, 1e3),
        _dist_row("E2E (ms)", s.e2e_s, 1e3),
        _dist_row("interactivity (tok/s/user)", s.interactivity_tok_per_s, 1.0),
        _dist_row("tokens per chunk", s.tokens_per_chunk, 1.0),
    ]
    notes = trust_notes(s)
    return Table(
        key=f"latency-{b.report.run_id}",
        title="Latency",
        columns=cols,
        rows=rows,
        note="; ".join(notes) if notes else None,
    )


def throughput_table(b: RunBundle) -> Table | None:
    """Throughput of one run over its steady-state window and over the whole run."""
    s = b.report.summary
    if s is None:
        return None
    cols = [
        Column(name="window"),
        Column(name="duration", unit="s", basis="measured"),
        Column(name="requests completed", basis="measured"),
        Column(name="requests", unit="req/s", basis="measured"),
        Column(name="input", unit="tok/s", basis="measured"),
        Column(name="output", unit="tok/s", basis="measured"),
        Column(name="total", unit="tok/s", basis="measured"),
    ]
    rows: list[list[Cell]] = []
    for w in (s.steady_state, s.whole_run):
        if w is not None:
            rows.append(
                [
                    w.label.replace("_", "-"),
                    w.duration_s,
                    w.requests_completed,
                    w.request_per_s,
                    w.input_tok_per_s,
                    w.output_tok_per_s,
                    w.total_tok_per_s,
                ]
            )
    if s.goodput is not None:
        g = s.goodput
        rows.append(
            [
                "goodput (meets SLO)",
                None,
                g.requests_meeting_slo,
                g.request_per_s,
                None,
                g.output_tok_per_s,
                None,
            ]
        )
    return Table(
        key=f"throughput-{b.report.run_id}",
        title="Throughput",
        columns=cols,
        rows=rows,
        note="; ".join(
            n for n in (s.steady_state_note, server_counter_line(s), validity_note(s)) if n
        )
        or None,
    )


def cost_table(b: RunBundle) -> Table | None:
    """The cost breakdown's lines: value, unit, basis, note."""
    c = b.report.cost
    if c is None:
        return None
    d, cur = c.display, c.display.currency
    cols = [
        Column(name="line"),
        Column(name="value"),
        Column(name="unit"),
        Column(name="basis"),
        Column(name="note"),
    ]
    rows: list[list[Cell]] = [[ln.name, *d.line(ln), ln.basis, ln.note] for ln in c.lines]
    rows.append(
        [
            "cost per M output tokens",
            d.amount(c.cost_usd_per_m_output_tokens),
            f"{cur}/Mtok",
            "estimated" if c.estimated else "derived",
            None,
        ]
    )
    rows.append(
        [
            "cost per M total tokens",
            d.amount(c.cost_usd_per_m_total_tokens),
            f"{cur}/Mtok",
            "estimated" if c.estimated else "derived",
            None,
        ]
    )
    note = f"{cur}, {c.cost_basis} basis, {c.hardware_sku}, {c.gpus} GPU(s)"
    if cur != "USD":
        note += f"; computed in USD, shown at {d.per_usd:g} {cur}/USD ({d.fx_source})"
    if c.estimated:
        note += "; ESTIMATED: at least one input is not measured"
    return Table(key=f"cost-{b.report.run_id}", title="Cost", columns=cols, rows=rows, note=note)


def energy_table(b: RunBundle) -> Table | None:
    """Energy per scope (gpu / cpu / node) over the window, or why it was not measured."""
    e = b.energy
    if e is None:
        return None
    cols = [
        Column(name="scope"),
        Column(name="sources"),
        Column(name="valid"),
        Column(name="energy", unit="J", basis="measured"),
        Column(name="average power", unit="W", basis="measured"),
        Column(name="peak power", unit="W", basis="measured"),
        Column(name="idle power", unit="W", basis="measured"),
        Column(name="energy above idle", unit="J", basis="measured"),
        Column(name="per output token", unit="J", basis="derived"),
        Column(name="output tokens per kWh", basis="derived"),
        Column(name="problem"),
    ]
    rows: list[list[Cell]] = [
        [
            t.scope,
            "+".join(t.sources),
            "yes" if t.valid else "no",
            t.energy_j,
            t.avg_power_w,
            t.peak_power_w,
            t.idle_power_w,
            t.energy_above_idle_j,
            t.j_per_output_token,
            t.output_tokens_per_kwh,
            t.problem,
        ]
        for t in e.totals
    ]
    note = None if e.measured else f"energy: not measured ({e.not_measured_reason})"
    return Table(
        key=f"energy-{b.report.run_id}", title="Energy", columns=cols, rows=rows, note=note
    )


def errors_table(b: RunBundle) -> Table | None:
    """Failed requests by class, with one example message each (server text, escaped later)."""
    failed = [r for r in b.records if r.status != "ok" and not r.warmup]
    if not failed:
        return None
    groups: dict[tuple[str, str], list[Any]] = {}
    for r in failed:
        groups.setdefault((r.status, r.error_class or "-"), []).append(r)
    cols = [
        Column(name="status"),
        Column(name="class"),
        Column(name="count", basis="measured"),
        Column(name="HTTP status"),
        Column(name="example message"),
    ]
    rows: list[list[Cell]] = [
        [status, cls, len(rs), rs[0].http_status, (rs[0].error_message or "")[:300]]
        for (status, cls), rs in sorted(groups.items())
    ]
    return Table(key=f"errors-{b.report.run_id}", title="Failed requests", columns=cols, rows=rows)


def _flatten(prefix: str, value: Any, out: list[list[Cell]]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        for i, v in enumerate(value):
            _flatten(f"{prefix}[{i}]", v, out)
    else:
        text = value if isinstance(value, str) else repr(value) if value is not None else None
        if isinstance(text, str) and len(text) > 500:
            text = text[:500] + f"… ({len(text)} characters)"
        out.append([prefix, text])


def setup_table(b: RunBundle) -> Table:
    """Everything that describes the run: config, workload, provenance (as given)."""
    rows: list[list[Cell]] = []
    _flatten("config", b.report.config.model_dump(mode="json"), rows)
    if b.report.workload:
        _flatten("workload", b.report.workload.model_dump(mode="json"), rows)
    _flatten("provenance", b.report.provenance.model_dump(mode="json"), rows)
    return Table(
        key=f"setup-{b.report.run_id}",
        title="Configuration and provenance",
        columns=[Column(name="field"), Column(name="value", basis="configured")],
        rows=rows,
    )


def sweep_table(sel: Selection) -> Table | None:
    """The sweep's points from its manifest: load, status, prefix-cache reset, errors."""
    m = sel.sweep
    if m is None:
        return None
    cols = [
        Column(name="point"),
        Column(name="load", basis="configured"),
        Column(name="repeat"),
        Column(name="status"),
        Column(name="attempts"),
        Column(name="prefix cache reset"),
        Column(name="run directory"),
        Column(name="error"),
    ]
    rows: list[list[Cell]] = []
    for p in m.points:
        reset = p.prefix_cache_reset
        reset_text = (
            "-"
            if reset is None
            else (
                "not attempted"
                if not reset.attempted
                else "ok"
                if reset.ok
                else f"failed ({reset.note or reset.http_status})"
            )
        )
        rows.append(
            [
                p.index,
                f"{p.load_kind} {p.load:g}",
                p.repeat,
                p.status,
                p.attempts,
                reset_text,
                p.run_dir,
                p.error,
            ]
        )
    note = f"status {m.status}; server starts {m.server_starts}"
    if m.stop_reason:
        note += f"; stopped: {m.stop_reason}"
    return Table(key="sweep-points", title="Sweep points", columns=cols, rows=rows, note=note)
