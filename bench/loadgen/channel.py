"""Messages between the client's parent and worker processes, never blocking either loop.

A stream socket (one end of a socketpair) carries length-prefixed pickles, each side
writing through an asyncio transport, so a busy reader makes the writer buffer rather than
stall its event loop (which would delay the timestamps of the requests it is driving).

`send_soon` batches: messages wait up to `BATCH_S` and leave as one pickle, so a worker
finishing a thousand requests a second wakes its parent (and writes) tens of times a
second, not a thousand (each wake-up and write costs both processes CPU the requests in
flight need). `send` writes at once, after whatever is pending, so order always holds.
"""

from __future__ import annotations

import asyncio
import pickle
import socket
import struct
from collections.abc import Callable
from typing import Any

_FRAME = struct.Struct("<I")
BATCH_S = 0.02
_BATCH = "__batch__"


class Channel(asyncio.Protocol):
    """Length-prefixed pickles over a stream socket; `send` never blocks the loop."""

    def __init__(self, on_message: Callable[[Any], None], on_lost: Callable[[], None]) -> None:
        self.on_message = on_message
        self.on_lost = on_lost
        self.transport: Any = None
        self.buf = bytearray()
        self.closed = False
        self.pending: list[Any] = []
        self.flush_handle: asyncio.TimerHandle | None = None
        self.frames_sent = 0

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        pos = 0
        while len(buf) - pos >= 4:
            (size,) = _FRAME.unpack_from(buf, pos)
            if len(buf) - pos - 4 < size:
                break
            message = pickle.loads(buf[pos + 4 : pos + 4 + size])
            pos += 4 + size
            if type(message) is tuple and message[:1] == (_BATCH,):
                for item in message[1]:
                    self.on_message(item)
            else:
                self.on_message(message)
        if pos:
            del buf[:pos]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.on_lost()

    def send(self, message: Any) -> None:
        """Write `message` now (after the batched ones still pending)."""
        self.flush()
        self._write(message)

    def send_soon(self, message: Any) -> None:
        """Queue `message`; it leaves within BATCH_S, in one pickle with its neighbours."""
        self.pending.append(message)
        if self.flush_handle is None:
            self.flush_handle = asyncio.get_running_loop().call_later(BATCH_S, self.flush)

    def flush(self) -> None:
        """Write the pending messages now, as one frame."""
        if self.flush_handle is not None:
            self.flush_handle.cancel()
            self.flush_handle = None
        if self.pending:
            batch, self.pending = self.pending, []
            self._write((_BATCH, batch))

    def _write(self, message: Any) -> None:
        if self.closed or self.transport is None or self.transport.is_closing():
            return
        payload = pickle.dumps(message, protocol=5)
        self.transport.write(_FRAME.pack(len(payload)) + payload)
        self.frames_sent += 1

    def close(self) -> None:
        self.flush()
        if self.transport is not None:
            self.transport.close()


async def open_channel(
    sock: socket.socket, on_message: Callable[[Any], None], on_lost: Callable[[], None]
) -> Channel:
    loop = asyncio.get_running_loop()
    _, channel = await loop.connect_accepted_socket(lambda: Channel(on_message, on_lost), sock)
    return channel
