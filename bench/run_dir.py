"""A run's output directory, owned by the run that writes it.

`RunDir.claim` creates the directory if needed and takes an exclusive lock on it (flock on
the directory itself: released by the kernel however the process ends, no lock file left
behind). A second run given the same directory is refused while the first holds it, and
a directory that already holds any of a run's files (from an earlier run, or unrelated
files of those names) is refused too: nothing is ever overwritten. Every refusal is a
`UserError` (exit 2) before any work starts. `write_run` writes the finished run's files,
each whole or not at all.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any

from bench.errors import RunFailed, UserError
from bench.report.io import (
    ENERGY_TRACE,
    REPORT,
    REQUESTS,
    SERVER_LOG,
    SUMMARY,
    RequestLog,
    write_atomic,
    write_report,
)
from bench.report.records import Report

RUN_FILES = (REPORT, REQUESTS, SUMMARY, SERVER_LOG, ENERGY_TRACE)


def _refuse(path: Path, message: str, fix: str) -> UserError:
    return UserError(message, file=path, field="--out", fix=fix)


class RunDir:
    """A run directory locked by this process until `release()` (or the process ends)."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd = fd

    @classmethod
    def claim(cls, path: Path) -> RunDir:
        """Create (if needed), lock and check the run directory `path`.

        Raises:
            UserError: `path` is a file, cannot be created or written, is locked by
                another run, or already holds a run's files.
        """
        if path.exists() and not path.is_dir():
            raise _refuse(path, "the output path is a file, not a directory",
                          "give a directory (new or empty) for the run's results")  # fmt: skip
        try:
            path.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        except OSError as exc:
            raise _refuse(path, f"cannot create the output directory: {exc.strerror}",
                          "choose a directory you can write to") from None  # fmt: skip
        try:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise _refuse(path, "another run is writing to this directory",
                          "give each run its own --out directory") from None  # fmt: skip
        except ImportError:  # pragma: no cover - not POSIX: no lock, the checks remain
            pass
        claimed = cls(path, fd)
        try:
            claimed._check()
        except BaseException:
            claimed.release()
            raise
        return claimed

    def _check(self) -> None:
        present = [name for name in RUN_FILES if (self.path / name).exists()]
        if present:
            problem = f"output directory already holds a run's files: {', '.join(present)}"
            fix = "choose a new output directory; earlier results are never overwritten"
            raise _refuse(self.path, problem, fix)
        try:
            with tempfile.TemporaryFile(dir=self.path):
                pass
        except OSError as exc:
            problem = f"cannot write to the output directory: {exc.strerror}"
            fix = "choose a directory you can write to (and with free space)"
            raise _refuse(self.path, problem, fix) from None

    def release(self) -> None:
        """Give up the lock. Idempotent."""
        if self._fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> RunDir:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def write_run(run_dir: Path, report: Report, trace: Any, log: RequestLog) -> None:
    """The energy trace (when a meter ran), report.json and summary.md, each written
    atomically; then the run goes into the results store.

    Raises:
        RunFailed: a file could not be written (disk full, read-only) or the store could
            not take the run; the request log keeps every record written before.
    """
    from bench.report.summary import render_summary

    try:
        if trace is not None and trace.channels:
            write_atomic(run_dir / ENERGY_TRACE, trace.model_dump_json())
        write_report(run_dir, report)
        write_atomic(run_dir / SUMMARY, render_summary(report))
    except OSError as exc:
        raise RunFailed(
            f"cannot write the run's report ({exc.strerror or exc}); "
            f"{log.written} request records are in {log.path}",
            run_dir,
        ) from None
    register_in_store(run_dir)


def register_in_store(run_dir: Path) -> None:
    """Add the run to the results store ($TOKENBENCH_STORE or reports/index.sqlite).

    Raises:
        RunFailed: the store could not be written; the run directory is whole and
            `bench runs import` can add it later.
    """
    import sqlite3

    from bench.store import register_run

    try:
        register_run(run_dir)
    except (OSError, sqlite3.Error) as exc:
        raise RunFailed(
            f"the run is written, but the results store could not record it ({exc}); "
            f"`bench runs import {run_dir}` adds it later",
            run_dir,
        ) from None
