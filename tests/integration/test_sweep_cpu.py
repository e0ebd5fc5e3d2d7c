"""Sweeps end to end on the real vLLM CPU server with the embedded tiny model."""

from __future__ import annotations

import pytest

from bench.config.run import ConcurrencyLoad, RunConfig
from bench.report.io import load_report
from bench.sweep.manifest import SWEEP_MANIFEST, update_point
from bench.sweep.run import SweepSpec, run_slo_search, run_sweep
from bench.sweep.show import load_sweep_report
from bench.sweep.slo import SLOBound, SweepSLO
from bench.sweep.slo_search import SearchSettings

pytestmark = pytest.mark.slow


def base(out, engine: dict, requests: int = 12, output_tokens: int = 16) -> RunConfig:
    return RunConfig.model_validate(
        {
            "model": "tiny-llama",
            "workload": {"kind": "shape", "input_tokens": 32, "output_tokens": output_tokens},
            "load": {"kind": "concurrency", "concurrency": 1},
            "engine": engine,
            "num_requests": requests,
            "output_dir": str(out),
        }
    )


def endpoint(shared_vllm) -> dict:
    server = shared_vllm.get()
    return {"kind": "endpoint", "url": server.base_url, "served_model": "tiny-llama"}


def test_managed_sweep_three_points_on_one_server_start(tmp_path):
    out = tmp_path / "sweep"
    spec = SweepSpec(loads=[1, 2, 4], stop_on_saturation=False, requests_per_concurrency=8)
    report = run_sweep(base(out, {"kind": "managed"}), spec, out)

    manifest = SWEEP_MANIFEST.read(out)
    assert manifest.status == "complete" and manifest.server_starts == 1
    assert [p.status for p in manifest.points] == ["done"] * 3
    resets = [p.prefix_cache_reset for p in manifest.points]
    assert resets[0].attempted is False  # a fresh server has an empty cache
    assert [(r.attempted, r.ok, r.http_status) for r in resets[1:]] == [(True, True, 200)] * 2
    assert (out / "server.log").read_text().count("Resetting prefix cache") == 2

    for p, c in zip(manifest.points, (1, 2, 4), strict=True):
        run = load_report(out / p.run_dir)
        assert run.config.load == ConcurrencyLoad(concurrency=c)
        assert run.summary.requests_ok == 8 * c and run.summary.requests_failed == 0
    assert [p.load for p in report.points] == [1, 2, 4] and report.gpus == 1
    seen = [(p.total_tok_per_s_per_gpu, p.interactivity_tok_per_s) for p in report.points]
    assert all(t > 0 and i and i > 0 for t, i in seen), seen
    # the front is monotone: interactivity up, throughput per GPU down
    xs = [p.interactivity_tok_per_s for p in report.front]
    ys = [p.total_tok_per_s_per_gpu for p in report.front]
    assert xs == sorted(xs) and ys == sorted(ys, reverse=True) and len(report.front) >= 1
    assert (report.prefix_cache_resets_ok, report.server_starts) == (2, 1)
    assert load_sweep_report(out) == report


def test_resume_after_interruption_redoes_only_the_unfinished_point(shared_vllm, tmp_path):
    out = tmp_path / "sweep"
    cfg = base(out, endpoint(shared_vllm))
    spec = SweepSpec(loads=[1, 2, 3], stop_on_saturation=False)
    run_sweep(cfg, spec, out)
    first = SWEEP_MANIFEST.read(out)
    kept = {p.run_dir: (out / p.run_dir / "report.json").stat().st_mtime_ns for p in first.points}
    # the sweep "died" while running point 2: its manifest says so
    SWEEP_MANIFEST.write(
        update_point(first, 2, status="running").model_copy(update={"status": "running"}), out
    )

    report = run_sweep(cfg, spec, out, resume=True)
    manifest = SWEEP_MANIFEST.read(out)
    assert manifest.status == "complete" and [p.attempts for p in manifest.points] == [1, 1, 2]
    for p in manifest.points[:2]:  # untouched
        assert (out / p.run_dir / "report.json").stat().st_mtime_ns == kept[p.run_dir]
    redone = manifest.points[2]
    assert (out / redone.run_dir / "report.json").stat().st_mtime_ns != kept[redone.run_dir]
    assert (out / f"{redone.run_dir}.attempt1" / "report.json").is_file()  # kept, not overwritten
    assert all(p.prefix_cache_reset.ok for p in manifest.points)  # endpoint: reset every point
    assert [p.load for p in report.points] == [1, 2, 3] and manifest.server_starts == 0


def test_slo_search_on_the_cpu_server(shared_vllm, tmp_path):
    engine = endpoint(shared_vllm)
    # saturation stops off: on a shared CPU throughput can dip between points
    settings = SearchSettings(start_load=1, max_load=4, tolerance=0.5, saturation_gain=None)

    impossible = SweepSLO(bounds=[SLOBound(metric="interactivity_tok_per_s", limit=1e6)])
    out = tmp_path / "impossible"
    r = run_slo_search(base(out, engine), impossible, settings, out)
    assert r.search.status == "not_reached" and r.search.runs == 1
    assert r.search.best_load is None and (out / "search.json").is_file()

    loose = SweepSLO(bounds=[SLOBound(metric="e2e_s", stat="p90", limit=600.0)])
    out = tmp_path / "loose"
    r = run_slo_search(base(out, engine), loose, settings, out)
    assert [p.load for p in r.search.probes] == [1, 2, 4]
    assert (r.search.best_load, r.search.stop_reason) == (4, "max_load")
    assert [p.status for p in SWEEP_MANIFEST.read(out).points] == ["done"] * 3
