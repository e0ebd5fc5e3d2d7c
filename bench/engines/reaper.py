"""A process group that dies with its owner, however the owner dies.

A managed server runs in a process group of its own (vLLM starts several processes).
`bench` tears it down on any exit it sees, but SIGKILL (or the OOM killer) cannot be
seen: the server would outlive it, holding its accelerator memory and port. So a
`GroupReaper` starts a tiny separate process holding the read end of a pipe whose write
end only the owner holds. However the owner exits, the kernel closes that end; the reaper
reads end-of-file and kills the group: SIGTERM, then SIGKILL after `grace_s`. A clean
teardown calls `release()` first, which writes one byte: the reaper then exits without
touching the group. The reaper has its own session, so a signal to the owner's terminal
or process group does not reach it.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys

_REAPER = r"""
import os, signal, sys, time
pgid, grace = int(sys.argv[1]), float(sys.argv[2])
if os.read(0, 1):
    sys.exit(0)
def alive():
    try:
        os.killpg(pgid, 0)
        return True
    except (ProcessLookupError, PermissionError):
        return False
if alive():
    os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    if alive():
        os.killpg(pgid, signal.SIGKILL)
"""


class GroupReaper:
    """Kills process group `pgid` when this process exits without `release()`."""

    def __init__(self, pgid: int, grace_s: float = 15.0) -> None:
        read_end, self._write_end = os.pipe()  # neither end is inherited by other children
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", _REAPER, str(pgid), str(grace_s)],
                stdin=read_end,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        finally:
            os.close(read_end)

    def release(self) -> None:
        """The owner has torn the group down itself: let the reaper go. Idempotent."""
        if self._write_end < 0:
            return
        with contextlib.suppress(OSError):
            os.write(self._write_end, b"x")
        os.close(self._write_end)
        self._write_end = -1
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)
