"""Registering run directories in the store: one run (from the runner) or many (import).

`register_run` is what `bench run` calls after writing a report. `import_dirs` merges run
directories produced elsewhere (a fleet's results), by reference or by copy, and reports
per directory what happened: added, updated, unchanged, duplicate (the same run already
registered from another place), conflict (a different run under an id already taken),
corrupt (skipped, with the reason) or empty (no runs under the path).
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Literal

from bench.records import Record
from bench.store.db import Store
from bench.store.entry import RunEntry, entry_from_report
from bench.store.rundir import CorruptRun, is_run_dir, read_report, report_sha256

Outcome = Literal[
    "added", "updated", "unchanged", "duplicate", "conflict", "replaced", "corrupt", "empty"
]
COPIES_DIR = "runs"
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
_TMP_PREFIX = ".tmp-import-"


class ImportOutcome(Record):
    """What happened to one directory given to `import_dirs` / `register_run`."""

    path: str
    outcome: Outcome
    run_id: str | None = None
    message: str


def _store(store: Store | str | Path | None) -> tuple[Store, bool]:
    return (store, False) if isinstance(store, Store) else (Store(store), True)


def find_run_dirs(root: Path) -> Iterator[Path]:
    """`root` itself when it is a run directory, else every run directory below it, sorted.

    Does not descend into run directories, hidden directories or unfinished import copies.
    """
    if is_run_dir(root):
        yield root
        return
    for current, dirs, _files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        here = Path(current)
        for name in list(dirs):
            if is_run_dir(here / name):
                dirs.remove(name)
                yield here / name


def _copy_run(source: Path, dest: Path) -> None:
    """Copy a run directory so that `dest` appears whole or not at all (copy, then rename)."""
    tmp = dest.parent / f"{_TMP_PREFIX}{uuid.uuid4().hex}"
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        shutil.copytree(source, tmp)
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _ingest_one(
    store: Store, run_dir: Path, *, copy: bool, replace: bool, taken: dict[str, str]
) -> tuple[ImportOutcome, RunEntry | None]:
    """Decide what to do with one run directory; copies it if asked. Registers nothing."""
    path = str(run_dir)
    try:
        report = read_report(run_dir)
        sha = report_sha256(run_dir)
    except CorruptRun as exc:
        return ImportOutcome(path=path, outcome="corrupt", message=exc.render()), None
    run_id = report.run_id
    if run_id in taken:
        return ImportOutcome(
            path=path,
            outcome="duplicate",
            run_id=run_id,
            message=f"run id {run_id} appears twice in this import (first at {taken[run_id]})",
        ), None
    taken[run_id] = path
    existing = store.get_run(run_id)
    where = run_dir.resolve()
    if copy:
        if not _SAFE_ID.match(run_id):
            return ImportOutcome(
                path=path,
                outcome="conflict",
                run_id=run_id,
                message=f"run id {run_id!r} is not usable as a directory name; import by reference",
            ), None
        where = (store.path.parent / COPIES_DIR / run_id).resolve()
    if existing is not None and existing.run_dir != str(where):
        if existing.report_sha256 == sha:
            return ImportOutcome(
                path=path,
                outcome="duplicate",
                run_id=run_id,
                message=f"same run already registered from {existing.run_dir}",
            ), None
        if not replace:
            return ImportOutcome(
                path=path,
                outcome="conflict",
                run_id=run_id,
                message=f"a different run with id {run_id} is registered from "
                f"{existing.run_dir}; kept it (use --replace to take this one)",
            ), None
    if copy and where != run_dir.resolve():
        if where.exists():
            if is_run_dir(where) and report_sha256(where) == sha:
                pass  # an earlier import copied it already
            elif replace:
                shutil.rmtree(where)
                _copy_run(run_dir, where)
            else:
                return ImportOutcome(
                    path=path,
                    outcome="conflict",
                    run_id=run_id,
                    message=f"{where} exists with other contents (use --replace)",
                ), None
        else:
            _copy_run(run_dir, where)
    entry = entry_from_report(report, where, sha256=sha)
    if existing is None:
        outcome: Outcome = "added"
        message = f"registered {where}"
    elif existing.run_dir != str(where):
        outcome, message = "replaced", f"replaced the entry from {existing.run_dir}"
    elif existing.report_sha256 == sha:
        outcome, message = "unchanged", "already registered"
        entry = entry.model_copy(update={"registered_utc": existing.registered_utc})
    else:
        outcome, message = "updated", "report changed since it was registered; updated"
    return ImportOutcome(path=path, outcome=outcome, run_id=run_id, message=message), entry


def import_dirs(
    paths: Sequence[Path],
    store: Store | str | Path | None = None,
    *,
    copy: bool = False,
    replace: bool = False,
) -> list[ImportOutcome]:
    """Register every run directory under each of `paths`; never raises for a bad run.

    By reference (the entry points at the given directory) or, with `copy`, into
    `<store dir>/runs/<run_id>/` (copied whole, then renamed into place). Entries are
    written in one transaction at the end: an import killed before that adds nothing.
    """
    db, owned = _store(store)
    try:
        outcomes: list[ImportOutcome] = []
        entries: list[RunEntry] = []
        taken: dict[str, str] = {}
        for root in paths:
            found = list(find_run_dirs(root)) if root.is_dir() else []
            if not found:
                why = "no run directories (report.json) under it" if root.is_dir() else "not found"
                outcomes.append(ImportOutcome(path=str(root), outcome="empty", message=why))
            for run_dir in found:
                outcome, entry = _ingest_one(db, run_dir, copy=copy, replace=replace, taken=taken)
                outcomes.append(outcome)
                if entry is not None:
                    entries.append(entry)
        db.put_runs(entries)
        return outcomes
    finally:
        if owned:
            db.close()


def register_run(run_dir: Path, store: Store | str | Path | None = None) -> ImportOutcome:
    """Register (or re-register) one run directory by reference; called after a run.

    Returns the outcome (added / updated / unchanged, or duplicate / conflict when the id
    is already registered from elsewhere — the existing entry is kept).

    Raises:
        CorruptRun: the directory has no readable, valid report.json.
    """
    db, owned = _store(store)
    try:
        outcome, entry = _ingest_one(db, Path(run_dir), copy=False, replace=False, taken={})
        if outcome.outcome == "corrupt":
            read_report(Path(run_dir))  # raises the CorruptRun with its file and field
        if entry is not None:
            db.put_runs([entry])
        return outcome
    finally:
        if owned:
            db.close()
