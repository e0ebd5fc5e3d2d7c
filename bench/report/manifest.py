"""Manifests: the JSON file that says what a set of runs set out to do and how far it got
(a sweep's `sweep.json`, a fleet's `fleet.json`), one implementation for both.

A manifest is one record, rewritten whole and atomically (temp file in the same folder,
fsync, rename) after every change, so a crash leaves the old or the new manifest, never a
torn one; resuming reads it back. What a sweep or a fleet keeps in its manifest, and how it
resumes, stays with the sweep and the fleet.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from bench.report.io import read_json_file, write_atomic
from bench.units import utc_now

M = TypeVar("M", bound=BaseModel)
R = TypeVar("R", bound=BaseModel)


@dataclass(frozen=True)
class ManifestFile(Generic[M]):
    """One kind of manifest: the file `name` in its directory, holding one `model`.

    `what` names it in messages ("sweep manifest"); `fix` says where a valid one comes from.
    """

    name: str
    model: type[M]
    what: str
    fix: str

    def path(self, directory: Path) -> Path:
        return directory / self.name

    def exists(self, directory: Path) -> bool:
        return self.path(directory).is_file()

    def write(self, manifest: M, directory: Path) -> Path:
        """Write `directory/name` atomically (the directory is created if needed)."""
        directory.mkdir(parents=True, exist_ok=True)
        path = self.path(directory)
        write_atomic(path, manifest.model_dump_json(indent=2))
        return path

    def read(self, directory: Path) -> M:
        """Read `directory/name`.

        Raises:
            UserError: missing, unreadable, not JSON, or not this kind of manifest (the
                file and the field at fault named).
        """
        return read_json_file(
            self.path(directory), self.model, what=self.what, missing=f"no {self.what} here",
            fix=self.fix,
        )  # fmt: skip


def changed(record: R, **changes: Any) -> R:
    """`record` with `changes`, validated again (records are frozen, and `model_copy` would
    take a value of the wrong type silently).

    Raises:
        pydantic.ValidationError: a change of the wrong type (a bug, not a user error).
    """
    return type(record).model_validate({**record.model_dump(), **changes})


def touched(manifest: M, **changes: Any) -> M:
    """The manifest with `changes` and `updated_utc` set to now."""
    return manifest.model_copy(update={**changes, "updated_utc": utc_now()})
