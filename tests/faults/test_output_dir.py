"""A run owns its output directory: locked, never overwriting, written whole or not at
all; a full disk or an unwritable directory is a clear error that keeps what was recorded."""

from __future__ import annotations

import resource
from pathlib import Path

import pytest
from conftest import bench_cli, endpoint_config

from bench.errors import UserError
from bench.report.io import load_report, read_requests, write_atomic
from bench.run_dir import RunDir
from bench.runner import run_benchmark


def test_a_second_run_on_a_locked_directory_is_refused(fault_server, tmp_path):
    """While one run holds the directory, another given it is refused before any work
    (two runs on one --out used to interleave their records in one requests.jsonl)."""
    server = fault_server()
    out = tmp_path / "run"
    with RunDir.claim(out):
        with pytest.raises(UserError, match="another run is writing to this directory"):
            run_benchmark(endpoint_config(server, out, num_requests=4))
        assert server.stats()["generation_requests"] == 0
    run_benchmark(endpoint_config(server, out, num_requests=4))  # free again
    assert len(read_requests(out)) == 4


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("file", "the output path is a file, not a directory"),
        ("summary", "output directory already holds a run's files: summary.md"),
        ("unwritable", "cannot write to the output directory"),
    ],
)
def test_bad_output_directories_are_refused_untouched(tmp_path, setup, message):
    out = tmp_path / "run"
    if setup == "file":
        out.write_text("my notes")
    elif setup == "summary":
        out.mkdir()
        (out / "summary.md").write_text("my notes")
    else:
        out = Path("/sys/fs")  # exists, and no one may create files there
    with pytest.raises(UserError, match=message) as err:
        RunDir.claim(out)
    assert err.value.field == "--out"
    if setup != "unwritable":
        text = out.read_text() if out.is_file() else (out / "summary.md").read_text()
        assert text == "my notes" and sorted(p.name for p in tmp_path.rglob("*")) in (
            ["run"],
            ["run", "summary.md"],
        )


def test_a_failed_atomic_write_leaves_the_old_file_and_no_temp_file(tmp_path, monkeypatch):
    path = tmp_path / "report.json"
    path.write_text("old")

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("os.replace", broken_replace)
    with pytest.raises(OSError, match="No space left"):
        write_atomic(path, "new")
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]
    assert path.read_text() == "old"


def _file_size_limit(nbytes: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, nbytes))

    return apply


def test_full_disk_mid_run_keeps_the_records_and_reports_partial(fault_server, tmp_path):
    """Files may not grow past 40 kB (writes then fail, as on a full disk): the request
    log stops at the limit, the run ends partial with exit 1, report.json says why,
    every complete line of requests.jsonl reads back, no temporary file is left."""
    server = fault_server()
    out = tmp_path / "run"
    result = bench_cli("run", "--endpoint", server.base_url, "--served-model", "synth",
                       "-n", "400", "--concurrency", "2", "--output-tokens", "6",
                       "--out", str(out), preexec_fn=_file_size_limit(40_000))  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr and "File too large" in result.stderr
    report = load_report(out)
    assert report.status == "partial" and "File too large" in report.failure
    on_disk = read_requests(out)
    assert 20 < len(on_disk) < 400 and all(r.status == "ok" for r in on_disk)
    s = report.summary
    assert s.requests_planned == 400 == s.requests_total + s.requests_never_sent
    assert not [p.name for p in out.iterdir() if p.name.endswith(".tmp")]


def test_a_report_that_cannot_be_written_is_a_clear_error(fault_server, tmp_path):
    """Room for the request log (4 records) but not for report.json: exit 1 naming the
    cause and where the records are, the records kept, no temporary file left."""
    server = fault_server()
    out = tmp_path / "run"
    result = bench_cli("run", "--endpoint", server.base_url, "--served-model", "synth",
                       "-n", "4", "--warmup", "0", "--concurrency", "2", "--output-tokens",
                       "6", "--out", str(out), preexec_fn=_file_size_limit(6_000))  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert "cannot write the run's report (File too large); 4 request records are in" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr
    assert len(read_requests(out)) == 4
    assert sorted(p.name for p in out.iterdir()) == ["requests.jsonl"]
