"""SIGINT, SIGTERM and SIGHUP stop a command the way Ctrl-C does, and say which it was.

`install()` (the CLI calls it first) makes each of them raise `Interrupted(signum)`, a
KeyboardInterrupt, so every `finally` and context manager on the way out runs: a managed
server is torn down, a run writes its partial report. The exit code is 128 + signum
(130, 143, 129). Inside a run's event loop the signals are taken by the loop instead
(`on_loop`), so the load stops between two callbacks, never in the middle of one, and
every request in flight is recorded as cancelled. `deferred()` holds them back while a
report is being written, so a second Ctrl-C cannot leave it half-done.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from bench.errors import Interrupted

if TYPE_CHECKING:
    import asyncio

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def signal_name(signum: int) -> str:
    return signal.Signals(signum).name


def _raise(signum: int, frame: object) -> None:
    raise Interrupted(signum)


def install() -> None:
    """Make SIGINT, SIGTERM and SIGHUP raise `Interrupted` in the main thread (even a
    SIGINT the shell set to be ignored, as it does for background jobs: an explicit
    `kill -INT` should stop a run)."""
    for sig in STOP_SIGNALS:
        signal.signal(sig, _raise)


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def on_loop(loop: asyncio.AbstractEventLoop, callback: Callable[[int], None]) -> Callable[[], None]:
    """Route the stop signals to `callback(signum)` on `loop` (main thread only; elsewhere
    nothing changes). Returns the function that puts the previous handlers back."""
    if not _main_thread():
        return lambda: None
    previous = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, callback, sig)

    def restore() -> None:
        for sig, handler in previous.items():
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(sig)
            signal.signal(sig, handler)

    return restore


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Hold the stop signals back for the duration; the first one that arrived is raised
    (as `Interrupted`) once the block is done. Main thread only; elsewhere a no-op."""
    if not _main_thread():
        yield
        return
    got: list[int] = []
    previous: dict[int, Any] = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}

    def remember(signum: int, frame: object) -> None:
        got.append(signum)

    for sig in STOP_SIGNALS:
        signal.signal(sig, remember)
    try:
        yield
    finally:
        for stop_signal, handler in previous.items():
            signal.signal(stop_signal, handler)
    if got:
        raise Interrupted(got[0])
