"""What a report is rendered from: stored run directories, read once, never re-measured.

`select(paths)` decides what the user asked for: one run directory → a run report; a sweep
directory (holding `sweep.json`) → a sweep report of its points; anything else → a
comparison of every run found under the paths. Corrupt runs are skipped and named.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from bench.energy.records import EnergySummary, EnergyTrace
from bench.errors import UserError
from bench.records import Record, RequestRecord
from bench.report.records import Report
from bench.store.ingest import find_run_dirs
from bench.store.rundir import CorruptRun, is_run_dir, read_records, read_report_versioned
from bench.sweep.manifest import SWEEP_MANIFEST, SweepManifest

ENERGY_TRACE_FILE = "energy_trace.json"
"""Power samples of the run (an `EnergyTrace` the runner writes with
`bench.energy.write_trace`), read for the power timeline when present."""


class RunBundle(Record):
    """One run as stored: its report, request records and power trace (if any)."""

    run_dir: Path
    report: Report
    records: list[RequestRecord]
    trace: EnergyTrace | None = None
    notes: list[str] = []
    migrated_from: int | None = None

    @property
    def label(self) -> str:
        """Short name in legends: `<sku> c=8` or `<sku> rate=2/s`."""
        from bench.store.entry import load_text

        load = self.report.config.load
        return f"{self.report.config.hardware} {load_text(load.kind, load.level)}"

    @property
    def energy(self) -> EnergySummary | None:
        """The report's energy summary (None when the run had no meters at all)."""
        return self.report.energy


class Selection(Record):
    """What to render: a run, a sweep's points, or a comparison of runs."""

    kind: Literal["run", "sweep", "comparison"]
    title: str
    runs: list[RunBundle]
    sweep: SweepManifest | None = None
    sweep_dir: Path | None = None
    skipped: list[str] = []


def load_bundle(run_dir: Path) -> RunBundle:
    """Read one run directory.

    Raises:
        CorruptRun: the report or the request records cannot be read.
    """
    report, migrated_from = read_report_versioned(run_dir)
    records = read_records(run_dir)
    notes: list[str] = []
    trace = None
    trace_path = run_dir / ENERGY_TRACE_FILE
    if trace_path.is_file():
        from bench.energy.meter import read_trace

        try:
            trace = read_trace(trace_path)
        except UserError as exc:
            notes.append(f"power trace not plotted: {exc.render()}")
    return RunBundle(
        run_dir=run_dir,
        report=report,
        records=records,
        trace=trace,
        notes=notes,
        migrated_from=migrated_from,
    )


def _sort_key(bundle: RunBundle) -> tuple[str, str, float, str]:
    config = bundle.report.config
    return config.hardware, config.model, config.load.level, bundle.report.run_id


def select(paths: list[Path]) -> Selection:
    """Load what `paths` point at (see module docstring).

    Raises:
        UserError: a path does not exist, no readable run is found, or a single run
            directory given on its own is corrupt.
    """
    for path in paths:
        if not path.exists():
            raise UserError("not found", file=path, fix="give run or sweep directories")
    if len(paths) == 1 and is_run_dir(paths[0]):
        bundle = load_bundle(paths[0])
        return Selection(kind="run", title=f"Run {bundle.report.run_id}", runs=[bundle])
    if len(paths) == 1 and SWEEP_MANIFEST.exists(paths[0]):
        return _select_sweep(paths[0])
    runs, skipped = [], []
    for root in paths:
        for run_dir in find_run_dirs(root):
            try:
                runs.append(load_bundle(run_dir))
            except CorruptRun as exc:
                skipped.append(exc.render())
    if not runs:
        raise UserError(
            "no readable run directories found",
            file=", ".join(str(p) for p in paths),
            fix="give run directories (holding report.json) or folders that contain them",
        )
    runs.sort(key=_sort_key)
    return Selection(
        kind="comparison", title=f"Comparison of {len(runs)} runs", runs=runs, skipped=skipped
    )


def _select_sweep(sweep_dir: Path) -> Selection:
    manifest = SWEEP_MANIFEST.read(sweep_dir)
    runs, skipped = [], []
    for point in manifest.points:
        run_dir = sweep_dir / point.run_dir
        if point.status != "done" or not is_run_dir(run_dir):
            continue
        try:
            runs.append(load_bundle(run_dir))
        except CorruptRun as exc:
            skipped.append(exc.render())
    if not runs:
        raise UserError(
            "the sweep has no finished, readable points yet",
            file=SWEEP_MANIFEST.path(sweep_dir),
            fix="render it after at least one point is done",
        )
    return Selection(
        kind="sweep",
        title=f"Sweep {manifest.sweep_id}",
        runs=runs,
        sweep=manifest,
        sweep_dir=sweep_dir,
        skipped=skipped,
    )
