"""`bench runs export`: the run and request frames of `bench.analysis` written as files.

<out>/runs.<fmt>      one row per run      (`load_runs`)
<out>/requests.<fmt>  one row per request  (`load_requests`)

Parquet keeps the nullable dtypes; CSV writes a missing figure as an empty cell. Existing
files are never overwritten.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from bench.analysis.frames import Source, load_requests, load_runs
from bench.errors import UserError
from bench.store.db import RunFilter

ExportFormat = Literal["parquet", "csv"]


def export_frames(
    source: Source, out: Path, fmt: ExportFormat, filters: RunFilter | None = None
) -> list[Path]:
    """Write `runs.<fmt>` and `requests.<fmt>` of `source` into `out`; the paths written.

    Raises:
        UserError: a file of that name already exists in `out` (checked before any work), or
            `source` has no runs.
    """
    targets = [out / f"runs.{fmt}", out / f"requests.{fmt}"]
    existing = [str(t) for t in targets if t.exists()]
    if existing:
        raise UserError(
            f"already exists: {', '.join(existing)}",
            file=out,
            field="--out",
            fix="choose a new --out folder (exports are never overwritten)",
        )
    frames = [load_runs(source, filters), load_requests(source, filters)]
    out.mkdir(parents=True, exist_ok=True)
    for df, path in zip(frames, targets, strict=True):
        if fmt == "parquet":
            df.to_parquet(path, index=False)
        else:
            df.to_csv(path, index=False)
    return targets
