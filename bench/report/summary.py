"""summary.md and the terminal table, both rendered from a `Report` alone.

Units are converted here, and only here: seconds to milliseconds for latency, USD to the
report's display currency for money.
"""

from __future__ import annotations

from bench.records import Distribution, RunSummary, Throughput
from bench.report.records import Report
from bench.report.trust import (
    server_counter_line,
    status_text,
    trust_notes,
    trust_warnings,
    validity_note,
)
from bench.workloads.records import WorkloadSection

LATENCIES = (
    ("TTFT", "ttft_s"),
    ("TPOT", "tpot_s"),
    ("ITL", "itl_s"),
    ("E2E", "e2e_s"),
)


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value * 1000:.1f}"


def _num(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def latency_rows(report: Report) -> list[list[str]]:
    """Rows: metric, p50, p90, p99, mean (ms), count."""
    summary = report.summary
    if summary is None:
        return []
    rows = []
    for name, field in LATENCIES:
        dist: Distribution = getattr(summary, field)
        rows.append(
            [
                f"{name} (ms)",
                _ms(dist.p50),
                _ms(dist.p90),
                _ms(dist.p99),
                _ms(dist.mean),
                str(dist.count),
            ]
        )
    return rows


def throughput_rows(report: Report) -> list[list[str]]:
    """Rows: window, duration, req/s, input tok/s, output tok/s, total tok/s."""
    summary = report.summary
    if summary is None:
        return []
    rows = []
    windows: list[Throughput | None] = [summary.steady_state, summary.whole_run]
    for tp in windows:
        if tp is None:
            continue
        rows.append(
            [
                tp.label.replace("_", "-"),
                f"{tp.duration_s:.2f}",
                _num(tp.request_per_s, 3),
                _num(tp.input_tok_per_s, 1),
                _num(tp.output_tok_per_s, 1),
                _num(tp.total_tok_per_s, 1),
            ]
        )
    return rows


def cost_rows(report: Report) -> list[list[str]]:
    """Rows: line, value, unit, basis (money in the display currency)."""
    if report.cost is None:
        return []
    rows = []
    for line in report.cost.lines:
        value, unit = report.cost.display.line(line)
        rows.append([line.name, f"{value:,.6g}", unit, line.basis])
    return rows


MISMATCH_WARN_FRACTION = 0.05


def token_count_warning(summary: RunSummary) -> str | None:
    """A warning when more than 5 % of the ok requests have server and client output-token
    counts more than 1 % apart (`token_count_mismatches`): throughput and cost rest on the
    server's counts, which then disagree with what was streamed."""
    ok = summary.requests_ok
    if not ok or summary.token_count_mismatches <= MISMATCH_WARN_FRACTION * ok:
        return None
    return (
        f"the server's output-token counts differ from the client's by more than 1 % in "
        f"{summary.token_count_mismatches} of {ok} ok requests "
        f"({summary.token_count_mismatches / ok:.0%}); throughput and cost use the server's "
        f"counts (ids in report.json: summary.token_count_mismatch_ids)"
    )


def request_lines(summary: RunSummary) -> list[str]:
    """What happened to the planned requests, and where the token counts came from."""
    planned = summary.requests_planned
    lines = [
        f"- requests: {summary.requests_ok} ok, {summary.requests_failed} failed "
        f"({summary.errors_by_class or 'none'}), {summary.warmup_requests} warm-up excluded"
    ]
    if planned is not None:
        lines.append(
            f"- planned {planned} = {summary.requests_total} recorded + "
            f"{summary.requests_never_sent} never sent"
        )
    if summary.requests_client_counted:
        lines.append(
            f"- usage source: the server sent no token counts for "
            f"{summary.requests_client_counted} of {summary.requests_ok} ok requests; those "
            f"are the client's counts (output: token ids, else one per content chunk; "
            f"input: the prompt as tokenized by the client)"
        )
    warning = token_count_warning(summary)
    if warning:
        lines.append(f"- **warning**: {warning}")
    return lines


def _table(header: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(out)


def workload_lines(section: WorkloadSection) -> list[str]:
    """The suite workload: what was asked, and requested vs server-counted input lengths."""
    info, outcome = section.info, section.outcome
    lines = [
        f"- {info.name} ({info.kind}): {info.description}",
        f"- seed {info.seed}, scale {info.scale}, {info.requests} requests"
        + (f", {info.images} images" if info.images else "")
        + (f", {info.video_s} s of video" if info.video_s else ""),
    ]
    lengths = outcome.input_lengths
    lines.append(
        f"- input lengths (server count vs requested): {lengths.exact}/{lengths.checked} exact, "
        f"max error {lengths.max_abs_error_tokens} tokens"
    )
    for key, part in (("sessions", outcome.sessions), ("vision", outcome.vision)):
        if part is not None:
            lines.append(f"- {key}: {part.model_dump(mode='json')}")
    return lines


def render_summary(report: Report) -> str:
    """The run's summary.md."""
    cfg = report.config
    lines = [
        f"# tokenbench run {report.run_id}",
        "",
        f"- status: **{status_text(report.status, report.summary)}**"
        + (f" — {report.failure}" if report.failure else ""),
        f"- model: {cfg.model} · hardware profile: {cfg.hardware}",
        f"- load: {cfg.load.model_dump(mode='json')}",
        f"- workload: {cfg.workload.model_dump(mode='json')}",
        f"- created (UTC): {report.created_utc}",
    ]
    placement = report.provenance.placement
    if placement is not None:
        state = "placed" if placement.applied else "not placed"
        lines.append(f"- server placement: {state} ({placement.reason})")
    summary = report.summary
    if summary is not None:
        lines += request_lines(summary)
    warnings = trust_warnings(summary)
    if warnings:
        lines += ["", "## Warnings", "", *[f"- **WARNING: {w}**" for w in warnings]]
    if summary is not None:
        lines += [
            "",
            "## Latency",
            "",
            _table(["metric", "p50", "p90", "p99", "mean", "n"], latency_rows(report)),
            *[line for note in trust_notes(summary) for line in ("", f"- {note}")],
            "",
            "## Throughput",
            "",
            _table(
                ["window", "duration (s)", "req/s", "input tok/s", "output tok/s", "total tok/s"],
                throughput_rows(report),
            ),
        ]
        if summary.steady_state_note:
            lines += ["", f"Note: {summary.steady_state_note}"]
        counter = server_counter_line(summary)
        if counter:
            lines += ["", counter[0].upper() + counter[1:] + "."]
        validity = validity_note(summary)
        if validity:
            lines += ["", validity[0].upper() + validity[1:] + "."]
        if summary.goodput:
            g = summary.goodput
            lines += [
                "",
                f"Goodput at SLO {g.slo.model_dump(exclude_none=True)}: {g.requests_meeting_slo}/"
                f"{g.requests_measured} requests ({g.fraction:.0%}), {g.request_per_s:.3f} req/s, "
                f"{g.output_tok_per_s:,.1f} output tok/s"
                + (
                    f" ({g.requests_tpot_not_measured} coalesced requests could not be checked "
                    "against the TPOT target and do not count as meeting it)"
                    if g.requests_tpot_not_measured
                    else ""
                ),
            ]
        if summary.client:
            client = summary.client
            lines += [
                "",
                f"Client load: {client.cpu_fraction:.0%} of one core (busiest process)"
                + (
                    f", {client.allowed_cpu_fraction:.0%} of the {len(client.allowed_cpus)} "
                    f"CPU(s) it may use ({','.join(map(str, client.allowed_cpus))})"
                    if client.allowed_cpu_fraction is not None and client.allowed_cpus
                    else ""
                )
                + f", event-loop lag p99 {_ms(client.loop_lag_s.p99)} ms, max "
                f"{_ms(client.loop_lag_s.max)} ms"
                + "".join(f"\n- warning: {w}" for w in client.warnings),
            ]
    if report.workload is not None:
        lines += ["", "## Workload", "", *workload_lines(report.workload)]
    if report.cost is not None:
        c = report.cost
        cur = c.display.currency
        lines += [
            "",
            f"## Cost ({cur}, {c.cost_basis} basis, {c.hardware_sku}"
            f"{', ESTIMATED inputs' if c.estimated else ''})",
            "",
            f"- per million output tokens: "
            f"{_num(c.display.amount(c.cost_usd_per_m_output_tokens), 4)} {cur}",
            f"- per million total tokens: "
            f"{_num(c.display.amount(c.cost_usd_per_m_total_tokens), 4)} {cur}",
        ]
        if cur != "USD":
            lines.append(
                f"- computed in USD, shown at {c.display.per_usd:g} {cur}/USD "
                f"({c.display.fx_source})"
            )
        lines += ["", _table(["line", "value", "unit", "basis"], cost_rows(report))]
    elif report.cost_note:
        lines += ["", f"Cost: {report.cost_note}"]
    if report.notes:
        lines += ["", "## Notes", "", *(f"- {note}" for note in report.notes)]
    if report.energy is not None:
        from bench.energy.text import energy_markdown

        display = report.cost.display if report.cost else None
        lines += ["", energy_markdown(report.energy, display)]  # has its own "## Energy" heading
    elif report.summary is not None:
        lines += ["", "## Energy", "", "energy: not measured (no meter ran)"]
    return "\n".join(lines) + "\n"
