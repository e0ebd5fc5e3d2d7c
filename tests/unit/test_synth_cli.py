"""`bench synth serve` as a user runs it: a process that prints its port, stops on SIGINT."""

from __future__ import annotations

import json
import select
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from typer.testing import CliRunner

from bench.synth.cli import app
from bench.synth.records import read_records

_RUN_APP = "from bench.synth.cli import app; app()"


def test_serve_prints_port_records_and_summarises(tmp_path: Path):
    record = tmp_path / "rec.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-c", _RUN_APP, "serve", "--port", "0", "--ttft-ms", "1",
         "--itl-ms", "1", "--tokens-per-chunk", "2", "--record", str(record)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        assert select.select([proc.stdout], [], [], 30)[0], "no start-up line"
        first = proc.stdout.readline()
        assert first.startswith("synth server listening on http://127.0.0.1:")
        url = first.split()[-1]
        request = urllib.request.Request(
            url + "/v1/completions",
            data=json.dumps({"prompt": "a b", "max_tokens": 5, "stream": True}).encode(),
        )
        with urllib.request.urlopen(request, timeout=10) as resp:
            body = resp.read().decode()
        assert body.count("data: ") == 4  # 3 chunks of 2, 2, 1 tokens, then [DONE]
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0
    assert "served 1 requests, 3 chunks; lateness p50" in out
    (rec,) = read_records(record)
    assert rec.chunk_tokens == [2, 2, 1] and rec.completion_tokens == 5


def test_serve_with_several_processes_merges_their_records(tmp_path: Path):
    """`--processes 2`: one port, two server processes; Ctrl-C stops both and the record
    file and the summary cover the requests either one served."""
    record = tmp_path / "rec.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-c", _RUN_APP, "serve", "--port", "0", "--ttft-ms", "1",
         "--itl-ms", "1", "--processes", "2", "--record", str(record)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        assert select.select([proc.stdout], [], [], 60)[0], "no start-up line"
        url = proc.stdout.readline().split()[-1]
        assert "2 processes" in proc.stdout.readline()
        for _ in range(6):  # a new connection each: the kernel spreads them
            request = urllib.request.Request(
                url + "/v1/completions",
                data=json.dumps({"prompt": "a", "max_tokens": 3, "stream": True}).encode(),
            )
            with urllib.request.urlopen(request, timeout=10) as resp:
                assert resp.read().decode().count("data: ") == 4
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert "served 6 requests, 18 chunks; lateness p50" in out
    assert len(read_records(record)) == 6


def test_bad_option_names_the_option():
    result = CliRunner().invoke(app, ["serve", "--itl-ms", "-1"])
    assert result.exit_code == 1
    assert result.exception is not None
    assert getattr(result.exception, "field", None) == "--itl-ms"
