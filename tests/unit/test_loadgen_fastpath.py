"""The connection's fast path (a stream's plain content events classified where they lie,
once its template is known) gives exactly what json.loads on every event gives, whatever
the read boundaries; and it is the path the usual read takes."""

import asyncio
import random

import pytest
from test_loadgen_http1 import CHUNKED_HEAD, FakeTransport, chunk
from test_loadgen_sse import STREAMS

from bench.loadgen import http1
from bench.loadgen.http1 import HttpConnection
from bench.loadgen.sse import StreamParser, parse_events_json


def framed(payloads: list[str]) -> tuple[bytes, list[tuple[int, bytes]]]:
    """The HTTP body of one SSE event per chunk, and per event (offset of its last payload
    byte in the whole response, the event)."""
    out, ends = bytearray(CHUNKED_HEAD), []
    for p in payloads:
        event = b"data: " + p.encode() + b"\n\n"
        out += chunk(event)
        ends.append((len(out) - 3, event[:-2]))
    out += b"0\r\n\r\n"
    return bytes(out), ends


def drive(body: bytes, cuts: list[int], monkeypatch: pytest.MonkeyPatch):
    """Feed `body` cut at `cuts` through a connection into a StreamParser; read k is
    stamped 1000 + k. (the parser's result, reads classified by the fast path)."""
    stamps = iter(range(999, 10**9))  # send() takes the first
    monkeypatch.setattr(http1, "_pc", lambda: next(stamps))
    edges = [0, *cuts, len(body)]

    async def go():
        conn = HttpConnection()
        conn.connection_made(FakeTransport())
        parser = CountingParser()
        _, waiter = conn.send(b"GET / HTTP/1.1\r\n\r\n", parser)
        for a, b in zip(edges, edges[1:], strict=False):
            conn.data_received(body[a:b])
        assert waiter.done() and waiter.result().status == 200
        return parser.result(), parser.fed

    return asyncio.run(go())


def expected(ends: list[tuple[int, bytes]], cuts: list[int]):
    """parse_events_json with each event stamped by the read holding its last byte."""
    edges = [*cuts, 10**9]
    return parse_events_json([(1000 + next(k for k, e in enumerate(edges) if end < e), event)
                              for end, event in ends])  # fmt: skip


class CountingParser(StreamParser):
    """A StreamParser that counts the reads handed to its own `feed`."""

    def __init__(self) -> None:
        super().__init__()
        self.fed = 0

    def feed(self, data: bytes, ts: int) -> None:
        self.fed += 1
        super().feed(data, ts)


@pytest.mark.parametrize("name", list(STREAMS))
def test_fast_path_equals_json_on_every_split(name, monkeypatch):
    body, ends = framed(STREAMS[name])
    rng = random.Random(name)
    one_chunk_each = [len(CHUNKED_HEAD)] + [end + 3 for end, _ in ends]
    splits = [one_chunk_each] + [
        sorted(rng.sample(range(1, len(body)), k=rng.randint(1, 40))) for _ in range(30)
    ]
    for cuts in splits:
        result, _ = drive(body, cuts, monkeypatch)
        assert result == expected(ends, cuts), cuts


def test_the_usual_read_takes_the_fast_path(monkeypatch):
    """One plain content event per read: after the first (which teaches the template) the
    parser's own `feed` sees only what the template cannot classify (usage, [DONE])."""
    payloads = STREAMS["completions, no ids"]  # 3 plain events, a finish, usage, [DONE]
    body, ends = framed(payloads)
    cuts = [len(CHUNKED_HEAD)] + [end + 3 for end, _ in ends]
    result, fed = drive(body, cuts, monkeypatch)
    assert result == expected(ends, cuts) and len(result["chunk_ns"]) == 3
    assert fed == 4  # the first event, the empty-text finish, the usage, [DONE]
