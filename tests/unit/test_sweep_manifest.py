"""Sweep manifest: atomic writes, resume after an interruption, stop and finish."""

from __future__ import annotations

import json
import os

import pytest

from bench.errors import UserError
from bench.sweep.manifest import (
    SWEEP_MANIFEST,
    PrefixCacheReset,
    check_same_sweep,
    finish_sweep,
    new_manifest,
    prepare_resume,
    remaining,
    stop_sweep,
    update_point,
)

CONFIG = {"model": "tiny-llama", "loads": [1, 2, 4, 8]}


def test_new_manifest_lays_out_loads_and_repeats():
    m = new_manifest("s1", CONFIG, "concurrency", [1, 4], repeats=2)
    expected = [(0, 1, 0), (1, 1, 1), (2, 4, 0), (3, 4, 1)]
    assert [(p.index, p.load, p.repeat) for p in m.points] == expected
    assert [p.run_dir for p in m.points][2] == "002-concurrency-4-r0"
    assert all(p.status == "pending" for p in m.points) and m.status == "running"
    for bad in ([], [1, 1], [0, 2]):
        with pytest.raises(UserError):
            new_manifest("s1", CONFIG, "concurrency", bad)


def test_resume_after_interruption_redoes_only_unfinished_points(tmp_path):
    m = new_manifest("s1", CONFIG, "concurrency", [1, 2, 4, 8])
    reset = PrefixCacheReset(attempted=True, ok=True, http_status=200)
    m = update_point(m, 0, status="done", attempts=1)
    m = update_point(m, 1, status="done", attempts=1, prefix_cache_reset=reset)
    m = update_point(m, 2, status="running", attempts=1)
    SWEEP_MANIFEST.write(m, tmp_path)  # the process dies here, during point 2

    back = SWEEP_MANIFEST.read(tmp_path)
    assert back == m
    resumed = prepare_resume(back)
    todo = remaining(resumed)
    assert [p.index for p in todo] == [2, 3]
    assert resumed.points[2].status == "pending" and "interrupted" in resumed.points[2].error
    assert resumed.points[1].prefix_cache_reset.ok is True
    assert [p.status for p in resumed.points[:2]] == ["done", "done"]


def test_failed_points_are_kept_unless_retried(tmp_path):
    m = new_manifest("s1", CONFIG, "rate", [0.5, 1.0])
    m = update_point(m, 0, status="done")
    m = update_point(m, 1, status="failed", error="server died")
    m = finish_sweep(m)
    assert m.status == "complete" and remaining(prepare_resume(m)) == []
    retried = prepare_resume(m, retry_failed=True)
    assert [p.index for p in remaining(retried)] == [1] and retried.status == "running"


def test_stop_skips_pending_points_and_records_why():
    m = new_manifest("s1", CONFIG, "concurrency", [1, 2, 4])
    m = update_point(m, 0, status="done")
    m = stop_sweep(m, "error rate 0.3 above 0.01 at concurrency 2")
    assert [p.status for p in m.points] == ["done", "skipped", "skipped"]
    assert m.status == "stopped" and m.stop_reason.startswith("error rate")
    assert remaining(prepare_resume(m)) == [] and finish_sweep(m).status == "stopped"


def test_atomic_write_keeps_the_old_manifest_when_the_rename_fails(tmp_path, monkeypatch):
    old = new_manifest("s1", CONFIG, "concurrency", [1, 2])
    SWEEP_MANIFEST.write(old, tmp_path)
    newer = update_point(old, 0, status="done")

    def boom(src, dst):
        raise OSError("disk gone")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        SWEEP_MANIFEST.write(newer, tmp_path)
    assert SWEEP_MANIFEST.read(tmp_path).points[0].status == "pending"  # the old one, whole


def test_read_manifest_errors_name_the_file(tmp_path):
    with pytest.raises(UserError, match="no sweep manifest"):
        SWEEP_MANIFEST.read(tmp_path)
    SWEEP_MANIFEST.path(tmp_path).write_text("{not json")
    with pytest.raises(UserError, match="cannot read"):
        SWEEP_MANIFEST.read(tmp_path)
    SWEEP_MANIFEST.path(tmp_path).write_text(json.dumps({"kind": "sweep", "sweep_id": "x"}))
    with pytest.raises(UserError, match="required field is missing"):
        SWEEP_MANIFEST.read(tmp_path)


def test_resume_refuses_a_different_sweep(tmp_path):
    m = new_manifest("s1", CONFIG, "concurrency", [1, 2, 4, 8])
    check_same_sweep(m, dict(CONFIG), tmp_path)  # same: no error
    with pytest.raises(UserError) as err:
        check_same_sweep(m, {**CONFIG, "model": "other"}, tmp_path)
    assert err.value.field == "config.model"
