"""What a managed vLLM server's log says happened during a run: compilation in particular.

vLLM compiles its model graph for a range of batch sizes while it warms up, before /health
answers; a batch outside the compiled ranges (a longer prompt, a larger batch) makes it
compile again when that batch first runs. Such work inside a measured window is not the
engine's speed, so the run says so. vLLM's log lines look like

    (EngineCore pid=2505) INFO 12-05 01:37:14 [decorators.py:743] [backbone] saved AOT ...

with the local wall-clock time to the second and no year.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

COMPILE_MARKERS = re.compile(
    r"Compiling a graph|Starting torch\.compile|torch\.compile takes|compiled graph|"
    r"Warming up model for the compilation|saved AOT compiled|Dynamo bytecode transform",
    re.IGNORECASE,
)
_STAMP = re.compile(r"\b(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)\b")
MAX_SCAN_BYTES = 8 * 1024 * 1024  # a run's share of a log; more is not read


@dataclass(frozen=True)
class LogLine:
    """One log line and its wall-clock time (Unix seconds, whole), when it carries one."""

    wall_s: int | None
    text: str


def log_size(path: Path) -> int:
    """Bytes in the log now (0 when it does not exist): where a run's lines will start."""
    try:
        return path.stat().st_size
    except OSError:
        return 0


def line_wall_s(text: str, year: int) -> int | None:
    """The Unix time of a vLLM log line's `MM-DD HH:MM:SS` stamp (local time), or None."""
    m = _STAMP.search(text)
    if m is None:
        return None
    month, day, hour, minute, second = (int(g) for g in m.groups())
    try:
        return int(time.mktime((year, month, day, hour, minute, second, 0, 0, -1)))
    except (OverflowError, ValueError):
        return None


def compile_lines(path: Path, offset: int, *, year: int | None = None) -> list[LogLine]:
    """Lines about compilation written to `path` after byte `offset` (at most
    MAX_SCAN_BYTES of them are read; an unreadable log gives none)."""
    year = year or time.localtime().tm_year
    try:
        with path.open("rb") as fh:
            fh.seek(offset)
            data = fh.read(MAX_SCAN_BYTES)
    except OSError:
        return []
    out = []
    for raw in data.decode("utf-8", "replace").splitlines():
        if COMPILE_MARKERS.search(raw):
            out.append(LogLine(line_wall_s(raw, year), raw.strip()[:300]))
    return out


def compile_note(lines: list[LogLine], start_wall_s: float, end_wall_s: float) -> str | None:
    """What a run's report says about compilation its server logged during the run:
    inside the measured window (its figures include compilation), or only before it."""
    if not lines:
        return None
    inside = inside_window(lines, start_wall_s, end_wall_s)
    if inside:
        return (
            f"the server compiled inside the measured window ({len(inside)} log line(s), "
            f"first: {inside[0].text!r}): latency and throughput include compilation, not "
            "only the engine's speed; run again with more --warmup requests"
        )
    return (
        f"the server compiled during warm-up ({len(lines)} log line(s)); the measured "
        "window came after it"
    )


def inside_window(lines: list[LogLine], start_wall_s: float, end_wall_s: float) -> list[LogLine]:
    """The lines that may fall inside [start, end] (wall seconds): a stamp is whole
    seconds, so a line stamped in the window's first second counts; a line without a
    stamp counts too (it cannot be placed outside)."""
    first, last = int(start_wall_s), end_wall_s
    return [ln for ln in lines if ln.wall_s is None or first <= ln.wall_s <= last]
