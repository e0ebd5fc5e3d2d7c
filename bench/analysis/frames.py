"""Stored runs as tidy DataFrames: one row per run, one row per request.

Columns carry their unit in the name (`ttft_p50_s`, `output_tok_per_s_per_gpu`,
`cost_usd_per_m_output_tokens`, `energy_j_per_output_token`); money is in USD, with each
run's display currency and rate beside it (`cost_display_currency`, `cost_display_per_usd`).
A figure a run does not have (not measured, no cost) is missing (`pd.NA` in a nullable
column), never 0 and never NaN.

The run columns are the results store's `RunEntry` (the same flattening `bench runs list`
uses) plus the figures below; request columns are `RequestRecord`'s scalar fields plus the
run's identity and the canonical per-request latencies (bench.metrics.latency).

Sources: a run directory, a folder holding run directories (a sweep, a fleet's results),
a results store (a `Store` or the path of its `.sqlite` file: its registered runs, filtered
by `filters`), or a list of those. Unreadable run directories are skipped and named in
`df.attrs["skipped"]`; runs read from an older report schema are named in
`df.attrs["migrated"]`.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias, Union

from bench.errors import UserError
from bench.records import RequestRecord
from bench.report.records import Report
from bench.store.db import RunFilter, Store
from bench.store.entry import RunEntry, entry_from_report
from bench.store.ingest import find_run_dirs
from bench.store.rundir import CorruptRun, read_records, read_report_versioned, report_sha256

if TYPE_CHECKING:
    import pandas as pd

Source: TypeAlias = str | Path | Store | Sequence[str | Path]
Loaded: TypeAlias = list[tuple[Path, Report, list[RequestRecord]]]

STORE_SUFFIXES = (".sqlite", ".sqlite3", ".db")

_ENTRY_ONLY = ("report_sha256", "registered_utc")
"""RunEntry fields that describe the store's bookkeeping, not the run."""

RUN_EXTRA_COLUMNS: dict[str, str] = {
    "request_per_s": "Float64",
    "input_tok_per_s": "Float64",
    "input_tok_per_s_per_gpu": "Float64",
    "ttft_p90_s": "Float64",
    "tpot_p90_s": "Float64",
    "itl_p50_s": "Float64",
    "e2e_p90_s": "Float64",
    "energy_avg_power_w": "Float64",
    "cost_basis": "string",
    "gpu_hour_cost_usd": "Float64",
    "effective_gpu_hour_cost_usd": "Float64",
}
"""Figures of a run beyond its store entry, with their pandas dtypes."""

REQUEST_ID_COLUMNS: dict[str, str] = {
    "run_id": "string",
    "sku": "string",
    "model": "string",
    "workload": "string",
    "load_kind": "string",
    "load_value": "Float64",
}
REQUEST_DERIVED_COLUMNS: dict[str, str] = {
    "chunks": "Int64",
    "ttft_s": "Float64",
    "tpot_s": "Float64",
    "e2e_s": "Float64",
    "interactivity_tok_per_s": "Float64",
}
CHUNK_FIELDS = ("chunk_ns", "chunk_tokens")
"""Per-chunk lists of a request record: not tidy columns (the Parquet dump keeps them)."""


def pandas_dtype(annotation: Any) -> str:
    """The nullable pandas dtype of a record field: Int64, Float64, boolean or string."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (Union, types.UnionType) and len(args) == 1:
        annotation = args[0]
    return {int: "Int64", float: "Float64", bool: "boolean"}.get(annotation, "string")


def _store_path(path: Path) -> bool:
    return path.is_file() and path.suffix in STORE_SUFFIXES


def run_dirs(source: Source, filters: RunFilter | None = None) -> list[Path]:
    """The run directories `source` names (see the module docstring), in order given.

    Raises:
        UserError: a path that does not exist, or a source with no run directory at all.
    """
    if isinstance(source, Store):
        return [Path(e.run_dir) for e in source.list_runs(filters).runs]
    items = [source] if isinstance(source, str | Path) else list(source)
    dirs: list[Path] = []
    for item in items:
        path = Path(item)
        if not path.exists():
            raise UserError("not found", file=path, fix="give run directories or a store file")
        if _store_path(path):
            with Store(path) as store:
                dirs += run_dirs(store, filters)
        else:
            dirs += list(find_run_dirs(path))
    if not dirs:
        raise UserError(
            "no run directories found",
            file=", ".join(str(Path(i)) for i in items),
            fix="give run directories (holding report.json), folders holding them, or a store",
        )
    return dirs


def _sweep_id(run_dir: Path) -> str | None:
    """The id of the sweep `run_dir` is a point of (its parent holds sweep.json), else None."""
    from bench.sweep.manifest import SWEEP_MANIFEST

    if not SWEEP_MANIFEST.exists(run_dir.parent):
        return None
    try:
        return SWEEP_MANIFEST.read(run_dir.parent).sweep_id
    except UserError:
        return None


def run_row(report: Report, run_dir: Path) -> dict[str, Any]:
    """One run's row: its store entry's fields (bookkeeping aside) and `RUN_EXTRA_COLUMNS`."""
    entry = entry_from_report(
        report, run_dir, sha256=report_sha256(run_dir), sweep_id=_sweep_id(run_dir)
    )
    row = entry.model_dump(exclude=set(_ENTRY_ONLY))
    s, cost, energy = report.summary, report.cost, report.energy
    window = (s.steady_state or s.whole_run) if s else None
    gpus = entry.gpus
    primary = energy.total(energy.primary) if energy and energy.primary else None
    row |= {
        "request_per_s": window.request_per_s if window else None,
        "input_tok_per_s": window.input_tok_per_s if window else None,
        "input_tok_per_s_per_gpu": window.input_tok_per_s / gpus if window and gpus else None,
        "ttft_p90_s": s.ttft_s.p90 if s else None,
        "tpot_p90_s": s.tpot_s.p90 if s else None,
        "itl_p50_s": s.itl_s.p50 if s else None,
        "e2e_p90_s": s.e2e_s.p90 if s else None,
        "energy_avg_power_w": primary.avg_power_w if primary and primary.valid else None,
        "cost_basis": cost.cost_basis if cost else None,
        "gpu_hour_cost_usd": cost.gpu_hour_cost_usd if cost else None,
        "effective_gpu_hour_cost_usd": cost.effective_gpu_hour_cost_usd if cost else None,
    }
    return row


def request_row(report: Report, record: RequestRecord) -> dict[str, Any]:
    """One request's row: the run's identity, the record's scalar fields, the chunk count and
    the canonical latencies (TTFT, TPOT, E2E in s; interactivity = 1 / TPOT)."""
    from bench.metrics.latency import e2e_s, tpot_s, ttft_s
    from bench.store.entry import workload_label

    config = report.config
    tpot = tpot_s(record)
    return {
        "run_id": report.run_id,
        "sku": config.hardware,
        "model": config.model,
        "workload": workload_label(report),
        "load_kind": config.load.kind,
        "load_value": config.load.level,
        **record.model_dump(exclude=set(CHUNK_FIELDS)),
        "chunks": len(record.chunk_ns),
        "ttft_s": ttft_s(record),
        "tpot_s": tpot,
        "e2e_s": e2e_s(record),
        "interactivity_tok_per_s": 1.0 / tpot if tpot else None,
    }


def run_columns() -> dict[str, str]:
    """Column name → pandas dtype of `load_runs`' frame, in order."""
    base = {
        name: pandas_dtype(field.annotation)
        for name, field in RunEntry.model_fields.items()
        if name not in _ENTRY_ONLY
    }
    return base | RUN_EXTRA_COLUMNS


def request_columns() -> dict[str, str]:
    """Column name → pandas dtype of `load_requests`' frame, in order."""
    fields = {
        name: pandas_dtype(field.annotation)
        for name, field in RequestRecord.model_fields.items()
        if name not in CHUNK_FIELDS
    }
    return REQUEST_ID_COLUMNS | fields | REQUEST_DERIVED_COLUMNS


def frame(rows: list[dict[str, Any]], columns: dict[str, str]) -> pd.DataFrame:
    """A DataFrame of `rows` with exactly `columns` (nullable dtypes; missing = pd.NA)."""
    import pandas as pd

    df = pd.DataFrame.from_records(rows, columns=list(columns))
    return df.astype(columns)


def _read(
    source: Source, filters: RunFilter | None, records: bool
) -> tuple[Loaded, dict[str, list[str]]]:
    """The readable runs of `source` (with their records when asked) and what was skipped
    or migrated."""
    loaded: Loaded = []
    notes: dict[str, list[str]] = {"skipped": [], "migrated": []}
    for run_dir in run_dirs(source, filters):
        try:
            report, migrated_from = read_report_versioned(run_dir)
            requests = read_records(run_dir) if records else []
        except CorruptRun as exc:
            notes["skipped"].append(exc.render())
            continue
        if migrated_from is not None:
            notes["migrated"].append(f"{run_dir}: schema v{migrated_from}")
        loaded.append((run_dir, report, requests))
    return loaded, notes


def load_runs(source: Source, filters: RunFilter | None = None) -> pd.DataFrame:
    """One row per run of `source` (see the module docstring), columns `run_columns()`.

    Raises:
        UserError: a missing path or no run directory at all (unreadable runs are skipped
            and named in `df.attrs["skipped"]`).
    """
    loaded, notes = _read(source, filters, records=False)
    df = frame([run_row(report, run_dir) for run_dir, report, _ in loaded], run_columns())
    df.attrs.update(notes)
    return df


def load_requests(source: Source, filters: RunFilter | None = None) -> pd.DataFrame:
    """One row per request record (warm-up included, flagged in `warmup`) of every run of
    `source`, columns `request_columns()`.

    Raises:
        UserError: as `load_runs`.
    """
    loaded, notes = _read(source, filters, records=True)
    rows = [request_row(report, r) for _, report, requests in loaded for r in requests]
    df = frame(rows, request_columns())
    df.attrs.update(notes)
    return df
