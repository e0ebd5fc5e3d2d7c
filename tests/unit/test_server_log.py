"""Compilation found in a managed server's log, and whether it fell inside a window."""

from __future__ import annotations

import time
from pathlib import Path

from bench.engines.server_log import (
    compile_lines,
    compile_note,
    inside_window,
    line_wall_s,
    log_size,
)

STARTUP = (
    "(Worker pid=2517) INFO 12-05 01:36:49 [cpu_model_runner.py:87] Warming up model for the "
    "compilation...\n"
    "(Worker pid=2517) INFO 12-05 01:37:14 [decorators.py:743] [backbone] saved AOT compiled "
    "function to /root/.cache/vllm/torch_compile_cache/x\n"
    "(APIServer pid=2478) INFO 12-05 01:37:16 [launcher.py:195] Route: /ping, Methods: GET\n"
)
RUN = (
    "(APIServer pid=2478) INFO 12-05 01:38:00 [loggers.py:259] Engine 000: Avg prompt "
    "throughput: 5399.9 tokens/s\n"
    "(Worker pid=2517) INFO 12-05 01:38:03 [backends.py:398] Compiling a graph for compile "
    "range (2049, 16384) takes 12.41 s\n"
)


def _wall(month: int, day: int, hh: int, mm: int, ss: int) -> int:
    return int(time.mktime((2026, month, day, hh, mm, ss, 0, 0, -1)))


def test_line_stamp_is_local_wall_time_to_the_second() -> None:
    assert line_wall_s(RUN.splitlines()[1], 2026) == _wall(12, 5, 1, 38, 3)
    assert line_wall_s("no stamp here", 2026) is None


def test_only_lines_after_the_offset_are_read(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    log.write_text(STARTUP)
    offset = log_size(log)
    with log.open("a") as fh:
        fh.write(RUN)
    assert [ln.text[:20] for ln in compile_lines(log, 0, year=2026)] == ["(Worker pid=2517) IN"] * 3
    found = compile_lines(log, offset, year=2026)
    assert len(found) == 1 and "compile range (2049, 16384)" in found[0].text
    assert found[0].wall_s == _wall(12, 5, 1, 38, 3)
    assert compile_lines(tmp_path / "missing.log", 0) == []
    assert log_size(tmp_path / "missing.log") == 0


def test_inside_window_counts_a_line_in_the_first_second(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    log.write_text(RUN)
    found = compile_lines(log, 0, year=2026)
    at = _wall(12, 5, 1, 38, 3)
    # the window starts 0.7 s into the line's second: the line may be inside
    assert inside_window(found, at + 0.7, at + 20) == found
    assert inside_window(found, at + 1.0, at + 20) == []  # it was before
    assert inside_window(found, at - 20, at - 0.5) == []  # it was after


def test_compile_note_says_whether_the_window_had_compilation(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    log.write_text(RUN)
    found = compile_lines(log, 0, year=2026)
    at = _wall(12, 5, 1, 38, 3)
    inside = compile_note(found, at - 5, at + 20)
    assert inside is not None and inside.startswith(
        "the server compiled inside the measured window (1 log line(s), first: "
    )
    assert "more --warmup" in inside
    assert compile_note(found, at + 2, at + 20) == (
        "the server compiled during warm-up (1 log line(s)); the measured window came after it"
    )
    assert compile_note([], at, at + 20) is None
