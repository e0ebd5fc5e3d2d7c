"""Work that can wait for the event loop's spare moments, a slice at a time.

A closed loop against a server that keeps exact time finishes hundreds of requests in the
same few milliseconds (their streams stay in step). Building each one's record and
handing it on (a request log line, a worker's message) costs tens of µs; done at once,
a burst of them holds the loop for tens of ms, and every read that arrives meanwhile is
stamped that much late: TTFTs and ITLs measured wrong. So a finished request is queued
here, its successor is sent at once, and the queue is worked off in slices of about
`SLICE_NS` per loop iteration: between two slices the loop polls the sockets again
(asyncio and uvloop run only the callbacks that were ready when an iteration began), so
no read waits behind more than one slice. A slice always takes at least 1/`DRAIN_SHARE`
of the queue: when the client is overloaded there are no spare moments, and the work must
still keep pace (an unbounded backlog was a 3.5 s stall at the end of a C=1024 rehearsal).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from typing import Any

SLICE_NS = 300_000  # 0.3 ms of deferred work per loop iteration (one item over), unless
DRAIN_SHARE = 8  # the queue is long: then at least 1/8 of it, so it never grows unbounded

_pc = time.perf_counter_ns


class Later:
    """Items handed to `run` in order, a slice of time at a time; `flush()` runs the rest."""

    def __init__(self, run: Callable[[Any], None]) -> None:
        """`run(item)` is called for each item added, in order, never twice."""
        self.run = run
        self.queue: deque[Any] = deque()
        self.handle: asyncio.Handle | None = None

    def add(self, item: Any) -> None:
        self.queue.append(item)
        if self.handle is None:
            self.handle = asyncio.get_running_loop().call_soon(self._slice)

    def _slice(self) -> None:
        """At least 1/DRAIN_SHARE of the queue (so it shrinks by that share each iteration
        however busy the loop is: under a load the client cannot carry, the backlog stays
        near DRAIN_SHARE iterations' worth instead of growing, to be paid at the phase's
        end), then more while the slice's time lasts."""
        self.handle = None
        queue, run = self.queue, self.run
        end = _pc() + SLICE_NS
        due = -(-len(queue) // DRAIN_SHARE)
        while queue:
            run(queue.popleft())
            due -= 1
            if due <= 0 and _pc() >= end:
                break
        if queue:
            self.handle = asyncio.get_running_loop().call_soon(self._slice)

    def flush(self) -> None:
        """Run every queued item now (a phase ends, or the run stops)."""
        if self.handle is not None:
            self.handle.cancel()
            self.handle = None
        queue, run = self.queue, self.run
        while queue:
            run(queue.popleft())

    def __len__(self) -> int:
        return len(self.queue)
