"""Minimal HTTP/1.1 for the synthetic server: request parsing and response framing.

Pure functions over bytes, tested without a socket. Enough of HTTP/1.1 for benchmark
clients: keep-alive (1.1 default, 1.0 opt-in), Content-Length and chunked request bodies,
`Expect: 100-continue`, chunked streaming responses with uvicorn's header style.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

MAX_HEADER_BYTES = 64 * 1024
MAX_BODY_BYTES = 256 * 1024 * 1024


class HttpError(Exception):
    """The request cannot be parsed; the connection answers `status` and closes."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(slots=True)
class HttpRequest:
    """One parsed request; header names are lower-case."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    keep_alive: bool
    expects_continue: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def parse_request(buf: bytes | bytearray) -> tuple[HttpRequest | None, int]:
    """Parse the first complete request in `buf`.

    Returns `(request, bytes consumed)`, or `(None, 0)` while the request is incomplete
    (`(partial request with expects_continue, 0)` when the client waits for 100 Continue).
    Supports Content-Length and chunked request bodies, HTTP/1.0 and 1.1 keep-alive rules.

    Raises:
        HttpError: malformed request line/headers, oversize headers or body.
    """
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        if len(buf) > MAX_HEADER_BYTES:
            raise HttpError(431, "request headers too large")
        return None, 0
    head = bytes(buf[:end]).decode("latin-1")
    lines = head.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise HttpError(400, f"malformed request line {lines[0][:80]!r}")
    method, target, version = parts
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep:
            raise HttpError(400, f"malformed header line {line[:80]!r}")
        headers[name.strip().lower()] = value.strip()
    path, _, query = target.partition("?")
    conn = headers.get("connection", "").lower()
    keep_alive = conn != "close" if version == "HTTP/1.1" else conn == "keep-alive"
    start = end + 4
    if "chunked" in headers.get("transfer-encoding", "").lower():
        decoded = _parse_chunked(buf, start)
        if decoded is None:
            return _waiting(method, path, query, headers, keep_alive), 0
        body, consumed = decoded
    else:
        try:
            length = int(headers.get("content-length", "0"))
        except ValueError:
            raise HttpError(400, "bad content-length") from None
        if length < 0 or length > MAX_BODY_BYTES:
            raise HttpError(413, "request body too large")
        if len(buf) < start + length:
            return _waiting(method, path, query, headers, keep_alive), 0
        body, consumed = bytes(buf[start : start + length]), start + length
    return HttpRequest(method, path, query, headers, body, keep_alive), consumed


def _waiting(
    method: str, path: str, query: str, headers: dict[str, str], keep_alive: bool
) -> HttpRequest | None:
    if headers.get("expect", "").lower() == "100-continue":
        return HttpRequest(method, path, query, headers, b"", keep_alive, expects_continue=True)
    return None


def _parse_chunked(buf: bytes | bytearray, pos: int) -> tuple[bytes, int] | None:
    """Decode a chunked body starting at `pos`: `(body, end offset)` or None if incomplete."""
    out = bytearray()
    while True:
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            return None
        size_text = bytes(buf[pos:eol]).split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise HttpError(400, "bad chunk size in request body") from None
        if size == 0:
            trailer_end = buf.find(b"\r\n\r\n", eol)
            if trailer_end == eol:  # no trailers: "0\r\n\r\n"
                return bytes(out), eol + 4
            return (bytes(out), trailer_end + 4) if trailer_end >= 0 else None
        if len(out) + size > MAX_BODY_BYTES:
            raise HttpError(413, "request body too large")
        data_start = eol + 2
        if len(buf) < data_start + size + 2:
            return None
        out += buf[data_start : data_start + size]
        pos = data_start + size + 2


_REASONS = {
    100: "Continue",
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Payload Too Large",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
}
_date_cache: tuple[int, str] = (0, "")


def http_date() -> str:
    """RFC 7231 date of the current second (cached: formatted once per second)."""
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(now)))
    return _date_cache[1]


def response_head(status: int, content_type: str, *, length: int | None, keep_alive: bool) -> bytes:
    """Status line and headers as uvicorn writes them; `length=None` means chunked."""
    lines = [
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}",
        f"date: {http_date()}",
        "server: uvicorn",
        f"content-type: {content_type}",
    ]
    lines.append("transfer-encoding: chunked" if length is None else f"content-length: {length}")
    if not keep_alive:
        lines.append("connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def full_response(
    status: int, body: bytes, *, content_type: str = "application/json", keep_alive: bool = True
) -> bytes:
    """A complete Content-Length response."""
    return response_head(status, content_type, length=len(body), keep_alive=keep_alive) + body


def http_chunk(payload: bytes) -> bytes:
    """Frame `payload` as one HTTP/1.1 chunk."""
    return b"%x\r\n%s\r\n" % (len(payload), payload)


LAST_CHUNK = b"0\r\n\r\n"
