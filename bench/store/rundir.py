"""Reading one run directory (`report.json` + `requests.jsonl`) for the store and renderers.

A run directory that cannot be read is a `CorruptRun` (a `UserError` naming the file), so a
caller that walks many directories can report it and carry on. The lead's
`bench.report.io` is the one reader when it is present; until then `report.json` is
validated here directly against `Report`.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from pydantic import ValidationError

from bench.config.loading import validation_to_user_error
from bench.errors import UserError
from bench.records import REPORT_SCHEMA_VERSION, Report, RequestRecord

REPORT_FILE = "report.json"
REQUESTS_FILE = "requests.jsonl"


class CorruptRun(UserError):
    """A run directory whose report is missing, unreadable or does not match the schema."""


def is_run_dir(path: Path) -> bool:
    """True when `path` is a directory holding a `report.json`."""
    return (path / REPORT_FILE).is_file()


def report_sha256(run_dir: Path) -> str:
    """SHA-256 (hex) of the run's `report.json` bytes: tells a copy from a different run."""
    return hashlib.sha256((run_dir / REPORT_FILE).read_bytes()).hexdigest()


def read_report(run_dir: Path) -> Report:
    """Load and validate `<run_dir>/report.json`.

    Raises:
        CorruptRun: missing file, invalid JSON, unknown schema version or schema mismatch.
    """
    path = run_dir / REPORT_FILE
    if not path.is_file():
        raise CorruptRun("no report.json", file=run_dir, fix="point at a tokenbench run directory")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorruptRun(
            f"unreadable report: {exc}", file=path, fix="re-run or re-copy this run"
        ) from None
    if not isinstance(data, dict):
        raise CorruptRun("report is not a JSON object", file=path, fix="re-copy this run")
    version = data.get("schema_version")
    if version != REPORT_SCHEMA_VERSION:
        raise CorruptRun(
            f"schema_version {version!r} is not {REPORT_SCHEMA_VERSION}",
            file=path,
            field="schema_version",
            fix="render it with the tokenbench version that wrote it",
        )
    try:
        return Report.model_validate(data)
    except ValidationError as exc:
        err = validation_to_user_error(exc, path)
        raise CorruptRun(err.message, file=path, field=err.field, fix=err.fix) from None


def read_records(run_dir: Path) -> tuple[list[RequestRecord], list[str]]:
    """Per-request records of a run, and a note per line that could not be read.

    A run killed mid-write may end in a torn line; such lines are skipped and named in the
    notes, never fatal. A missing `requests.jsonl` gives no records and one note.
    """
    path = run_dir / REQUESTS_FILE
    if not path.is_file():
        return [], [f"{path}: missing, no per-request data"]
    records: list[RequestRecord] = []
    notes: list[str] = []
    with path.open(encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                records.append(RequestRecord.model_validate_json(line))
            except ValidationError as exc:
                errors = exc.error_count()
                notes.append(f"{path}:{number}: unreadable line skipped ({errors} errors)")
    return records, notes
