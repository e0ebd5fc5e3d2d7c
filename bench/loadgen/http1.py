"""A lean HTTP/1.1 client for streamed responses: raw asyncio protocol, keep-alive pool.

Why not aiohttp: a streamed read there wakes a coroutine through a StreamReader per
network read; here the event loop (uvloop) calls `data_received` directly, which stamps the
read with one `perf_counter_ns()`, walks the chunked framing and hands the payload to the
request's sink (`bench.loadgen.sse.StreamParser`: a few byte comparisons per event, JSON
only where needed). No read-buffer limit anywhere.

Supported: http and https, keep-alive (HTTP/1.1 default; `connection: close` honoured),
chunked, Content-Length and read-until-close bodies, interim 1xx responses skipped.
One request at a time per connection (no pipelining); the pool (`bench.loadgen.pool`) holds
idle connections and opens a new one whenever none is idle, so it grows to the concurrency
the caller drives.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import time
from typing import Any
from urllib.parse import urlsplit

_pc = time.perf_counter_ns
MAX_HEAD_BYTES = 256 * 1024
NO_DEADLINE = 2**62

_HEAD, _CHUNKED, _LENGTH, _UNTIL_CLOSE, _TRAILER, _IDLE = range(6)


class ProtocolError(Exception):
    """The server's response is not valid HTTP/1.1 (the connection is closed)."""


class StaleConnection(ConnectionResetError):
    """A reused keep-alive connection closed before any byte of the response arrived: the
    server had dropped it while idle, so the request can go again on a fresh one."""


class Origin:
    """Scheme, host, port and path prefix of a base URL, and how to connect to it."""

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.prefix = parts.path.rstrip("/")
        default = (self.scheme == "http" and self.port == 80) or self.port == 443
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.host_header = host if default else f"{host}:{self.port}"
        self.ssl: ssl.SSLContext | None = (
            ssl.create_default_context() if self.scheme == "https" else None
        )

    def request_head(
        self, method: str, path: str, headers: dict[str, str], length: int | None
    ) -> bytes:
        """Request line and headers (Content-Length framing) as bytes; with `length` None,
        the head so far, each line ended, for the caller to finish."""
        lines = [f"{method} {self.prefix}{path} HTTP/1.1", f"Host: {self.host_header}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        if length is None:
            return ("\r\n".join(lines) + "\r\n").encode("latin-1")
        lines.append(f"Content-Length: {length}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class Response:
    """A finished response: status, lower-case headers, and the body as timed reads.

    `reads[i]` is the body bytes (chunked framing removed) that arrived in the network
    read stamped `stamps[i]` (perf_counter_ns); reads that carried only framing are absent.
    Both are empty when the body went to the request's sink.
    """

    __slots__ = ("status", "headers", "reads", "stamps")

    def __init__(
        self, status: int, headers: dict[str, str], reads: list[bytes], stamps: list[int]
    ) -> None:
        self.status = status
        self.headers = headers
        self.reads = reads
        self.stamps = stamps

    def body(self) -> bytes:
        return b"".join(self.reads)


class HttpConnection(asyncio.Protocol):
    """One keep-alive connection serving one request at a time."""

    def __init__(self) -> None:
        self.transport: Any = None
        self.closed = False
        self.reusable = False
        self.served = 0  # responses completed on this connection
        self.answered = False  # a byte of the current response has arrived
        self.waiter: asyncio.Future[Response] | None = None
        self.state = _IDLE
        self.buf = b""
        self.left = 0
        self.status = 0
        self.headers: dict[str, str] = {}
        self.reads: list[bytes] = []
        self.stamps: list[int] = []
        self.sink: Any = None  # takes a 200 response's body read by read (`feed(data, ts)`)
        self.feed: Any = self._collect
        self.fast: Any = None  # set by `_learn_fast` once the sink knows its template
        self.deadline_ns = NO_DEADLINE  # when the pool's sweep gives up on the response

    # -- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):  # the request leaves in one write, at once
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        ts = _pc()
        fast = self.fast
        if fast is not None and not self.left and not self.buf:
            # the usual read of a stream in progress: one whole chunk holding one plain
            # content event, classified by the sink's template where it lies (no copy, no
            # call into the sink); anything else takes the general path below
            prefix, suffix, template, add_ns, add_tokens, sink = fast
            eol = data.find(b"\r\n", 0, 10)
            size = len(data)
            if eol > 0 and data.endswith(suffix) and data.startswith(prefix, eol + 2):
                try:
                    whole = int(data[:eol], 16) == size - eol - 4
                except ValueError:
                    whole = False
                lp, stop = eol + 2 + len(prefix), size - len(suffix)
                if not whole:
                    n = -1
                elif template.with_ids:
                    n = template.body_tokens(data, lp, stop)
                elif stop <= lp:
                    n = -1 if stop < lp else -2
                else:  # `Template.body_tokens` without ids, inline: the hottest line here
                    n = (
                        -1
                        if data.find(b'"', lp, stop) >= 0
                        or data.find(b"\n", lp, stop) >= 0
                        or data[stop - 1] == 92
                        else 1
                    )
                if n != -1:
                    sink.last_ts = ts
                    if n >= 0:
                        add_ns(ts)
                        add_tokens(n)
                    return
        if self.state == _CHUNKED:
            if not self.left and not self.buf:  # the usual read: exactly one whole chunk
                eol = data.find(b"\r\n")
                if 0 < eol < 9:
                    try:
                        end = eol + 2 + int(data[:eol], 16)
                    except ValueError:
                        end = -1
                    if end + 2 == len(data) and end > eol + 2:
                        self.feed(data[eol + 2 : end], ts)
                        self._learn_fast()
                        return
            self._chunked(data, ts)
            self._learn_fast()
        elif self.state == _HEAD:
            self._head(data, ts)
        elif self.state in (_LENGTH, _UNTIL_CLOSE):
            self._plain(data, ts)
        elif self.state == _TRAILER:
            self._trailer(data)
        else:  # bytes nobody asked for: this connection cannot be trusted any more
            self.reusable = False
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.reusable = False
        if self.state == _UNTIL_CLOSE:
            self._finish()
        elif self.waiter is not None and not self.waiter.done():
            self.state, self.fast = _IDLE, None
            stale = self.served and not self.answered
            error = StaleConnection if stale else ConnectionResetError
            self.waiter.set_exception(error(f"server closed the connection: {exc or 'EOF'}"))

    # -- request ---------------------------------------------------------------------------

    def send(
        self, request: bytes, sink: Any = None, *, deadline_in_ns: int = NO_DEADLINE
    ) -> tuple[int, asyncio.Future[Response]]:
        """Write `request` and return (the perf_counter_ns just before the write, a future
        for the response). One request at a time. With `sink`, a 200 response's body goes
        to `sink.feed(data, ts)` as it arrives instead of into `Response.reads`. The
        pool's `sweep` (`bench.loadgen.pool`) fails the future with TimeoutError once
        `deadline_in_ns` after the write have passed without the response ending."""
        loop = asyncio.get_running_loop()
        self.waiter = loop.create_future()
        self.state, self.buf, self.left = _HEAD, b"", 0
        self.reads, self.stamps, self.headers = [], [], {}
        self.sink, self.feed, self.fast = sink, self._collect, None
        self.answered = False
        sent_ns = _pc()
        self.deadline_ns = sent_ns + deadline_in_ns
        self.transport.write(request)
        return sent_ns, self.waiter

    def abandon(self) -> None:
        """The caller gave up on the response (timeout, cancel): close the connection."""
        self.reusable = False
        self.state, self.fast = _IDLE, None
        if self.transport is not None:
            self.transport.close()

    # -- response parsing ------------------------------------------------------------------

    def _fail(self, message: str) -> None:
        self.state, self.fast = _IDLE, None
        self.reusable = False
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ProtocolError(message))
        self.transport.close()

    def _head(self, data: bytes, ts: int) -> None:
        self.answered = True  # every response begins here: from now on, never resend
        buf = self.buf + data if self.buf else data
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            if len(buf) > MAX_HEAD_BYTES:
                self._fail("response headers too large")
            else:
                self.buf = buf
            return
        self.buf = b""
        lines = buf[:end].decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            self._fail(f"malformed status line {lines[0][:80]!r}")
            return
        status = int(parts[1])
        rest = buf[end + 4 :]
        if 100 <= status < 200:  # interim response (100 Continue): the real one follows
            if rest:
                self._head(rest, ts)
            return
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        self.status, self.headers = status, headers
        if status == 200 and self.sink is not None:
            self.feed = self.sink.feed
        conn = headers.get("connection", "").lower()
        self.reusable = conn != "close" if parts[0] == "HTTP/1.1" else conn == "keep-alive"
        if "chunked" in headers.get("transfer-encoding", "").lower():
            self.state = _CHUNKED
            if rest:
                self._chunked(rest, ts)
        elif "content-length" in headers:
            try:
                self.left = int(headers["content-length"])
            except ValueError:
                self._fail("bad content-length")
                return
            self.state = _LENGTH
            if self.left == 0:
                self._finish()
            elif rest:
                self._plain(rest, ts)
        else:
            self.state = _UNTIL_CLOSE
            self.reusable = False
            if rest:
                self._plain(rest, ts)

    def _plain(self, data: bytes, ts: int) -> None:
        if self.state == _LENGTH:
            if len(data) > self.left:
                self.reusable = False  # more than the response: not a connection to reuse
                data = data[: self.left]
            self.left -= len(data)
        self.feed(data, ts)
        if self.state == _LENGTH and self.left == 0:
            self._finish()

    def _chunked(self, data: bytes, ts: int) -> None:
        """Walk the chunked framing of one read (the general case: several chunks, or
        chunks split across reads). Each chunk's payload (or the part of it in this read)
        goes to `feed` with the read's time stamp, so one event stays one piece.

        `left` counts the bytes still due of the current chunk, its closing CRLF included;
        `buf` holds an incomplete chunk-size line.
        """
        if self.buf:
            data = self.buf + data
            self.buf = b""
        feed = self.feed
        n = len(data)
        pos = 0
        left = self.left
        while pos < n:
            if left:
                end = pos + left
                stop = end - 2 if end - 2 < n else n  # the payload ends before the CRLF
                if stop > pos:
                    feed(data[pos:stop], ts)
                if end > n:
                    left = end - n
                    break
                pos, left = end, 0
                continue
            eol = data.find(b"\r\n", pos)
            if eol < 0:
                self.buf = data[pos:]
                break
            try:
                size = int(data[pos:eol].split(b";", 1)[0], 16)
            except ValueError:
                self._fail("bad chunk size in response")
                return
            pos = eol + 2
            if size == 0:
                self.left = 0
                self.state = _TRAILER
                self._trailer(data[pos:])
                return
            left = size + 2
        self.left = left

    def _learn_fast(self) -> None:
        """After a read took the general path: later reads may be classified in
        `data_received`'s first branch when the sink knows its stream's template and holds
        no partial event (that branch never leaves one)."""
        sink = self.sink
        if (
            self.state == _CHUNKED
            and sink is not None
            and self.feed == sink.feed
            and sink.template is not None
            and not sink.buffer
        ):
            t, parsed = sink.template, sink.parsed
            self.fast = (t.prefix, t.framed_suffix, t, parsed.chunk_ns.append,
                         parsed.chunk_tokens.append, sink)  # fmt: skip
        else:
            self.fast = None

    def _collect(self, data: bytes, ts: int) -> None:
        self.reads.append(data)
        self.stamps.append(ts)

    def _trailer(self, data: bytes) -> None:
        """After the last chunk: optional trailer fields, then an empty line."""
        buf = self.buf + data if self.buf else data
        if buf.startswith(b"\r\n"):
            end = 2
        else:
            found = buf.find(b"\r\n\r\n")
            if found < 0:
                self.buf = buf
                return
            end = found + 4
        self.buf = b""
        if len(buf) > end:
            self.reusable = False
        self._finish()

    def _finish(self) -> None:
        self.state, self.fast = _IDLE, None
        self.served += 1
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(Response(self.status, self.headers, self.reads, self.stamps))
