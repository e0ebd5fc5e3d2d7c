"""One HTTP/1.1 connection of the synthetic server: requests in order, one response at once.

Requests are parsed as bytes arrive (`http1.parse_request`); each complete one goes to
`SynthCore.handle`. A streamed response marks the connection busy; requests pipelined
behind it wait in the buffer until `response_done`.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from typing import TYPE_CHECKING, Any

from bench.synth import http1, wire

if TYPE_CHECKING:
    from bench.synth.server import SynthCore
    from bench.synth.stream import Stream

_pc = time.perf_counter_ns


class Connection(asyncio.Protocol):
    """One HTTP/1.1 connection: parses requests in order, one response at a time."""

    def __init__(self, server: SynthCore) -> None:
        self.server = server
        self.buf = bytearray()
        self.transport: Any = None
        self.busy = False
        self.closed = False
        self.active: Stream | None = None
        self.continued = False
        self.pending = False  # a drain is scheduled for what arrived

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):  # each chunk leaves at once, no Nagle wait
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.busy and not self.pending:
            # stamped now, parsed after this loop iteration's other reads are stamped: a
            # burst of requests (a closed loop's clients starting together) would otherwise
            # stamp each one after parsing all before it, and count that wait in the
            # client's TTFT instead of the server's
            self.pending = True
            asyncio.get_running_loop().call_soon(self._drain_later, _pc())

    def _drain_later(self, received_ns: int) -> None:
        self.pending = False
        if not self.busy:
            self.drain(received_ns)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.active is not None:
            self.active.closed = True
            self.active.plain = False

    def drain(self, now_ns: int) -> None:
        """Handle every complete request buffered, until one leaves a response pending."""
        while not self.busy and not self.closed:
            try:
                request, used = http1.parse_request(self.buf)
            except http1.HttpError as exc:
                body = wire.error_json(exc.message, "BadRequestError", exc.status).encode()
                self.transport.write(http1.full_response(exc.status, body, keep_alive=False))
                self.transport.close()
                return
            if request is None:
                return
            if used == 0:  # the client waits for "100 Continue" before sending the body
                if not self.continued:
                    self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                    self.continued = True
                return
            del self.buf[:used]
            self.continued = False
            self.server.handle(self, request, now_ns)

    def respond(self, status: int, body: bytes, keep_alive: bool, ctype: str) -> None:
        self.transport.write(
            http1.full_response(status, body, content_type=ctype, keep_alive=keep_alive)
        )
        if not keep_alive:
            self.transport.close()

    def response_done(self, keep_alive: bool) -> None:
        self.busy = False
        self.active = None
        if self.closed:
            return
        if not keep_alive:
            self.transport.close()
        elif self.buf:
            self.drain(_pc())
