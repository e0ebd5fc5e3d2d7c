"""`bench sweep`: a ladder of load points (or an SLO search) on one server start.

RunConfig + SweepSpec ─► plan (model, hardware, GPUs) ─► manifest (new, or resumed)
    ─► one server ─► per point: reset prefix cache, normal run dir, manifest rewritten
    ─► per level: mean over repeats, stop on error rate / saturation
    ─► SweepReport (curve.json): points, levels with CIs, Pareto front
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import Field, JsonValue, model_validator

from bench.catalog import gpus_from_engine_args
from bench.config.loading import StrictConfig
from bench.config.run import LoadKind, RunConfig
from bench.errors import UserError
from bench.records import Record
from bench.sweep.curve import (
    CurvePoint,
    pareto_front,
    point_from_report,
)
from bench.sweep.manifest import (
    SWEEP_MANIFEST,
    SweepManifest,
    append_point,
    check_same_sweep,
    finish_sweep,
    new_manifest,
    prepare_resume,
    remaining,
    stop_sweep,
)
from bench.sweep.repeat import RepeatedPoint, summarize_repeats
from bench.sweep.slo import SweepSLO
from bench.sweep.slo_search import ProbeFailed, SearchResult, SearchSettings, is_saturated
from bench.units import utc_now

CURVE_NAME = "curve.json"
SEARCH_NAME = "search.json"


class SweepSpec(StrictConfig):
    """The ladder: ascending load levels (concurrency or rate, as the base run's load kind).

    Escalation stops when a level's error rate exceeds `max_error_rate` or, with
    `stop_on_saturation`, when its throughput grew less than `saturation_gain` while E2E
    latency grew. `requests_per_concurrency` k runs k × C requests at concurrency C.
    """

    loads: list[float] = Field(min_length=1)
    repeats: int = Field(default=1, ge=1)
    slo: SweepSLO | None = None
    requests_per_concurrency: int | None = Field(default=None, ge=1)
    reset_prefix_cache: bool = True
    max_error_rate: float = Field(default=0.05, ge=0, le=1)
    stop_on_saturation: bool = True
    saturation_gain: float = Field(default=0.05, ge=0)
    confidence: float = Field(default=0.95, gt=0, lt=1)
    cv_threshold: float = Field(default=0.05, gt=0)

    @model_validator(mode="after")
    def _ascending(self) -> SweepSpec:
        if any(x <= 0 for x in self.loads):
            raise ValueError("load levels must be > 0")
        if any(b <= a for a, b in zip(self.loads, self.loads[1:], strict=False)):
            raise ValueError("load levels must be strictly increasing")
        return self


class SweepReport(Record):
    """A sweep's curve: every measured run, one level per load (mean ± CI), the Pareto front
    of the levels (throughput per GPU vs p50 interactivity), and how the sweep went."""

    schema_version: int = 1
    kind: Literal["sweep_report"] = "sweep_report"
    sweep_id: str
    status: str
    stop_reason: str | None
    load_kind: LoadKind
    gpus: int
    server_starts: int
    prefix_cache_resets_ok: int
    prefix_cache_resets_failed: int
    points: list[CurvePoint]
    levels: list[RepeatedPoint]
    front: list[CurvePoint]
    failed_runs: list[str]
    search: SearchResult | None = None


def escalation_stop(prev: CurvePoint | None, cur: CurvePoint, spec: SweepSpec) -> str | None:
    """Why not to go to a higher load after level `cur` (None: keep going)."""
    where = f"{cur.load_kind} {cur.load:g}"
    if cur.error_rate > spec.max_error_rate:
        return (
            f"error rate {cur.error_rate:.1%} above the limit {spec.max_error_rate:.1%} at {where}"
        )
    if spec.stop_on_saturation and prev and is_saturated(prev, cur, spec.saturation_gain):
        return (
            f"saturated at {where}: throughput per GPU {prev.total_tok_per_s_per_gpu:.1f} → "
            f"{cur.total_tok_per_s_per_gpu:.1f} tok/s (< +{spec.saturation_gain:.0%}) while "
            f"E2E p50 grew {prev.e2e_s.p50 or 0:.3f} → {cur.e2e_s.p50 or 0:.3f} s"
        )
    return None


def _identity(base: RunConfig, **extra: JsonValue) -> dict[str, JsonValue]:
    run: JsonValue = base.model_dump(mode="json", exclude={"output_dir"})
    return {"run": run, **extra}


def _open_manifest(
    sweep_dir: Path,
    config: dict[str, JsonValue],
    resume: bool,
    fresh: Callable[[], SweepManifest],
) -> SweepManifest:
    exists = SWEEP_MANIFEST.exists(sweep_dir)
    if resume and exists:
        manifest = SWEEP_MANIFEST.read(sweep_dir)
        check_same_sweep(manifest, config, sweep_dir)
        return prepare_resume(manifest)
    if resume:
        raise UserError("nothing to resume", file=sweep_dir, fix="start the sweep without --resume")
    if exists or (sweep_dir.exists() and any(sweep_dir.iterdir())):
        raise UserError(
            "the sweep folder is not empty",
            file=sweep_dir,
            fix="resume it with --resume, or choose a new folder (results are never overwritten)",
        )
    manifest = fresh()
    SWEEP_MANIFEST.write(manifest, sweep_dir)
    return manifest


def _sweep_id() -> str:
    return f"sweep-{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def _done_points(
    manifest: SweepManifest, sweep_dir: Path, gpus: int, slo: SweepSLO | None
) -> dict[int, CurvePoint]:
    from bench.report.io import load_report

    return {
        p.index: point_from_report(
            load_report(sweep_dir / p.run_dir), gpus=gpus, run_dir=p.run_dir, slo=slo
        )
        for p in manifest.points
        if p.status == "done"
    }


def _level(points: list[CurvePoint], spec: SweepSpec) -> RepeatedPoint:
    return summarize_repeats(points, confidence=spec.confidence, cv_threshold=spec.cv_threshold)


def run_sweep(
    base: RunConfig,
    spec: SweepSpec,
    sweep_dir: Path,
    *,
    resume: bool = False,
    say: Callable[[str], None] = lambda _m: None,
) -> SweepReport:
    """Run (or resume) the ladder on one server start and write `sweep_dir/curve.json`.

    Raises:
        UserError: bad config, non-empty folder without resume, or a different sweep there.
        RunFailed: the server did not start or died (the manifest says where to resume).
    """
    from bench.config.plan import plan_run
    from bench.sweep.session import open_server, run_point

    plan = plan_run(base)
    gpus = base.gpus or gpus_from_engine_args(plan.engine_args)
    kind: LoadKind = base.load.kind
    if kind == "concurrency" and any(x != int(x) for x in spec.loads):
        raise UserError("concurrency levels must be whole numbers", field="loads")
    config = _identity(base, sweep=spec.model_dump(mode="json"))
    manifest = _open_manifest(
        sweep_dir, config, resume,
        lambda: new_manifest(_sweep_id(), config, kind, spec.loads, spec.repeats),
    )  # fmt: skip
    done = _done_points(manifest, sweep_dir, gpus, spec.slo)
    if remaining(manifest):
        with open_server(base, plan, sweep_dir, say) as server:
            starts = manifest.server_starts + int(server.served.started)
            manifest = manifest.model_copy(update={"server_starts": starts})
            SWEEP_MANIFEST.write(manifest, sweep_dir)
            prev = _last_level(manifest, done, spec)
            for todo in remaining(manifest):
                manifest, point = run_point(
                    server, manifest, todo, sweep_dir, gpus=gpus, slo=spec.slo,
                    reset=spec.reset_prefix_cache, per_c=spec.requests_per_concurrency,
                )  # fmt: skip
                if point is not None:
                    done[todo.index] = point
                say(_progress(todo.run_dir, point))
                reason, prev = _after_level(manifest, done, todo.load, prev, spec)
                if reason:
                    manifest = stop_sweep(manifest, reason)
                    SWEEP_MANIFEST.write(manifest, sweep_dir)
                    say(f"stopping: {reason}")
                    break
    manifest = finish_sweep(manifest)
    SWEEP_MANIFEST.write(manifest, sweep_dir)
    return _write_curve(manifest, done, sweep_dir, gpus, kind, spec)


def _after_level(
    manifest: SweepManifest,
    done: dict[int, CurvePoint],
    load: float,
    prev: CurvePoint | None,
    spec: SweepSpec,
) -> tuple[str | None, CurvePoint | None]:
    """After a point: (why to stop escalating or None, the new baseline level).

    Judged once every repeat of the level has run, on the level's mean point.
    """
    if any(p.load == load for p in remaining(manifest)):
        return None, prev  # more repeats of this level to run
    points = [done[p.index] for p in manifest.points if p.load == load and p.index in done]
    if not points:
        return f"every run at {manifest.points[0].load_kind} {load:g} failed", prev
    cur = _level(points, spec).mean_point
    return escalation_stop(prev, cur, spec), cur


def _last_level(
    manifest: SweepManifest, done: dict[int, CurvePoint], spec: SweepSpec
) -> CurvePoint | None:
    """The highest fully finished level before resuming (the baseline for saturation)."""
    pending = {p.load for p in remaining(manifest)}
    loads = sorted({done[i].load for i in done if done[i].load not in pending})
    if not loads:
        return None
    pts = [pt for pt in done.values() if pt.load == loads[-1]]
    return _level(pts, spec).mean_point


def _progress(run_dir: str, point: CurvePoint | None) -> str:
    if point is None:
        return f"{run_dir}: failed"
    inter = point.interactivity_tok_per_s
    return (
        f"{run_dir}: {point.total_tok_per_s_per_gpu:.1f} tok/s/GPU, {inter:.1f} tok/s/user"
        if inter
        else f"{run_dir}: no TPOT measured"
    )


def _write_curve(
    manifest: SweepManifest,
    done: dict[int, CurvePoint],
    sweep_dir: Path,
    gpus: int,
    kind: LoadKind,
    spec: SweepSpec | None,
    search: SearchResult | None = None,
) -> SweepReport:
    from bench.report.io import write_atomic

    points = [done[i] for i in sorted(done)]
    loads = sorted({p.load for p in points})
    confidence = spec.confidence if spec else 0.95
    cv = spec.cv_threshold if spec else 0.05
    levels = [
        summarize_repeats(
            [p for p in points if p.load == x], confidence=confidence, cv_threshold=cv
        )
        for x in loads
    ]
    resets = [p.prefix_cache_reset for p in manifest.points if p.prefix_cache_reset]
    report = SweepReport(
        sweep_id=manifest.sweep_id,
        status=manifest.status,
        stop_reason=manifest.stop_reason,
        load_kind=kind,
        gpus=gpus,
        server_starts=manifest.server_starts,
        prefix_cache_resets_ok=sum(1 for r in resets if r.ok),
        prefix_cache_resets_failed=sum(1 for r in resets if r.attempted and not r.ok),
        points=points,
        levels=levels,
        front=pareto_front([lv.mean_point for lv in levels]),
        failed_runs=[p.run_dir for p in manifest.points if p.status == "failed"],
        search=search,
    )
    write_atomic(sweep_dir / CURVE_NAME, report.model_dump_json(indent=2))
    return report


def run_slo_search(
    base: RunConfig,
    slo: SweepSLO,
    settings: SearchSettings,
    sweep_dir: Path,
    *,
    resume: bool = False,
    reset_prefix_cache: bool = True,
    say: Callable[[str], None] = lambda _m: None,
) -> SweepReport:
    """Search the highest load meeting `slo` on one server start; every probe is a run dir.

    Resuming replays the (deterministic) search: loads already measured are read back from
    their run directories instead of being run again. Writes curve.json and search.json.
    """
    from bench.config.plan import plan_run
    from bench.report.io import write_atomic
    from bench.sweep.session import SweepServer, open_server, run_point
    from bench.sweep.slo_search import search_max_load

    plan = plan_run(base)
    gpus = base.gpus or gpus_from_engine_args(plan.engine_args)
    kind: LoadKind = base.load.kind
    if (kind == "concurrency") != settings.integer:
        raise UserError(
            "concurrency loads need integer search steps, rates continuous ones",
            field="search.integer",
            fix=f"set integer to {kind == 'concurrency'}",
        )
    config = _identity(
        base, search={"slo": slo.model_dump(mode="json"), **settings.model_dump(mode="json")}
    )
    now = utc_now()
    state = {
        "manifest": _open_manifest(
            sweep_dir,
            config,
            resume,
            lambda: SweepManifest(
                sweep_id=_sweep_id(), created_utc=now, updated_utc=now, config=config, points=[]
            ),
        )  # fmt: skip
    }
    done = _done_points(state["manifest"], sweep_dir, gpus, slo)
    by_load = {pt.load: pt for pt in done.values()}
    stack = ExitStack()
    servers: list[SweepServer] = []

    def measure(load: float) -> CurvePoint:
        if load in by_load:
            return by_load[load]
        manifest = state["manifest"]
        if not servers:
            servers.append(stack.enter_context(open_server(base, plan, sweep_dir, say)))
            starts = manifest.server_starts + int(servers[0].served.started)
            manifest = manifest.model_copy(update={"server_starts": starts})
        pending = [p for p in remaining(manifest) if p.load == load]
        manifest, todo = (manifest, pending[0]) if pending else append_point(manifest, kind, load)
        manifest, point = run_point(
            servers[0], manifest, todo, sweep_dir, gpus=gpus, slo=slo, reset=reset_prefix_cache
        )
        state["manifest"] = manifest
        say(_progress(todo.run_dir, point))
        if point is None:
            raise ProbeFailed(manifest.points[todo.index].error or "run failed")
        done[todo.index] = by_load[load] = point
        return point

    with stack:
        result = search_max_load(measure, slo, settings)
    manifest = finish_sweep(state["manifest"].model_copy(update={"stop_reason": result.note}))
    SWEEP_MANIFEST.write(manifest, sweep_dir)
    write_atomic(sweep_dir / SEARCH_NAME, result.model_dump_json(indent=2))
    return _write_curve(manifest, done, sweep_dir, gpus, kind, None, search=result)
