"""Registering run directories in the store: one run (from the runner) or many (import).

`register_run` is what `bench run` (and each sweep point) calls after writing a report.
`import_dirs` merges run directories produced elsewhere (a fleet's results), by reference
or by copy, and reports per directory what happened: added, updated, unchanged, duplicate
(the same run already registered from another place), conflict (a different run under an
id already taken), replaced, corrupt (skipped, with the reason) or empty (nothing there).

A run directory whose parent holds a sweep manifest (`sweep.json`) is a point of that
sweep: its entry carries the sweep id and the sweep is registered beside it. Copying a
sweep copies its whole directory, so the manifest stays with its points.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Literal

from bench.errors import UserError
from bench.records import Record
from bench.report.io import REPORT, migrated_note
from bench.store.db import Store
from bench.store.entry import RunEntry, SweepEntry, entry_from_report, utc_text
from bench.store.rundir import (
    CorruptRun,
    is_run_dir,
    read_report,
    read_report_versioned,
    report_sha256,
)
from bench.sweep.manifest import SWEEP_MANIFEST, SweepManifest

Outcome = Literal[
    "added", "updated", "unchanged", "duplicate", "conflict", "replaced", "corrupt", "empty"
]
COPIES_DIR = "runs"
SWEEP_COPIES_DIR = "sweeps"
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
_TMP_PREFIX = ".tmp-import-"


class ImportOutcome(Record):
    """What happened to one directory given to `import_dirs` / `register_run`."""

    path: str
    outcome: Outcome
    run_id: str | None = None
    sweep_id: str | None = None
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


def _no_links(directory: str, names: list[str]) -> list[str]:
    """Names in `directory` that are symbolic links: never followed, never copied (a run
    directory's server.log linking to a system file would copy that file into the store)."""
    return [name for name in names if os.path.islink(os.path.join(directory, name))]


def _copy_tree(source: Path, dest: Path) -> None:
    """Copy a directory so that `dest` appears whole or not at all (copy, then rename);
    symbolic links inside it are left out."""
    tmp = dest.parent / f"{_TMP_PREFIX}{uuid.uuid4().hex}"
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        shutil.copytree(source, tmp, ignore=_no_links)
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _safe_name(text: str) -> bool:
    return bool(_SAFE_ID.match(text))


class _Batch:
    """State of one import: sweeps seen, run ids taken, entries to write at the end."""

    def __init__(self, store: Store, *, copy: bool, replace: bool) -> None:
        self.store, self.copy, self.replace = store, copy, replace
        self.taken: dict[str, str] = {}
        self.manifests: dict[Path, SweepManifest | None] = {}
        self.sweep_dirs: dict[str, Path] = {}
        self.entries: list[RunEntry] = []
        self.outcomes: list[ImportOutcome] = []

    def sweep_of(self, run_dir: Path) -> SweepManifest | None:
        """The manifest of the sweep `run_dir` is a point of (its parent's), or None.

        An unreadable manifest is reported once as corrupt; its runs import as plain runs.
        """
        parent = run_dir.parent
        if parent not in self.manifests:
            manifest = None
            if SWEEP_MANIFEST.exists(parent):
                try:
                    manifest = SWEEP_MANIFEST.read(parent)
                except UserError as exc:
                    self.outcomes.append(
                        ImportOutcome(path=str(parent), outcome="corrupt", message=exc.render())
                    )
            self.manifests[parent] = manifest
        return self.manifests[parent]

    def destination(self, run_dir: Path, run_id: str, sweep: SweepManifest | None) -> Path | str:
        """Where the entry will point: the directory itself, or its copy beside the store.

        Returns a message (str) when a copy cannot be made under a safe name.
        """
        if not self.copy:
            return run_dir.resolve()
        base = self.store.path.parent
        if sweep is not None:
            if not _safe_name(sweep.sweep_id) or not _safe_name(run_dir.name):
                return f"sweep id {sweep.sweep_id!r} is not usable as a directory name"
            return (base / SWEEP_COPIES_DIR / sweep.sweep_id / run_dir.name).resolve()
        if not _safe_name(run_id):
            return f"run id {run_id!r} is not usable as a directory name; import by reference"
        return (base / COPIES_DIR / run_id).resolve()

    def ingest(self, run_dir: Path) -> None:
        """Decide what to do with one run directory; copy it if asked; queue its entry.
        Whatever is wrong with it (unreadable, a link loop, a failed copy) is its outcome
        ("corrupt"): the import goes on with the others."""
        try:
            outcome, entry = self._decide(run_dir)
        except (OSError, UserError, ValueError) as exc:
            message = exc.render() if isinstance(exc, UserError) else f"{type(exc).__name__}: {exc}"
            outcome, entry = ImportOutcome(path=str(run_dir), outcome="corrupt",
                                           message=message[:500]), None  # fmt: skip
        self.outcomes.append(outcome)
        if entry is not None:
            self.entries.append(entry)
            if entry.sweep_id is not None:
                self.sweep_dirs[entry.sweep_id] = Path(entry.run_dir).parent

    def _decide(self, run_dir: Path) -> tuple[ImportOutcome, RunEntry | None]:
        path = str(run_dir)
        if (run_dir / REPORT).is_symlink():
            return ImportOutcome(path=path, outcome="corrupt", message="report.json is a "
                                 "symbolic link; links are never followed"), None  # fmt: skip
        try:
            report, migrated_from = read_report_versioned(run_dir)
            sha = report_sha256(run_dir)
        except CorruptRun as exc:
            return ImportOutcome(path=path, outcome="corrupt", message=exc.render()), None
        run_id = report.run_id
        sweep = self.sweep_of(run_dir)
        sweep_id = sweep.sweep_id if sweep else None
        migrated = migrated_note(migrated_from)

        def result(outcome: Outcome, message: str) -> ImportOutcome:
            return ImportOutcome(
                path=path,
                outcome=outcome,
                run_id=run_id,
                sweep_id=sweep_id,
                message=message + (f"; report {migrated}" if migrated else ""),
            )

        if run_id in self.taken:
            first = self.taken[run_id]
            return result(
                "duplicate", f"run id appears twice in this import (first at {first})"
            ), None
        self.taken[run_id] = path
        where = self.destination(run_dir, run_id, sweep)
        if isinstance(where, str):
            return result("conflict", where), None
        existing = self.store.get_run(run_id)
        if existing is not None and existing.run_dir != str(where):
            if existing.report_sha256 == sha:
                return result(
                    "duplicate", f"same run already registered from {existing.run_dir}"
                ), None
            if not self.replace:
                return result(
                    "conflict",
                    f"a different run with this id is registered from {existing.run_dir}; "
                    "kept it (use --replace to take this one)",
                ), None
        if where != run_dir.resolve():
            problem = self._copy(run_dir, where, sha)
            if problem:
                return result("conflict", problem), None
        entry = entry_from_report(report, where, sha256=sha, sweep_id=sweep_id)
        if existing is None:
            return result("added", f"registered {where}"), entry
        if existing.run_dir != str(where):
            return result("replaced", f"replaced the entry from {existing.run_dir}"), entry
        if existing.report_sha256 == sha and existing.sweep_id == sweep_id:
            kept = entry.model_copy(update={"registered_utc": existing.registered_utc})
            return result("unchanged", "already registered"), kept
        return result("updated", "report changed since it was registered; updated"), entry

    def _copy(self, run_dir: Path, where: Path, sha: str) -> str | None:
        """Copy the run (and, for a sweep point, its manifest); a message if it cannot."""
        if where.exists():
            if is_run_dir(where) and report_sha256(where) == sha:
                return None  # an earlier import copied it already
            if not self.replace:
                return f"{where} exists with other contents (use --replace)"
            shutil.rmtree(where)
        _copy_tree(run_dir, where)
        manifest = SWEEP_MANIFEST.path(run_dir.parent)
        if self.manifests.get(run_dir.parent) is not None and not manifest.is_symlink():
            shutil.copyfile(manifest, SWEEP_MANIFEST.path(where.parent))
        return None

    def sweep_entries(self) -> list[SweepEntry]:
        """Entries for every sweep whose points were registered in this batch."""
        out = []
        for sweep_id, sweep_dir in self.sweep_dirs.items():
            manifest = next(m for m in self.manifests.values() if m and m.sweep_id == sweep_id)
            points = [e for e in self.entries if e.sweep_id == sweep_id]
            out.append(sweep_entry(manifest, sweep_dir, points))
        return out


def sweep_entry(manifest: SweepManifest, sweep_dir: Path, points: Sequence[RunEntry]) -> SweepEntry:
    """The store entry of a sweep: identity from its manifest, SKU/model/workload from a point."""
    first = points[0] if points else None
    return SweepEntry(
        sweep_id=manifest.sweep_id,
        sweep_dir=str(sweep_dir.resolve()),
        created_utc=utc_text(manifest.created_utc),
        sku=first.sku if first else "-",
        model=first.model if first else "-",
        workload=first.workload if first else "-",
        points=sum(1 for p in manifest.points if p.status == "done"),
        status=manifest.status,
        registered_utc=utc_text(),
    )


def import_dirs(
    paths: Sequence[Path],
    store: Store | str | Path | None = None,
    *,
    copy: bool = False,
    replace: bool = False,
) -> list[ImportOutcome]:
    """Register every run directory (and sweep) under each of `paths`; never raises for a
    bad run.

    By reference (the entry points at the given directory) or, with `copy`, into
    `<store dir>/runs/<run_id>/` (sweep points into `<store dir>/sweeps/<sweep_id>/`),
    each copied whole and then renamed into place. Entries are written in one transaction
    at the end: an import killed before that registers nothing.
    """
    db, owned = _store(store)
    try:
        batch = _Batch(db, copy=copy, replace=replace)
        for root in paths:
            found = list(find_run_dirs(root)) if root.is_dir() else []
            if not found:
                why = "no run directories (report.json) under it" if root.is_dir() else "not found"
                batch.outcomes.append(ImportOutcome(path=str(root), outcome="empty", message=why))
            for run_dir in found:
                batch.ingest(run_dir)
        db.put(batch.entries, batch.sweep_entries())
        return batch.outcomes
    finally:
        if owned:
            db.close()


def register_run(run_dir: Path, store: Store | str | Path | None = None) -> ImportOutcome:
    """Register (or re-register) one run directory by reference; called after a run.

    A point of a sweep (its parent holds `sweep.json`) also (re)registers the sweep.
    Returns the outcome (added / updated / unchanged, or duplicate / conflict when the id
    is already registered from elsewhere — the existing entry is kept).

    Raises:
        CorruptRun: the directory has no readable, valid report.json.
    """
    run_dir = Path(run_dir)
    read_report(run_dir)  # raises CorruptRun with its file and field
    db, owned = _store(store)
    try:
        batch = _Batch(db, copy=False, replace=False)
        batch.ingest(run_dir)
        sweeps = batch.sweep_entries()
        db.put(batch.entries, sweeps)
        return batch.outcomes[-1]
    finally:
        if owned:
            db.close()
