"""Keep-alive connections to one origin, and the one timer that times their responses out."""

from __future__ import annotations

import asyncio
import time
from collections import deque

from bench.loadgen.http1 import _IDLE, HttpConnection, Origin

_pc = time.perf_counter_ns
SWEEP_S = 0.25  # how often a pool looks for overdue responses


class ConnectionPool:
    """Keep-alive connections to one origin: reuse an idle one, else open a new one.

    Size follows the caller's concurrency: a connection is only opened when all others are
    busy, and never closed while it can be reused.
    """

    def __init__(self, origin: Origin, *, connect_timeout_s: float = 30.0) -> None:
        self.origin = origin
        self.connect_timeout_s = connect_timeout_s
        self.idle: deque[HttpConnection] = deque()
        self.opened = 0
        self.open: set[HttpConnection] = set()  # every connection not yet closed
        self._sweeper: asyncio.TimerHandle | None = None

    def sweep(self) -> None:
        """Fail every response overdue (`HttpConnection.send`'s deadline) with TimeoutError;
        runs every SWEEP_S while connections are open. One timer for the pool instead of
        one per request: a request times out between its deadline and SWEEP_S later."""
        self._sweeper = None
        now = _pc()
        for conn in list(self.open):
            if conn.closed:
                self.open.discard(conn)
                continue
            waiter = conn.waiter
            if waiter is not None and not waiter.done() and now >= conn.deadline_ns:
                waiter.set_exception(TimeoutError("no response in time"))
        if self.open:
            self._sweeper = asyncio.get_running_loop().call_later(SWEEP_S, self.sweep)

    async def acquire(self, *, fresh: bool = False) -> HttpConnection:
        """An idle connection, or a new one (always a new one with `fresh`).

        Raises:
            OSError / TimeoutError: the connection could not be opened.
        """
        while self.idle and not fresh:
            conn = self.idle.pop()
            if not conn.closed and not conn.transport.is_closing():
                return conn
            conn.abandon()
        loop = asyncio.get_running_loop()
        o = self.origin
        async with asyncio.timeout(self.connect_timeout_s):
            _, conn = await loop.create_connection(
                HttpConnection, o.host, o.port, ssl=o.ssl, server_hostname=o.host if o.ssl else None
            )
        self.opened += 1
        self.open.add(conn)
        if self._sweeper is None:
            self._sweeper = loop.call_later(SWEEP_S, self.sweep)
        return conn

    def release(self, conn: HttpConnection) -> None:
        """Give a connection back after its response ended; closed if it cannot be reused."""
        if conn.reusable and not conn.closed and conn.state == _IDLE:
            self.idle.append(conn)
        else:
            conn.abandon()

    def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        while self.idle:
            self.idle.pop().abandon()
