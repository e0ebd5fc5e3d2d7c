"""The SQLite store: filtered listings, removal, robustness (kill mid-write, bad files)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bench.errors import UserError
from bench.store.db import STORE_ENV, RunFilter, Store, store_path
from bench.store.ingest import import_dirs
from bench.store.query import make_filter

FIXTURES = Path(__file__).parents[1] / "fixtures" / "runs_two_skus"
H100 = [
    "20260302T091500Z-h100-sxm-c1",
    "20260302T101500Z-h100-sxm-c4",
    "20260302T111500Z-h100-sxm-c8",
]
H200 = [
    "20260305T091500Z-h200-sxm-c1",
    "20260305T101500Z-h200-sxm-c4",
    "20260305T111500Z-h200-sxm-c8",
]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    db = Store(tmp_path / "index.sqlite")
    import_dirs([FIXTURES], db)
    yield db
    db.close()


def _ids(db: Store, **filters: str) -> list[str]:
    return [e.run_id for e in db.list_runs(make_filter(**filters)).runs]


def test_filters_on_the_two_sku_fixture_set(store: Store) -> None:
    assert _ids(store) == H100 + H200
    assert _ids(store, sku="h200-sxm") == H200
    assert _ids(store, sku="h1*") == H100
    assert _ids(store, model="meta-llama/*", workload="shape-1024x32") == H100 + H200
    assert _ids(store, model="Qwen/*") == []
    assert _ids(store, since="2026-03-03") == H200
    assert _ids(store, until="2026-03-02") == H100  # the whole day is included
    assert _ids(store, since="2026-03-02T10:00:00Z", until="2026-03-05T10:00:00Z") == [
        H100[1],
        H100[2],
        H200[0],
    ]
    assert _ids(store, sku="h100-sxm", since="2026-03-03") == []


def test_remove_deletes_only_the_entry(store: Store) -> None:
    removed = store.remove_run(H100[0])
    assert removed is not None and removed.run_id == H100[0]
    assert store.get_run(H100[0]) is None
    assert (FIXTURES / H100[0] / "report.json").is_file()
    assert store.remove_run(H100[0]) is None
    assert len(store.list_runs().runs) == 5


def test_unreadable_row_is_skipped_and_named_not_raised(store: Store, tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "index.sqlite") as conn:
        conn.execute("UPDATE runs SET requests_ok = 'many' WHERE run_id = ?", (H200[1],))
    listing = store.list_runs()
    assert [e.run_id for e in listing.runs] == H100 + [H200[0], H200[2]]
    assert len(listing.problems) == 1 and H200[1] in listing.problems[0]


def test_store_location_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(STORE_ENV, raising=False)
    assert store_path() == Path("reports/index.sqlite")
    monkeypatch.setenv(STORE_ENV, str(tmp_path / "env.sqlite"))
    assert store_path() == tmp_path / "env.sqlite"
    assert store_path(tmp_path / "x.sqlite") == tmp_path / "x.sqlite"


def test_a_file_that_is_not_a_store_is_a_user_error(tmp_path: Path) -> None:
    bad = tmp_path / "index.sqlite"
    bad.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(UserError) as err:
        Store(bad)
    assert err.value.file == str(bad) and "--store" in (err.value.fix or "")


def test_a_store_from_a_newer_layout_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(UserError, match="newer"):
        Store(path)


def test_store_uses_wal(store: Store, tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "index.sqlite") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


_WRITER = textwrap.dedent(
    """
    import sys, time
    from bench.store.db import Store
    from bench.store.entry import RunEntry
    db = Store(sys.argv[1])
    entry = db.get_run(sys.argv[2])
    with db.transaction() as conn:
        names = list(RunEntry.model_fields)
        sql = f"INSERT INTO runs ({','.join(names)}) VALUES ({','.join('?' * len(names))})"
        for i in range(5000):
            row = entry.model_copy(update={"run_id": f"half-{i}", "model": "x" * 2000})
            conn.execute(sql, [getattr(row, n) for n in names])
        print("written", flush=True)
        time.sleep(60)
    """
)


def test_store_survives_being_killed_mid_write(store: Store, tmp_path: Path) -> None:
    """5000 rows (~10 MB, spilled to the WAL) inside one open transaction, then SIGKILL:
    the store reopens intact with exactly the six committed runs."""
    path = tmp_path / "index.sqlite"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(path), H100[0]],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "written"
        assert (tmp_path / "index.sqlite-wal").stat().st_size > 1_000_000  # really on disk
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    store.close()
    with Store(path) as again:
        conn = sqlite3.connect(path)
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        conn.close()
        assert [e.run_id for e in again.list_runs(RunFilter()).runs] == H100 + H200
