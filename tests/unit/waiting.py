"""Deadline polling for tests that wait on another thread or process: wait for the thing
itself, up to a generous deadline, never for a fixed time that a busy machine overruns."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

DEADLINE_S = 30.0


def wait_until(condition: Callable[[], object], what: str, timeout_s: float = DEADLINE_S) -> None:
    """Return as soon as `condition()` is true; AssertionError naming `what` at the deadline."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_s:g} s: {what}")
        time.sleep(0.005)


async def await_until(
    condition: Callable[[], object], what: str, timeout_s: float = DEADLINE_S
) -> None:
    """`wait_until` inside an event loop: polls without blocking it."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_s:g} s: {what}")
        await asyncio.sleep(0.005)
