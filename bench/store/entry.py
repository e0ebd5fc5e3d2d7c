"""What the results store keeps about each run: a flat `RunEntry` built from its `Report`.

The entry holds the fields people filter and sort on (SKU, model, workload, load point,
created time) and the key figures (latency percentiles, steady-state throughput, energy,
cost in USD with the run's display currency), plus where the run directory is. The report
itself stays the source of truth.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bench.energy.records import EnergySummary
from bench.errors import UserError
from bench.records import Record
from bench.report.records import Report


class RunEntry(Record):
    """One registered run. Times are UTC ISO-8601 `YYYY-MM-DDTHH:MM:SSZ` (sortable as text).

    Throughput figures are over `throughput_window` (steady state when the run had one);
    `*_per_gpu` divides by `gpus` (None when the GPU count is unknown). Energy and cost are
    None when the report has none; `cost_estimated` says whether the cost used an
    estimated input (e.g. power from board TDP instead of a meter). Cost is in USD;
    `cost_display_currency` and `cost_display_per_usd` are how the run shows it.
    `too_short`: the run's steady-state window was too short to trust (its validity rules);
    None when the report was not judged (written before tokenbench judged validity).
    """

    run_id: str
    status: str
    sweep_id: str | None = None
    created_utc: str
    sku: str
    model: str
    workload: str
    load_kind: str | None = None
    load_value: float | None = None
    gpus: int | None = None
    requests_ok: int = 0
    requests_failed: int = 0
    ttft_p50_s: float | None = None
    ttft_p99_s: float | None = None
    tpot_p50_s: float | None = None
    tpot_p99_s: float | None = None
    e2e_p50_s: float | None = None
    e2e_p99_s: float | None = None
    interactivity_p50_tok_per_s: float | None = None
    throughput_window: str | None = None
    output_tok_per_s: float | None = None
    total_tok_per_s: float | None = None
    output_tok_per_s_per_gpu: float | None = None
    total_tok_per_s_per_gpu: float | None = None
    goodput_fraction: float | None = None
    energy_j: float | None = None
    energy_j_per_output_token: float | None = None
    energy_valid: bool | None = None
    cost_display_currency: str | None = None
    cost_display_per_usd: float | None = None
    cost_usd_per_m_output_tokens: float | None = None
    cost_usd_per_m_total_tokens: float | None = None
    cost_estimated: bool | None = None
    run_dir: str
    report_sha256: str
    registered_utc: str
    too_short: bool | None = None

    @property
    def load_label(self) -> str:
        """`c=8` for concurrency, `rate=2/s` for a request rate, `-` when unknown."""
        return load_text(self.load_kind, self.load_value)


class SweepEntry(Record):
    """One registered sweep: a directory of run directories (its points) and a manifest."""

    sweep_id: str
    sweep_dir: str
    created_utc: str
    sku: str
    model: str
    workload: str
    points: int
    status: str
    registered_utc: str


def utc_text(value: str | datetime | None = None) -> str:
    """Normalise a timestamp (ISO text or datetime; naive means UTC) to `YYYY-MM-DDTHH:MM:SSZ`.

    None means now. Raises ValueError for text that is not ISO-8601.
    """
    if value is None:
        moment = datetime.now(UTC)
    elif isinstance(value, datetime):
        moment = value
    else:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def workload_label(report: Report) -> str:
    """The workload's name: the suite workload's name, or `shape-<in>x<out>` for a synthetic
    shape."""
    from bench.config.run import ShapeWorkload

    workload = report.config.workload
    if isinstance(workload, ShapeWorkload):
        return f"shape-{workload.input_tokens}x{workload.output_tokens}"
    return workload.name


def load_text(kind: str | None, value: float | None) -> str:
    """`c=8` for concurrency, `rate=2/s` for a request rate, `-` when unknown."""
    if value is None:
        return "-"
    return f"c={value:g}" if kind == "concurrency" else f"rate={value:g}/s"


def gpu_count(report: Report) -> int | None:
    """GPUs the run used (`Report.gpus_used`), or None when its engine flags are malformed:
    a listing must not stop on one run."""
    try:
        return report.gpus_used()
    except UserError:
        return None


def _energy_figures(
    energy: EnergySummary | None,
) -> tuple[float | None, float | None, bool | None]:
    """(energy J, J per output token, valid) of the headline (`primary`) scope.

    Not measured gives (None, None, None); measured but with no valid scope gives
    (None, None, False) — never zeros.
    """
    if energy is None or not energy.measured:
        return None, None, None
    primary = energy.total(energy.primary) if energy.primary else None
    if primary is None or not primary.valid:
        return None, None, False
    return primary.energy_j, primary.j_per_output_token, True


def entry_from_report(
    report: Report, run_dir: Path, *, sha256: str, sweep_id: str | None = None
) -> RunEntry:
    """Flatten a report into its store entry. Pure: reads nothing but its arguments."""
    summary = report.summary
    load_kind, load_value = report.config.load.kind, report.config.load.level
    gpus = gpu_count(report)
    window = (summary.steady_state or summary.whole_run) if summary else None
    tpot_p50 = summary.tpot_s.p50 if summary else None
    energy_j, j_per_token, energy_valid = _energy_figures(report.energy)
    cost = report.cost
    sku = report.config.hardware
    model = report.config.model
    return RunEntry(
        run_id=report.run_id,
        status=report.status,
        too_short=(
            summary.validity.verdict == "too_short"
            if summary is not None and summary.validity is not None
            else None
        ),
        sweep_id=sweep_id,
        created_utc=utc_text(report.created_utc),
        sku=sku,
        model=model,
        workload=workload_label(report),
        load_kind=load_kind,
        load_value=load_value,
        gpus=gpus,
        requests_ok=summary.requests_ok if summary else 0,
        requests_failed=summary.requests_failed if summary else 0,
        ttft_p50_s=summary.ttft_s.p50 if summary else None,
        ttft_p99_s=summary.ttft_s.p99 if summary else None,
        tpot_p50_s=tpot_p50,
        tpot_p99_s=summary.tpot_s.p99 if summary else None,
        e2e_p50_s=summary.e2e_s.p50 if summary else None,
        e2e_p99_s=summary.e2e_s.p99 if summary else None,
        interactivity_p50_tok_per_s=1.0 / tpot_p50 if tpot_p50 else None,
        throughput_window=window.label if window else None,
        output_tok_per_s=window.output_tok_per_s if window else None,
        total_tok_per_s=window.total_tok_per_s if window else None,
        output_tok_per_s_per_gpu=window.output_tok_per_s / gpus if window and gpus else None,
        total_tok_per_s_per_gpu=window.total_tok_per_s / gpus if window and gpus else None,
        goodput_fraction=summary.goodput.fraction if summary and summary.goodput else None,
        energy_j=energy_j,
        energy_j_per_output_token=j_per_token,
        energy_valid=energy_valid,
        cost_display_currency=cost.display.currency if cost else None,
        cost_display_per_usd=cost.display.per_usd if cost else None,
        cost_usd_per_m_output_tokens=cost.cost_usd_per_m_output_tokens if cost else None,
        cost_usd_per_m_total_tokens=cost.cost_usd_per_m_total_tokens if cost else None,
        cost_estimated=cost.estimated if cost else None,
        run_dir=str(run_dir.resolve()),
        report_sha256=sha256,
        registered_utc=utc_text(),
    )
