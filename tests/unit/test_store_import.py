"""Importing run directories: reference or copy, duplicates, conflicts, corrupt runs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bench.store.db import Store
from bench.store.ingest import import_dirs, register_run
from bench.store.query import make_filter
from bench.store.rundir import CorruptRun

FIXTURES = Path(__file__).parents[1] / "fixtures" / "runs_two_skus"
ONE = "20260302T091500Z-h100-sxm-c1"


@pytest.fixture
def fleet(tmp_path: Path) -> Path:
    """A copy of the fixture runs, as if rsynced from other machines."""
    dest = tmp_path / "fleet"
    shutil.copytree(FIXTURES, dest, ignore=shutil.ignore_patterns("*.py"))
    return dest


def _outcomes(results) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    out: dict[str, list[str]] = {}
    for r in results:
        out.setdefault(r.outcome, []).append(r.run_id or Path(r.path).name)
    return out


def test_import_by_reference_then_again_is_unchanged(fleet: Path, tmp_path: Path) -> None:
    db = tmp_path / "s" / "index.sqlite"
    assert len(_outcomes(import_dirs([fleet], db))["added"]) == 6
    assert len(_outcomes(import_dirs([fleet], db))["unchanged"]) == 6
    with Store(db) as s:
        assert s.get_run(ONE).run_dir == str((fleet / ONE).resolve())


def test_corrupt_runs_are_reported_and_skipped(fleet: Path, tmp_path: Path) -> None:
    (fleet / "20260305T101500Z-h200-sxm-c4" / "report.json").write_text('{"schema_version": 1, ')
    bad = json.loads((fleet / ONE / "report.json").read_text())
    del bad["provenance"]
    (fleet / ONE / "report.json").write_text(json.dumps(bad))
    newer = fleet / "newer"
    newer.mkdir()
    (newer / "report.json").write_text(json.dumps({"schema_version": 7, "run_id": "n"}))
    results = import_dirs([fleet], tmp_path / "index.sqlite")
    got = _outcomes(results)
    assert sorted(got["corrupt"]) == sorted(["20260305T101500Z-h200-sxm-c4", ONE, "newer"])
    assert len(got["added"]) == 4
    messages = {Path(r.path).name: r.message for r in results if r.outcome == "corrupt"}
    assert "provenance" in messages[ONE] and "required" in messages[ONE]
    assert "schema_version 7 is newer" in messages["newer"]
    with Store(tmp_path / "index.sqlite") as s:
        assert len(s.list_runs().runs) == 4


def test_same_run_from_two_places_is_a_duplicate(fleet: Path, tmp_path: Path) -> None:
    db = tmp_path / "index.sqlite"
    import_dirs([FIXTURES], db)
    got = _outcomes(import_dirs([fleet / ONE], db))
    assert got == {"duplicate": [ONE]}
    # twice in one import batch: the second is the duplicate
    other = tmp_path / "again"
    shutil.copytree(fleet / ONE, other / ONE)
    got = _outcomes(import_dirs([fleet / ONE, other], tmp_path / "fresh.sqlite"))
    assert got == {"added": [ONE], "duplicate": [ONE]}


def test_different_run_under_a_taken_id_is_a_conflict_unless_replaced(
    fleet: Path, tmp_path: Path
) -> None:
    db = tmp_path / "index.sqlite"
    import_dirs([FIXTURES], db)
    report = json.loads((fleet / ONE / "report.json").read_text())
    report["config"]["hardware"] = "h20"
    (fleet / ONE / "report.json").write_text(json.dumps(report))
    assert _outcomes(import_dirs([fleet / ONE], db)) == {"conflict": [ONE]}
    with Store(db) as s:
        assert s.get_run(ONE).sku == "h100-sxm"
    assert _outcomes(import_dirs([fleet / ONE], db, replace=True)) == {"replaced": [ONE]}
    with Store(db) as s:
        assert s.get_run(ONE).sku == "h20"


def test_import_by_copy_puts_runs_beside_the_store(fleet: Path, tmp_path: Path) -> None:
    db = tmp_path / "store" / "index.sqlite"
    (fleet / ".tmp-import-leftover").mkdir()  # a copy killed earlier: ignored
    got = _outcomes(import_dirs([fleet], db, copy=True))
    assert len(got["added"]) == 6
    copied = tmp_path / "store" / "runs" / ONE
    assert (copied / "requests.jsonl").read_bytes() == (fleet / ONE / "requests.jsonl").read_bytes()
    with Store(db) as s:
        assert s.get_run(ONE).run_dir == str(copied.resolve())
    shutil.rmtree(fleet)  # the source can go away: the store has its own copy
    assert sorted(p.name for p in (tmp_path / "store" / "runs").iterdir())[0] == ONE
    assert not list((tmp_path / "store" / "runs").glob(".tmp-import-*"))


def test_copy_refuses_a_run_id_that_is_not_a_safe_directory_name(
    fleet: Path, tmp_path: Path
) -> None:
    report = json.loads((fleet / ONE / "report.json").read_text())
    report["run_id"] = "../../etc/evil"
    (fleet / ONE / "report.json").write_text(json.dumps(report))
    got = _outcomes(import_dirs([fleet / ONE], tmp_path / "s" / "index.sqlite", copy=True))
    assert got == {"conflict": ["../../etc/evil"]}
    assert not (tmp_path / "etc").exists()


def test_missing_and_empty_paths_are_reported(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    results = import_dirs([tmp_path / "nope", tmp_path / "empty"], tmp_path / "index.sqlite")
    assert [(r.outcome, r.message) for r in results] == [
        ("empty", "not found"),
        ("empty", "no run directories (report.json) under it"),
    ]


def test_register_run_adds_then_updates(fleet: Path, tmp_path: Path) -> None:
    db = tmp_path / "index.sqlite"
    assert register_run(fleet / ONE, db).outcome == "added"
    assert register_run(fleet / ONE, db).outcome == "unchanged"
    report = json.loads((fleet / ONE / "report.json").read_text())
    report["status"] = "partial"
    (fleet / ONE / "report.json").write_text(json.dumps(report))
    assert register_run(fleet / ONE, db).outcome == "updated"
    with Store(db) as s:
        assert s.get_run(ONE).status == "partial"


def test_register_run_raises_for_a_corrupt_run(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "report.json").write_text("not json")
    with pytest.raises(CorruptRun) as err:
        register_run(tmp_path / "run", tmp_path / "index.sqlite")
    assert err.value.file == str(tmp_path / "run" / "report.json")


def make_sweep(root: Path, sweep_id: str = "sweep-h200-001") -> Path:
    """A finished 3-point sweep (the h200 fixture runs as its points) under `root`."""
    from bench.sweep.manifest import SWEEP_MANIFEST, new_manifest, update_point

    sweep_dir = root / sweep_id
    manifest = new_manifest(sweep_id, {"hardware": "h200-sxm"}, "concurrency", [1, 4, 8])
    for i, src in enumerate(sorted(FIXTURES.glob("*h200*"))):
        point = sweep_dir / manifest.points[i].run_dir
        shutil.copytree(src, point)
        report = json.loads((point / "report.json").read_text())
        report["run_id"] = f"{sweep_id}-p{i}"
        (point / "report.json").write_text(json.dumps(report))
        manifest = update_point(manifest, i, status="done")
    SWEEP_MANIFEST.write(manifest, sweep_dir)
    return sweep_dir


def test_sweep_points_are_registered_with_their_sweep(tmp_path: Path) -> None:
    sweep_dir = make_sweep(tmp_path / "in")
    db = tmp_path / "index.sqlite"
    results = import_dirs([tmp_path / "in"], db)
    assert [(r.outcome, r.sweep_id) for r in results] == [("added", "sweep-h200-001")] * 3
    with Store(db) as s:
        (sweep,) = s.list_sweeps()
        assert (sweep.sweep_id, sweep.points, sweep.status, sweep.sku) == (
            "sweep-h200-001",
            3,
            "running",
            "h200-sxm",
        )
        assert sweep.sweep_dir == str(sweep_dir.resolve())
        points = s.list_runs(make_filter(sweep="sweep-h200-001")).runs
        assert [p.load_value for p in points] == [1.0, 4.0, 8.0]
        removed = s.remove_sweep("sweep-h200-001")
        assert removed is not None and len(removed[1]) == 3
        assert s.list_runs().runs == [] and s.list_sweeps() == []


def test_copying_a_sweep_keeps_its_manifest_with_the_points(tmp_path: Path) -> None:
    make_sweep(tmp_path / "in")
    db = tmp_path / "store" / "index.sqlite"
    assert {r.outcome for r in import_dirs([tmp_path / "in"], db, copy=True)} == {"added"}
    copied = tmp_path / "store" / "sweeps" / "sweep-h200-001"
    assert (copied / "sweep.json").is_file()
    assert sorted(p.name for p in copied.iterdir() if p.is_dir()) == [
        "000-concurrency-1-r0",
        "001-concurrency-4-r0",
        "002-concurrency-8-r0",
    ]
    with Store(db) as s:
        assert s.get_sweep("sweep-h200-001").sweep_dir == str(copied.resolve())
        assert s.get_run("sweep-h200-001-p1").run_dir == str(
            (copied / "001-concurrency-4-r0").resolve()
        )


def test_register_run_of_a_sweep_point_registers_the_sweep(tmp_path: Path) -> None:
    sweep_dir = make_sweep(tmp_path)
    db = tmp_path / "index.sqlite"
    outcome = register_run(sweep_dir / "001-concurrency-4-r0", db)
    assert (outcome.outcome, outcome.sweep_id) == ("added", "sweep-h200-001")
    with Store(db) as s:
        assert s.get_sweep("sweep-h200-001").points == 3
        assert s.get_run("sweep-h200-001-p1").sweep_id == "sweep-h200-001"


def test_a_corrupt_manifest_is_reported_and_its_runs_import_plainly(tmp_path: Path) -> None:
    sweep_dir = make_sweep(tmp_path / "in")
    (sweep_dir / "sweep.json").write_text("{ torn")
    results = import_dirs([tmp_path / "in"], tmp_path / "index.sqlite")
    assert [r.outcome for r in results] == ["corrupt", "added", "added", "added"]
    assert results[0].path == str(sweep_dir) and results[1].sweep_id is None
