"""Read and write a run directory.

<run>/report.json      the Report (schema_version'd), written atomically
<run>/requests.jsonl   one RequestRecord per line, appended and flushed as each completes
<run>/summary.md       rendered from report.json alone
<run>/server.log       the managed server's log
<run>/energy_trace.json  the meters' samples, when any meter ran

Every file but the request log is written whole or not at all (`write_atomic`).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from pathlib import Path
from typing import IO, Any, TypeVar

from pydantic import BaseModel, ValidationError

from bench.config.loading import read_text, validation_to_user_error
from bench.errors import UserError
from bench.records import RequestRecord
from bench.report.records import REPORT_SCHEMA_VERSION, Report

REPORT = "report.json"
REQUESTS = "requests.jsonl"
SUMMARY = "summary.md"
SERVER_LOG = "server.log"
ENERGY_TRACE = "energy_trace.json"


def write_atomic(path: Path, text: str) -> None:
    """Write via a temporary file in the same directory and rename it over `path`, so a
    crash never leaves half a file; a write that fails (disk full, interrupted) removes
    the temporary file and leaves `path` as it was.

    Raises:
        OSError: the file could not be written.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


M = TypeVar("M", bound=BaseModel)


def read_json_file(path: Path, model: type[M], *, what: str, missing: str, fix: str) -> M:
    """One JSON document of `model` (a manifest, a curve) from `path`.

    Raises:
        UserError: `missing` (with `fix`) when there is no such file; "cannot read the
            `what`" when it is unreadable or not JSON; the field at fault when invalid.
    """
    if not path.is_file():
        raise UserError(missing, file=path, fix=fix)
    data = parse_json(path, what)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_to_user_error(exc, path) from None


def parse_json(path: Path, what: str) -> Any:
    """The JSON document in `path` (UTF-8, within `read_text`'s size limit).

    Raises:
        UserError: unreadable, not UTF-8, not JSON, or nested too deeply to parse.
    """
    text = read_text(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"cannot read the {what}: {exc}", file=path) from None
    except RecursionError:
        raise UserError(f"cannot read the {what}: nested too deeply", file=path,
                        fix="give a file written by tokenbench") from None  # fmt: skip


def write_report(run_dir: Path, report: Report) -> Path:
    path = run_dir / REPORT
    write_atomic(path, report.model_dump_json(indent=2))
    return path


class RequestLog:
    """Appends records to requests.jsonl, flushing each line as it is written.

    Every record appended is kept in `records`, written or not. The first write that fails
    (disk full, file system gone read-only) raises an OSError naming the file; the log then
    stops writing (`error` says why) and keeps later records in memory only, so the file
    holds every record up to the failure (at most a torn last line, which readers skip).
    """

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / REQUESTS
        self._fh: IO[str] = self.path.open("a", encoding="utf-8")
        self.records: list[RequestRecord] = []
        self.written = 0
        self.error: str | None = None

    def append(self, record: RequestRecord) -> None:
        """Raises:
        OSError: this record could not be written (the first such failure only)."""
        self.records.append(record)
        if self.error is not None:
            return
        try:
            self._fh.write(record.model_dump_json() + "\n")
            self._fh.flush()
        except OSError as exc:
            self.error = f"cannot write {self.path}: {exc.strerror or exc}"
            raise OSError(exc.errno, self.error) from exc
        self.written += 1

    def close(self) -> None:
        try:
            self._fh.close()
        except OSError as exc:  # the last buffered bytes could not be flushed
            self.error = self.error or f"cannot write {self.path}: {exc.strerror or exc}"


def load_report(run_dir: Path) -> Report:
    """Read `<run_dir>/report.json`, migrating an older schema in memory (file unchanged).

    Raises:
        UserError: missing, unreadable, from a newer or unknown schema, or invalid.
    """
    return read_report_file(Path(run_dir) / REPORT)[0]


def migrated_note(from_version: int | None) -> str | None:
    """What a reader prints for a report migrated on read (None when it was current)."""
    if from_version is None:
        return None
    return f"migrated from schema v{from_version} on read (report.json left unchanged)"


def read_report_file(path: Path) -> tuple[Report, int | None]:
    """The report at `path` and the schema version it was migrated from (None if current).

    Raises:
        UserError: missing, unreadable, from a newer or unknown schema, or invalid.
    """
    from bench.report.migrate import migrate

    if not path.is_file():
        raise UserError(
            "no report.json here", file=path.parent, fix="give a run directory made by `bench run`"
        )
    data = parse_json(path, "report")
    version = data.get("schema_version") if isinstance(data, dict) else None
    if not isinstance(data, dict) or not isinstance(version, int) or version < 1:
        raise UserError(
            f"not a tokenbench report: schema_version is {version!r}",
            file=path,
            field="schema_version",
            fix="give a report.json written by `bench run`",
        )
    if version > REPORT_SCHEMA_VERSION:
        raise UserError(
            f"report schema_version {version} is newer than this tokenbench reads "
            f"({REPORT_SCHEMA_VERSION})",
            file=path,
            field="schema_version",
            fix="upgrade tokenbench",
        )
    if version < REPORT_SCHEMA_VERSION:
        data = migrate(data, version, REPORT_SCHEMA_VERSION)
    try:
        report = Report.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise UserError(
            f"invalid report: {first['msg']}",
            file=path,
            field=".".join(str(p) for p in first["loc"]),
        ) from None
    return report, (version if version < REPORT_SCHEMA_VERSION else None)


def read_requests(run_dir: Path) -> list[RequestRecord]:
    """Read requests.jsonl; a torn last line (crash mid-write) is skipped, others must parse.

    Raises:
        UserError: a line other than the last does not parse (names the line).
    """
    path = Path(run_dir) / REQUESTS
    if not path.is_file():
        return []
    lines = read_text(path, max_bytes=2**36).splitlines()
    out = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            out.append(RequestRecord.model_validate_json(line))
        except ValidationError as exc:
            if number == len(lines):
                break  # torn final line of an interrupted run
            raise UserError(
                f"line {number} is not a valid request record: {exc.errors()[0]['msg']}",
                file=path,
            ) from None
    return out
