"""The raw HTTP/1.1 client protocol: framing at every read boundary, keep-alive, errors."""

import asyncio

import pytest

from bench.loadgen.http1 import HttpConnection, Origin, ProtocolError

CHUNKED_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
)


class FakeTransport:
    def __init__(self):
        self.written = []
        self.closed = False

    def write(self, data):
        self.written.append(data)

    def close(self):
        self.closed = True

    def is_closing(self):
        return self.closed

    def get_extra_info(self, name):
        return None


def chunk(payload: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(payload), payload)


def run(reads, request=b"GET / HTTP/1.1\r\n\r\n"):
    """Feed `reads` to a connection; (response or exception, connection)."""

    async def go():
        conn = HttpConnection()
        conn.connection_made(FakeTransport())
        _, waiter = conn.send(request)
        for data in reads:
            conn.data_received(data)
        if not waiter.done():
            conn.connection_lost(None)
        try:
            return waiter.result(), conn
        except Exception as exc:
            return exc, conn

    return asyncio.run(go())


BODY = CHUNKED_HEAD + chunk(b"data: a\n\n") + chunk(b"data: bb\n\n") + b"0\r\n\r\n"


def test_chunked_body_at_every_split_point():
    for cut in range(1, len(BODY)):
        resp, conn = run([BODY[:cut], BODY[cut:]])
        assert resp.status == 200, cut
        assert resp.body() == b"data: a\n\ndata: bb\n\n", cut
        assert conn.reusable and not conn.transport.closed


def test_each_chunk_payload_is_stamped_with_the_read_it_came_in():
    reads = [CHUNKED_HEAD, chunk(b"x1"), chunk(b"y22") + chunk(b"z"), b"0\r\n\r\n"]
    resp, _ = run(reads)
    assert resp.reads == [b"x1", b"y22", b"z"]
    assert resp.stamps[1] == resp.stamps[2] and resp.stamps[0] <= resp.stamps[1]


def test_content_length_error_body_and_interim_100():
    reads = [
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 500 Internal Server Error\r\n",
        b"content-length: 11\r\n\r\nhello",
        b" world",
    ]
    resp, conn = run(reads)
    assert resp.status == 500 and resp.body() == b"hello world"
    assert resp.headers["content-length"] == "11" and conn.reusable


def test_connection_close_and_http10_are_not_reused():
    resp, conn = run([b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok"])
    assert resp.body() == b"ok" and not conn.reusable
    resp, conn = run([b"HTTP/1.0 200 OK\r\n\r\nuntil ", b"close"])  # body ends at EOF
    assert resp.body() == b"until close" and not conn.reusable


def test_trailers_after_last_chunk():
    resp, conn = run([CHUNKED_HEAD + chunk(b"abc") + b"0\r\nx-trailer: 1\r\n\r\n"])
    assert resp.body() == b"abc" and conn.reusable


def test_bad_chunk_size_and_early_close_fail_the_request():
    exc, conn = run([CHUNKED_HEAD + b"zz\r\nabc\r\n"])
    assert isinstance(exc, ProtocolError) and conn.transport.closed
    exc, _ = run([CHUNKED_HEAD + chunk(b"half")])
    assert isinstance(exc, ConnectionResetError)
    exc, _ = run([b"SMTP hello\r\n\r\n"])
    assert isinstance(exc, ProtocolError)


def test_origin_request_head():
    origin = Origin("http://127.0.0.1:8000/prefix/")
    head = origin.request_head("POST", "/v1/completions", {"X-Request-Id": "r1"}, 12)
    assert head == (
        b"POST /prefix/v1/completions HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n"
        b"X-Request-Id: r1\r\nContent-Length: 12\r\n\r\n"
    )
    assert Origin("https://api.example.com").port == 443
    assert Origin("https://api.example.com").host_header == "api.example.com"
    with pytest.raises(ValueError):
        Origin("ftp://x")


def test_no_read_buffer_limit_for_a_long_event():
    """A first chunk echoing a long prompt (4 MiB) arrives in 64 KiB reads, intact."""
    from bench.loadgen.sse import parse_reads

    long_text = "x" * (4 << 20)
    event = (
        b'data: {"choices":[{"index":0,"text":"' + long_text.encode() + b'","token_ids":[1]}]}\n\n'
    )
    wire = CHUNKED_HEAD + chunk(event) + b"0\r\n\r\n"
    reads = [wire[i : i + 65536] for i in range(0, len(wire), 65536)]
    resp, _ = run(reads)
    assert resp.body() == event
    parsed = parse_reads(resp.reads, resp.stamps)
    assert parsed["chunk_tokens"] == [1] and parsed["chunk_ns"] == [resp.stamps[-1]]


def test_a_200_body_streams_into_the_sink_an_error_body_is_kept():
    from bench.loadgen.sse import StreamParser

    async def go(reads):
        conn = HttpConnection()
        conn.connection_made(FakeTransport())
        parser = StreamParser()
        _, waiter = conn.send(b"GET / HTTP/1.1\r\n\r\n", parser)
        for data in reads:
            conn.data_received(data)
        return waiter.result(), parser

    event = b'data: {"choices":[{"index":0,"text":"hi","token_ids":[3,4]}]}\n\n'
    resp, parser = asyncio.run(go([CHUNKED_HEAD, chunk(event), chunk(event), b"0\r\n\r\n"]))
    assert resp.reads == [] and parser.result()["chunk_tokens"] == [2, 2]
    err = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 5\r\n\r\noops!"
    resp, parser = asyncio.run(go([err]))
    assert resp.body() == b"oops!" and parser.result()["chunk_ns"] == []


def test_a_request_is_the_json_merge_of_its_body_and_the_fixed_fields():
    """The spliced request is byte for byte what merging the dicts and encoding gives."""
    import json

    from bench.loadgen.client import StreamTarget
    from bench.records import RequestSpec

    def reference(target, spec):
        fixed = {
            "model": target.model,
            "stream": True,
            "stream_options": {"include_usage": True, "continuous_usage_stats": False},
        }
        if target.token_ids:
            fixed["return_token_ids"] = True
        body = json.dumps({**spec.body, **fixed}).encode()
        headers = {
            "Content-Type": "application/json",
            **({"Authorization": "Bearer k"} if "Authorization" in target.headers else {}),
            "Accept": "text/event-stream",
            "X-Request-Id": spec.request_id,
        }
        path = "/v1/chat/completions" if spec.api == "chat" else "/v1/completions"
        return target.origin.request_head("POST", path, headers, len(body)) + body  # fmt: skip

    specs = [
        RequestSpec(request_id="r1", body={"prompt": 'a "b" é', "max_tokens": 3},
                    requested_output_tokens=3),
        RequestSpec(request_id="c2", api="chat", requested_output_tokens=1,
                    body={"messages": [{"role": "user", "content": "hi"}], "max_tokens": 1}),
        RequestSpec(request_id="e3", body={}, requested_output_tokens=1),
        RequestSpec(request_id="m4", body={"prompt": "x", "stream": False, "model": "other"},
                    requested_output_tokens=1),
    ]  # fmt: skip
    for target in (StreamTarget("http://127.0.0.1:8000/base", "m", token_ids=True),
                   StreamTarget("http://h:1", "synth", token_ids=False, api_key="k")):  # fmt: skip
        for spec in specs:
            assert target.request_for(spec) == reference(target, spec), spec.request_id
    # a spec's own "stream": false cannot turn streaming off
    body = StreamTarget("http://h:1", "m").body_for(specs[3])
    assert json.loads(body)["stream"] is True and json.loads(body)["model"] == "m"
