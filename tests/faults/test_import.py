"""`bench runs import` reads, never writes, the directories it is given; never follows a
symbolic link out of a run directory; a corrupt or looping run directory is reported and
the import goes on with the others."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from bench.store.ingest import import_dirs

FIXTURE = Path(__file__).parents[1] / "fixtures" / "v1" / "runs" / "l40s" / "probe-decode"


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(root)): (p.lstat().st_size, p.lstat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
    }


def test_import_skips_links_and_bad_run_dirs_and_goes_on(tmp_path):
    src = tmp_path / "from-node"
    good = src / "good"
    shutil.copytree(FIXTURE, good)
    secret = tmp_path / "secret.txt"
    secret.write_text("a system file")
    os.symlink(secret, good / "server.log")  # links out of the run directory
    corrupt = src / "corrupt"
    corrupt.mkdir()
    (corrupt / "report.json").write_text("{")
    looping = src / "looping"
    looping.mkdir()
    os.symlink("report.json", looping / "report.json")  # a link to itself
    before = _snapshot(src)

    store = tmp_path / "store" / "index.sqlite"
    outcomes = {Path(o.path).name: o for o in import_dirs([src], store, copy=True)}

    assert set(outcomes) == {"good", "corrupt"}  # the looping one is no run directory
    assert outcomes["good"].outcome == "added"
    assert outcomes["corrupt"].outcome == "corrupt"
    assert "cannot read the report" in outcomes["corrupt"].message
    copied = [p for p in (tmp_path / "store").rglob("*") if p.is_file()]
    assert {p.name for p in copied} >= {"report.json", "requests.jsonl", "index.sqlite"}
    assert "server.log" not in {p.name for p in copied}
    assert all(p.read_bytes() != b"a system file" for p in copied)
    assert _snapshot(src) == before  # nothing written where it read
    assert not [p for p in (tmp_path / "store").rglob(".tmp-import-*")]


def test_a_run_whose_report_is_a_link_is_not_followed(tmp_path):
    src = tmp_path / "linked"
    src.mkdir()
    os.symlink(FIXTURE / "report.json", src / "report.json")
    (outcome,) = import_dirs([src], tmp_path / "index.sqlite", copy=True)
    assert outcome.outcome == "corrupt"
    assert outcome.message == "report.json is a symbolic link; links are never followed"
