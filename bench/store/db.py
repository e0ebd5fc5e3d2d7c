"""The results store: one SQLite file (stdlib `sqlite3`) indexing run and sweep directories.

Durability: WAL journal, `synchronous=FULL`, and every change in one `BEGIN IMMEDIATE`
transaction, so a process killed mid-write leaves the store as it was before that
change. Columns come from the `RunEntry` / `SweepEntry` fields (one source of truth);
`PRAGMA user_version` records the layout version; an older store is migrated on open
(layout 1: bench.store.migrate; layout 2: the `too_short` column added, unknown for its rows).

Location: an explicit path, else `$TOKENBENCH_STORE`, else `reports/index.sqlite` under the
current directory.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import UnionType
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from bench.errors import UserError
from bench.store.entry import RunEntry, SweepEntry

STORE_ENV = "TOKENBENCH_STORE"
DEFAULT_STORE = Path("reports") / "index.sqlite"
STORE_LAYOUT_VERSION = 3


def store_path(path: str | Path | None = None) -> Path:
    """Where the store lives: `path`, else `$TOKENBENCH_STORE`, else `reports/index.sqlite`."""
    if path is not None and str(path):
        return Path(path)
    env = os.environ.get(STORE_ENV)
    return Path(env) if env else DEFAULT_STORE


def _sql_type(annotation: Any) -> str:
    args = [a for a in get_args(annotation) if a is not type(None)]
    if get_origin(annotation) in (Union, UnionType) and len(args) == 1:
        annotation = args[0]
    return {int: "INTEGER", float: "REAL", bool: "INTEGER"}.get(annotation, "TEXT")


def _columns(model: type[BaseModel], key: str) -> str:
    cols = []
    for name, field in model.model_fields.items():
        required = "NOT NULL" if field.is_required() else ""
        primary = "PRIMARY KEY" if name == key else ""
        cols.append(f"{name} {_sql_type(field.annotation)} {required} {primary}".rstrip())
    return ", ".join(cols)


_SCHEMA = [
    f"CREATE TABLE IF NOT EXISTS runs ({_columns(RunEntry, 'run_id')})",
    f"CREATE TABLE IF NOT EXISTS sweeps ({_columns(SweepEntry, 'sweep_id')})",
    "CREATE INDEX IF NOT EXISTS runs_filter ON runs (sku, model, workload, created_utc)",
    "CREATE INDEX IF NOT EXISTS runs_sweep ON runs (sweep_id)",
]


@dataclass(frozen=True)
class RunFilter:
    """Filters for `Store.list_runs`; each None means "any".

    `sku`, `model`, `workload` match exactly, or as a glob when they contain `*`, `?` or `[`.
    `since_utc` / `until_utc` bound `created_utc` (inclusive / exclusive), as normalised text.
    """

    sku: str | None = None
    model: str | None = None
    workload: str | None = None
    status: str | None = None
    sweep_id: str | None = None
    since_utc: str | None = None
    until_utc: str | None = None

    def where(self) -> tuple[str, list[Any]]:
        """SQL WHERE clause (possibly empty) and its parameters."""
        clauses: list[str] = []
        params: list[Any] = []
        for column in ("sku", "model", "workload", "status", "sweep_id"):
            value = getattr(self, column)
            if value is None:
                continue
            op = "GLOB" if any(ch in value for ch in "*?[") else "="
            clauses.append(f"{column} {op} ?")
            params.append(value)
        if self.since_utc is not None:
            clauses.append("created_utc >= ?")
            params.append(self.since_utc)
        if self.until_utc is not None:
            clauses.append("created_utc < ?")
            params.append(self.until_utc)
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


@dataclass(frozen=True)
class Listing:
    """Rows of a listing, and a note for each row that could not be read (skipped)."""

    runs: list[RunEntry]
    problems: list[str]


class Store:
    """An open results store. Use as a context manager, or call `close()`.

    Raises:
        UserError: the file is not a SQLite database, or was written by a newer layout.
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = store_path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            self._conn.row_factory = sqlite3.Row
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._init_schema()
        except sqlite3.DatabaseError as exc:
            raise UserError(
                f"not a readable results store: {exc}",
                file=self.path,
                fix="point --store (or TOKENBENCH_STORE) at a tokenbench index.sqlite, "
                "or move this file away to start a new store",
            ) from None

    def _init_schema(self) -> None:
        version = self._conn.execute("PRAGMA user_version").fetchone()[0]
        if version > STORE_LAYOUT_VERSION:
            raise UserError(
                f"store layout {version} is newer than this tokenbench ({STORE_LAYOUT_VERSION})",
                file=self.path,
                fix="upgrade tokenbench or use another --store",
            )
        with self.transaction() as conn:
            if version == 1:
                self._migrate_layout_1(conn)  # rebuilt with the current columns
            elif version == 2:  # layout 3 adds the validity verdict (unknown for old rows)
                conn.execute("ALTER TABLE runs ADD COLUMN too_short INTEGER")
            for statement in _SCHEMA:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {STORE_LAYOUT_VERSION}")

    @staticmethod
    def _migrate_layout_1(conn: sqlite3.Connection) -> None:
        """Rebuild the `runs` table of a layout 1 store with layout 2's cost columns
        (bench.store.migrate), inside the caller's transaction."""
        from bench.store.migrate import run_row_v1_to_v2

        rows = [dict(r) for r in conn.execute("SELECT * FROM runs").fetchall()]
        conn.execute("DROP TABLE runs")
        conn.execute(_SCHEMA[0])
        names = list(RunEntry.model_fields)
        conn.executemany(
            f"INSERT INTO runs ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)})",
            [[new.get(n) for n in names] for new in map(run_row_v1_to_v2, rows)],
        )

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: all of it commits, or (on error or kill) none of it."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    # runs -------------------------------------------------------------------------------

    def put(self, runs: Sequence[RunEntry], sweeps: Sequence[SweepEntry] = ()) -> None:
        """Insert or replace run and sweep entries (keyed by id), all in one transaction."""
        if not runs and not sweeps:
            return
        with self.transaction() as conn:
            for model, table, rows in ((RunEntry, "runs", runs), (SweepEntry, "sweeps", sweeps)):
                names = list(model.model_fields)
                conn.executemany(
                    f"INSERT OR REPLACE INTO {table} ({', '.join(names)}) "
                    f"VALUES ({', '.join('?' for _ in names)})",
                    [[getattr(e, n) for n in names] for e in rows],
                )

    def get_run(self, run_id: str) -> RunEntry | None:
        """The entry for `run_id`, or None when it is not registered."""
        row = self._conn.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return RunEntry.model_validate(dict(row)) if row else None

    def list_runs(self, filters: RunFilter | None = None) -> Listing:
        """Registered runs matching `filters`, oldest first; unreadable rows are skipped and
        named in `problems`, never raised."""
        where, params = (filters or RunFilter()).where()
        rows = self._conn.execute(
            f"SELECT * FROM runs{where} ORDER BY created_utc, run_id", params
        ).fetchall()
        runs, problems = [], []
        for row in rows:
            try:
                runs.append(RunEntry.model_validate(dict(row)))
            except ValidationError as exc:
                problems.append(f"run {row['run_id']!r}: unreadable entry skipped ({exc})")
        return Listing(runs=runs, problems=problems)

    def remove_run(self, run_id: str) -> RunEntry | None:
        """Delete the entry (not the files); returns what was removed, or None."""
        with self.transaction() as conn:
            row = conn.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            if row is None:
                return None
            conn.execute("DELETE FROM runs WHERE run_id = ?", (run_id,))
        return RunEntry.model_validate(dict(row))

    # sweeps -----------------------------------------------------------------------------

    def get_sweep(self, sweep_id: str) -> SweepEntry | None:
        """The sweep's entry, or None when it is not registered."""
        row = self._conn.execute("SELECT * FROM sweeps WHERE sweep_id = ?", (sweep_id,)).fetchone()
        return SweepEntry.model_validate(dict(row)) if row else None

    def list_sweeps(self) -> list[SweepEntry]:
        """Registered sweeps, oldest first."""
        rows = self._conn.execute("SELECT * FROM sweeps ORDER BY created_utc, sweep_id")
        return [SweepEntry.model_validate(dict(r)) for r in rows.fetchall()]

    def remove_sweep(self, sweep_id: str) -> tuple[SweepEntry, list[RunEntry]] | None:
        """Delete a sweep's entry and its points' entries (not files); None if unknown."""
        with self.transaction() as conn:
            row = conn.execute("SELECT * FROM sweeps WHERE sweep_id = ?", (sweep_id,)).fetchone()
            if row is None:
                return None
            points = conn.execute("SELECT * FROM runs WHERE sweep_id = ?", (sweep_id,)).fetchall()
            conn.execute("DELETE FROM runs WHERE sweep_id = ?", (sweep_id,))
            conn.execute("DELETE FROM sweeps WHERE sweep_id = ?", (sweep_id,))
        return SweepEntry.model_validate(dict(row)), [
            RunEntry.model_validate(dict(r)) for r in points
        ]
