"""Reading run directories for the store and renderers, through `bench.report.io`.

A run directory that cannot be read is a `CorruptRun` (a `UserError` naming the file), so a
caller that walks many directories can report it and carry on.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from bench.errors import UserError
from bench.records import RequestRecord
from bench.report.io import REPORT, read_report_file, read_requests
from bench.report.records import Report


class CorruptRun(UserError):
    """A run directory whose report or records are missing, unreadable or invalid."""


def is_run_dir(path: Path) -> bool:
    """True when `path` is a directory holding a `report.json`."""
    return (path / REPORT).is_file()


def report_sha256(run_dir: Path) -> str:
    """SHA-256 (hex) of the run's `report.json` bytes: tells a copy from a different run."""
    return hashlib.sha256((run_dir / REPORT).read_bytes()).hexdigest()


def _corrupt(exc: UserError) -> CorruptRun:
    return CorruptRun(exc.message, file=exc.file, field=exc.field, fix=exc.fix)


def read_report(run_dir: Path) -> Report:
    """The run's validated `Report` (an older schema migrated in memory).

    Raises:
        CorruptRun: missing, unreadable, newer schema, or invalid report.json.
    """
    return read_report_versioned(run_dir)[0]


def read_report_versioned(run_dir: Path) -> tuple[Report, int | None]:
    """The run's `Report` and the schema version it was migrated from (None: current).

    Raises:
        CorruptRun: missing, unreadable, newer schema, or invalid report.json.
    """
    try:
        return read_report_file(Path(run_dir) / REPORT)
    except UserError as exc:
        raise _corrupt(exc) from None


def read_records(run_dir: Path) -> list[RequestRecord]:
    """The run's request records (a torn last line from a crash is skipped).

    Raises:
        CorruptRun: a line other than the last is not a valid record.
    """
    try:
        return read_requests(run_dir)
    except UserError as exc:
        raise _corrupt(exc) from None
