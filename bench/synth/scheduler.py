"""Timer wheel that wakes the event loop once per slot for all chunks due in it.

Thousands of concurrent streams share one wake-up source instead of each sleeping in its
own task: an item due at `t` goes into slot `ceil(t / slot_ns)` and is handed to the
callback when the loop wakes at or after the slot's end, so it is never sent early and at
most one slot (plus wake-up latency) late. Under load a wake-up drains every slot already
past, which batches the work without dropping any.

On Linux the wake-up is a `timerfd` armed at an absolute CLOCK_MONOTONIC time (the clock of
`time.perf_counter_ns`), watched by the loop as a readable fd: nanosecond-precise, whereas
libuv's and asyncio's own timers round to milliseconds. Elsewhere it falls back to
`loop.call_at`.
"""

from __future__ import annotations

import asyncio
import ctypes
import heapq
import os
import sys
import time
from collections.abc import Callable
from typing import Any

_CLOCK_MONOTONIC = 1
_TFD_NONBLOCK = 0o4000
_TFD_CLOEXEC = 0o2000000
_TFD_TIMER_ABSTIME = 1
_PR_SET_TIMERSLACK = 29


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


class _TimerFd:
    """A one-shot timerfd armed at absolute `perf_counter_ns` times; calls `fire` when due."""

    def __init__(self, loop: asyncio.AbstractEventLoop, fire: Callable[[], None]) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        self._settime = libc.timerfd_settime
        self._settime.argtypes = [
            ctypes.c_int,
            ctypes.c_int,
            ctypes.POINTER(_Itimerspec),
            ctypes.c_void_p,
        ]
        # timer slack (default 50 µs) would delay every wake-up of this thread; make it 1 ns
        libc.prctl(_PR_SET_TIMERSLACK, ctypes.c_ulong(1), 0, 0, 0)
        fd = libc.timerfd_create(_CLOCK_MONOTONIC, _TFD_NONBLOCK | _TFD_CLOEXEC)
        if fd < 0:
            raise OSError(ctypes.get_errno(), "timerfd_create failed")
        self.fd = fd
        self._spec = _Itimerspec()
        self._spec_ref = ctypes.byref(self._spec)
        self._loop = loop
        self._fire = fire
        loop.add_reader(fd, self._on_readable)

    def arm_at(self, t_ns: int) -> None:
        value = self._spec.it_value
        value.tv_sec, value.tv_nsec = divmod(max(t_ns, 1), 1_000_000_000)
        if self._settime(self.fd, _TFD_TIMER_ABSTIME, self._spec_ref, None) != 0:
            raise OSError(ctypes.get_errno(), "timerfd_settime failed")

    def _on_readable(self) -> None:
        try:
            os.read(self.fd, 8)
        except BlockingIOError:  # re-armed after it fired but before we read it
            return
        self._fire()

    def close(self) -> None:
        self._loop.remove_reader(self.fd)
        os.close(self.fd)


class _LoopTimer:
    """Fallback: `loop.call_at` (millisecond-granular in libuv); same interface as _TimerFd."""

    def __init__(self, loop: asyncio.AbstractEventLoop, fire: Callable[[], None]) -> None:
        self._loop = loop
        self._fire = fire
        self._handle: asyncio.TimerHandle | None = None

    def arm_at(self, t_ns: int) -> None:
        if self._handle is not None:
            self._handle.cancel()
        delay = max(0.0, (t_ns - time.perf_counter_ns()) / 1e9)
        self._handle = self._loop.call_later(delay, self._fire)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()


def _monotonic_perf_counter() -> bool:
    return time.get_clock_info("perf_counter").implementation == "clock_gettime(CLOCK_MONOTONIC)"


class TimerWheel:
    """Slots of `slot_ns` nanoseconds; `run(items)` is called with each due slot's items.

    `add(item, due_ns)` is O(1) amortised (a list append; a heap push only for a new slot).
    `slots` (slot key `ceil(due_ns / slot_ns)` → items) is public so that a hot loop may
    append to an existing bucket itself, saving a call. The callback may `add` again (the
    next chunk of a stream); an item whose new due time has already passed is delivered in
    the same wake-up.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        slot_ns: int,
        run: Callable[[list[Any]], None],
    ) -> None:
        if slot_ns <= 0:
            raise ValueError("slot_ns must be positive")
        self.slot_ns = slot_ns
        self._run = run
        self.slots: dict[int, list[Any]] = {}
        self._keys: list[int] = []
        self._armed: int | None = None  # slot key the timer is armed for
        self._ticking = False
        self.wakeups = 0
        timer: _TimerFd | _LoopTimer
        if sys.platform == "linux" and _monotonic_perf_counter():
            timer = _TimerFd(loop, self._tick)
        else:
            timer = _LoopTimer(loop, self._tick)
        self._timer = timer

    @property
    def precise(self) -> bool:
        """True when wake-ups come from a timerfd (ns precision), not loop timers (ms)."""
        return isinstance(self._timer, _TimerFd)

    def __len__(self) -> int:
        return sum(len(v) for v in self.slots.values())

    def add(self, item: Any, due_ns: int) -> None:
        key = -(-due_ns // self.slot_ns)
        bucket = self.slots.get(key)
        if bucket is not None:
            bucket.append(item)
            return
        self.slots[key] = [item]
        heapq.heappush(self._keys, key)
        if not self._ticking and (self._armed is None or key < self._armed):
            self._armed = key
            self._timer.arm_at(key * self.slot_ns)

    def _tick(self) -> None:
        self.wakeups += 1
        self._armed = None
        self._ticking = True
        keys, slots, slot_ns = self._keys, self.slots, self.slot_ns
        try:
            now = time.perf_counter_ns()
            while keys and keys[0] * slot_ns <= now:
                items = slots.pop(heapq.heappop(keys))
                self._run(items)
                now = time.perf_counter_ns()
        finally:
            self._ticking = False
        if keys:
            self._armed = keys[0]
            self._timer.arm_at(keys[0] * slot_ns)

    def close(self) -> None:
        self._timer.close()
        self.slots.clear()
        self._keys.clear()
