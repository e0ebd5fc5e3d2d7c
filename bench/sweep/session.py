"""One server for a whole sweep, and running one sweep point on it.

`open_server` starts the managed `vllm serve` once (or checks an endpoint); `run_point`
resets the server's prefix cache (vLLM `POST /reset_prefix_cache`, a dev endpoint the
managed server enables), runs a normal benchmark into the point's run directory and
records the point's progress in the manifest before and after.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from bench.config.run import ConcurrencyLoad, RunConfig
from bench.errors import RunFailed, UserError
from bench.sweep.curve import CurvePoint, point_from_report
from bench.sweep.manifest import (
    SWEEP_MANIFEST,
    ManifestPoint,
    PrefixCacheReset,
    SweepManifest,
    update_point,
)
from bench.sweep.slo import SweepSLO
from bench.units import utc_now

if TYPE_CHECKING:
    from bench.config.plan import RunPlan
    from bench.engines.served import Served


def reset_prefix_cache(
    base_url: str, *, api_key: str | None = None, tries: int = 3, wait_s: float = 1.0
) -> PrefixCacheReset:
    """POST `<base_url>/reset_prefix_cache`; vLLM answers {"success": bool}.

    vLLM refuses (success=false) while blocks are still held, so a refusal is retried
    `tries` times, `wait_s` apart. A 404 means the server offers no reset (vLLM without
    VLLM_SERVER_DEV_MODE=1, or another engine); that is recorded, not raised.
    """
    request = urllib.request.Request(base_url.rstrip("/") + "/reset_prefix_cache", method="POST")
    if api_key:
        request.add_header("Authorization", f"Bearer {api_key}")
    note = None
    for attempt in range(tries):
        try:
            with urllib.request.urlopen(request, timeout=30) as resp:
                status, body = resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            hint = " (server offers no reset endpoint)" if exc.code == 404 else ""
            return PrefixCacheReset(
                attempted=True, ok=False, http_status=exc.code, note=f"HTTP {exc.code}{hint}"
            )
        except (urllib.error.URLError, OSError) as exc:
            return PrefixCacheReset(attempted=True, ok=False, note=f"unreachable: {exc}")
        try:
            success = bool(json.loads(body or b"{}").get("success", True))
        except (json.JSONDecodeError, AttributeError):
            success = True  # 200 with no JSON body: older servers answer that way
        if success:
            return PrefixCacheReset(attempted=True, ok=True, http_status=status, note=note)
        note = f"refused {attempt + 1} time(s) (blocks still held); retried"
        if attempt + 1 < tries:
            time.sleep(wait_s)
    return PrefixCacheReset(attempted=True, ok=False, http_status=200, note=note)


@dataclass
class SweepServer:
    """Where the sweep's points are sent; `fresh` until the first point ran on it."""

    base: RunConfig
    plan: RunPlan
    served: Served
    fresh: bool


@contextmanager
def open_server(
    base: RunConfig, plan: RunPlan, sweep_dir: Path, say: Callable[[str], None]
) -> Iterator[SweepServer]:
    """The sweep's engine, opened once for every point (`bench.engines.serve`): a managed
    server started here (log `sweep_dir/server.log`, its cache empty at first) or a checked
    endpoint.

    Raises:
        UserError: an offline engine (a sweep needs a server) or an unusable endpoint.
        RunFailed: the managed server did not start.
    """
    from bench.engines import serve

    if not base.engine.streams:
        raise UserError(
            "a sweep needs a server: the offline engine has no per-token latency",
            field="engine.kind",
            fix="use engine kind managed or endpoint",
        )
    with serve(plan, sweep_dir / "server.log", say) as served:
        yield SweepServer(base, plan, served, fresh=served.started)


def point_config(
    base: RunConfig, point: ManifestPoint, sweep_dir: Path, per_c: int | None
) -> RunConfig:
    """The run config of one point: the base config at this load, in its own run directory.

    A rate load keeps the base's arrival process; `per_c` sets num_requests = per_c × C.
    """
    if point.load_kind == "concurrency":
        load: object = ConcurrencyLoad(concurrency=int(point.load))
    else:
        load = base.load.model_copy(update={"rate_per_s": float(point.load)})
    update: dict[str, object] = {"load": load, "output_dir": sweep_dir / point.run_dir}
    if per_c is not None and point.load_kind == "concurrency":
        update["num_requests"] = per_c * int(point.load)
    return RunConfig.model_validate({**base.model_dump(), **update})


def _move_aside(run_dir: Path, attempt: int) -> None:
    """A partial run left by an interrupted attempt is kept beside, never overwritten."""
    if run_dir.exists() and any(run_dir.iterdir()):
        run_dir.rename(run_dir.with_name(f"{run_dir.name}.attempt{attempt}"))


def run_point(
    server: SweepServer,
    manifest: SweepManifest,
    point: ManifestPoint,
    sweep_dir: Path,
    *,
    gpus: int,
    slo: SweepSLO | None,
    reset: bool,
    per_c: int | None = None,
) -> tuple[SweepManifest, CurvePoint | None]:
    """Reset the prefix cache, run one point, record it. None when the run failed.

    Raises:
        RunFailed: the server died; the point is left pending so a resume runs it again.
    """
    from bench.runner import run_benchmark

    served = server.served
    if not reset:
        cache = PrefixCacheReset(attempted=False, ok=None, note="resets disabled")
    elif server.fresh:
        cache = PrefixCacheReset(attempted=False, ok=None, note="fresh server: cache empty")
    else:
        assert served.base_url is not None  # open_server refuses the offline engine
        cache = reset_prefix_cache(served.base_url, api_key=served.api_key)
    _move_aside(sweep_dir / point.run_dir, point.attempts)
    manifest = update_point(
        manifest, point.index, status="running", attempts=point.attempts + 1,
        started_utc=utc_now(), finished_utc=None, error=None, prefix_cache_reset=cache,
    )  # fmt: skip
    SWEEP_MANIFEST.write(manifest, sweep_dir)
    config = point_config(server.base, point, sweep_dir, per_c)
    try:
        report = run_benchmark(
            config, base_url=served.base_url, served_model=served.served_model,
            plan=replace(server.plan, config=config), model_path=served.model_path,
            watchdog=served.watchdog, run_id=f"{manifest.sweep_id}-{point.run_dir}",
            placement=served.placement, server_log=served.log_path,
        )  # fmt: skip
    except RunFailed as exc:
        dead = served.watchdog() if served.watchdog else None
        status = "pending" if dead else "failed"
        manifest = update_point(
            manifest, point.index, status=status, finished_utc=utc_now(), error=str(exc)
        )
        SWEEP_MANIFEST.write(manifest, sweep_dir)
        if dead:
            raise RunFailed(
                f"server died during point {point.run_dir}; resume the sweep to continue: {dead}",
                sweep_dir,
            ) from None
        return manifest, None
    server.fresh = False
    curve_point = point_from_report(report, gpus=gpus, run_dir=point.run_dir, slo=slo)
    manifest = update_point(manifest, point.index, status="done", finished_utc=utc_now())
    SWEEP_MANIFEST.write(manifest, sweep_dir)
    return manifest, curve_point
