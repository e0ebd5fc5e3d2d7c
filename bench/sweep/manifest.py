"""The sweep manifest: what a sweep set out to measure, what is done, and why it stopped.

`<sweep_dir>/sweep.json` (`SWEEP_MANIFEST`, a `bench.report.manifest.ManifestFile`) is
rewritten atomically after every point. It lives with the sweep's run directories and is read
back by the results store and the renderers, which sit below the sweep: this module imports
nothing of the sweep's machinery. Resume reads it back: finished points are kept, a point
that was running when the sweep died is run again, skipped points (after an escalation
stop) stay skipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import JsonValue

from bench.config.run import LoadKind
from bench.errors import UserError
from bench.records import Record
from bench.report.manifest import ManifestFile, changed, touched
from bench.units import utc_now

MANIFEST_SCHEMA_VERSION = 1
PointStatus = Literal["pending", "running", "done", "failed", "skipped"]


class PrefixCacheReset(Record):
    """The prefix-cache reset made before a point, so one point does not warm the next.

    `ok` is None when no reset was attempted (first point on a fresh server, or the server
    offers none); `http_status` and `note` say what the server answered.
    """

    attempted: bool
    ok: bool | None
    http_status: int | None = None
    note: str | None = None


class ManifestPoint(Record):
    """One run of the sweep: a load level and repeat, its status and run directory.

    `run_dir` is relative to the sweep directory.
    """

    index: int
    load_kind: LoadKind
    load: float
    repeat: int = 0
    status: PointStatus = "pending"
    run_dir: str
    attempts: int = 0
    started_utc: str | None = None
    finished_utc: str | None = None
    error: str | None = None
    prefix_cache_reset: PrefixCacheReset | None = None


class SweepManifest(Record):
    """A sweep's plan and progress.

    `config` is what resume must match: the run config (output folder aside) and the sweep's
    settings, as their JSON. It is a fingerprint compared whole (`check_same_sweep` names
    the first differing key), never read field by field, so it stays JSON here; the typed
    records it comes from are RunConfig and the sweep/search specs.
    """

    schema_version: int = MANIFEST_SCHEMA_VERSION
    kind: Literal["sweep"] = "sweep"
    sweep_id: str
    status: Literal["running", "complete", "stopped"] = "running"
    created_utc: str
    updated_utc: str
    config: dict[str, JsonValue]
    points: list[ManifestPoint]
    server_starts: int = 0
    stop_reason: str | None = None


SWEEP_MANIFEST = ManifestFile(
    "sweep.json", SweepManifest, what="sweep manifest", fix="give the folder of an earlier sweep"
)


def point_dir_name(index: int, load_kind: LoadKind, load: float, repeat: int) -> str:
    """Run directory name of a point, e.g. `002-concurrency-4-r0`."""
    return f"{index:03d}-{load_kind}-{load:g}-r{repeat}"


def new_manifest(
    sweep_id: str,
    config: dict[str, JsonValue],
    load_kind: LoadKind,
    loads: Sequence[float],
    repeats: int = 1,
) -> SweepManifest:
    """A fresh manifest: every load × repeat pending, in the order given (repeats adjacent).

    Raises:
        UserError: no loads, a load ≤ 0, a repeated load, or repeats < 1.
    """
    if not loads:
        raise UserError("no load levels", field="loads", fix="give at least one load level")
    if any(not x > 0 for x in loads) or len(set(loads)) != len(loads):
        raise UserError(
            f"load levels must be > 0 and distinct, got {list(loads)}",
            field="loads",
            fix="list each load level once, each above 0",
        )
    if repeats < 1:
        raise UserError(f"repeats must be ≥ 1, got {repeats}", field="repeats")
    points: list[ManifestPoint] = []
    for load in loads:
        for r in range(repeats):
            i = len(points)
            name = point_dir_name(i, load_kind, float(load), r)
            points.append(
                ManifestPoint(index=i, load_kind=load_kind, load=load, repeat=r, run_dir=name)
            )
    now = utc_now()
    return SweepManifest(
        sweep_id=sweep_id, created_utc=now, updated_utc=now, config=config, points=points
    )


def append_point(
    manifest: SweepManifest, load_kind: LoadKind, load: float, repeat: int = 0
) -> tuple[SweepManifest, ManifestPoint]:
    """The manifest with one more pending point (searches add points as they go)."""
    i = len(manifest.points)
    point = ManifestPoint(
        index=i,
        load_kind=load_kind,
        load=load,
        repeat=repeat,
        run_dir=point_dir_name(i, load_kind, float(load), repeat),
    )
    return touched(manifest, points=[*manifest.points, point]), point


def update_point(manifest: SweepManifest, index: int, **changes: Any) -> SweepManifest:
    """The manifest with point `index` changed (validated) and `updated_utc` refreshed."""
    points = list(manifest.points)
    points[index] = changed(points[index], **changes)
    return touched(manifest, points=points)


def prepare_resume(manifest: SweepManifest, *, retry_failed: bool = False) -> SweepManifest:
    """Ready an interrupted manifest for resuming.

    A point left "running" (the sweep died during it) becomes "pending" with an error note;
    with `retry_failed` failed points become pending too. Done and skipped points stay.
    """
    out = manifest
    for p in manifest.points:
        if p.status == "running":
            out = update_point(out, p.index, status="pending", error="interrupted; run again")
        elif p.status == "failed" and retry_failed:
            out = update_point(out, p.index, status="pending")
    if out.status == "complete" and any(p.status == "pending" for p in out.points):
        out = out.model_copy(update={"status": "running"})
    return out


def remaining(manifest: SweepManifest) -> list[ManifestPoint]:
    """Points still to run, in order: pending ones (after `prepare_resume`, incl. interrupted)."""
    return [p for p in manifest.points if p.status in ("pending", "running")]


def stop_sweep(manifest: SweepManifest, reason: str) -> SweepManifest:
    """Stop escalating: pending points become "skipped", the reason is recorded."""
    points = [
        p.model_copy(update={"status": "skipped"}) if p.status == "pending" else p
        for p in manifest.points
    ]
    return touched(manifest, points=points, status="stopped", stop_reason=reason)


def finish_sweep(manifest: SweepManifest) -> SweepManifest:
    """Mark the sweep complete when no point is left to run (a stopped sweep stays stopped)."""
    if remaining(manifest) or manifest.status == "stopped":
        return manifest
    return touched(manifest, status="complete")


def check_same_sweep(
    manifest: SweepManifest, config: dict[str, JsonValue], sweep_dir: Path
) -> None:
    """Resume only the sweep that was started there (`config` as JSON-mode data).

    Raises:
        UserError: the manifest's config differs from `config`, naming the first field.
    """
    if manifest.config == config:
        return
    keys = sorted(set(manifest.config) | set(config))
    first = next(k for k in keys if manifest.config.get(k) != config.get(k))
    raise UserError(
        "this sweep folder holds a sweep with a different configuration",
        file=SWEEP_MANIFEST.path(sweep_dir),
        field=f"config.{first}",
        fix="resume with the same settings, or write the new sweep to a new folder",
    )
