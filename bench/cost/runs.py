"""Stored runs as the cost commands see them: report, requests, SKU, model, GPUs, power.

Quote and compare recompute cost from each run's summary with the assumptions asked for, so
a stored report's own `cost` (made with the assumptions of its day) is not reused.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bench.cost.workload_key import WorkloadKey, workload_key
from bench.errors import UserError
from bench.records import Record, RequestRecord
from bench.report.records import Report


class StoredRun(Record):
    """One run directory, loaded: its report, requests, hardware SKU, model, GPU count and
    the workload it measured (for like-for-like matching)."""

    run_dir: str
    report: Report
    requests: list[RequestRecord]
    sku: str
    model: str
    gpus: int
    workload: WorkloadKey

    @property
    def power_w(self) -> float | None:
        """Measured average power of all the run's GPUs (W), or None (see measured_power_w)."""
        return measured_power_w(self.report)


def measured_power_w(report: Report) -> float | None:
    """The run's measured average power (all its devices together, W), as `bench run` used it.

    The primary scope of the run's energy summary (GPU boards, else node, else CPU); None
    when nothing was measured validly.
    """
    energy = report.energy
    if energy is None or not energy.measured or energy.primary is None:
        return None
    total = energy.total(energy.primary)
    return total.avg_power_w if total is not None and total.valid else None


def load_run(run_dir: Path) -> StoredRun:
    """Load one run directory through bench.report.io.

    Raises:
        UserError: no report.json, invalid report, or a run without a summary.
    """
    from bench.report.io import load_report, read_requests

    report = load_report(run_dir)
    if report.summary is None:
        raise UserError(
            f"run {report.run_id} has no summary (status {report.status})",
            file=Path(run_dir) / "report.json",
            field="summary",
            fix="leave this run out or rerun it",
        )
    sku = report.cost.hardware_sku if report.cost else report.config.hardware
    if not sku:
        raise UserError("the run names no hardware profile", file=run_dir, field="config.hardware")
    model = report.config.model
    return StoredRun(
        run_dir=str(run_dir),
        report=report,
        requests=read_requests(run_dir),
        sku=sku,
        model=model,
        gpus=report.gpus_used(),
        workload=workload_key(report),
    )


def load_runs(run_dirs: Sequence[Path]) -> list[StoredRun]:
    """Load several run directories (a folder holding run folders counts as all of them).

    Raises:
        UserError: none given, or any run fails to load.
    """
    dirs: list[Path] = []
    for d in run_dirs:
        d = Path(d)
        if (d / "report.json").is_file():
            dirs.append(d)
        elif d.is_dir() and any(d.glob("*/report.json")):
            dirs.extend(sorted(p.parent for p in d.glob("*/report.json")))
        else:
            raise UserError("no report.json here", file=d, fix="give run directories")
    if not dirs:
        raise UserError("no runs given", field="RUNS", fix="give one or more run directories")
    return [load_run(d) for d in dirs]
