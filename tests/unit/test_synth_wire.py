"""Pure wire formats of the synthetic server: HTTP parsing/framing and vLLM payload bytes."""

from __future__ import annotations

import json

import pytest

from bench.synth import http1, wire

# --- HTTP/1.1 parsing --------------------------------------------------------------------


def test_parse_content_length_request_and_leftover():
    raw = b"POST /v1/completions?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloGET"
    req, used = http1.parse_request(raw)
    assert req is not None
    assert (req.method, req.path, req.query, req.body) == (
        "POST",
        "/v1/completions",
        "x=1",
        b"hello",
    )
    assert req.headers["host"] == "a"
    assert req.keep_alive is True
    assert used == len(raw) - 3  # "GET" is the start of the next request


def test_parse_incomplete_body_waits():
    assert http1.parse_request(b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nhalf") == (None, 0)
    assert http1.parse_request(b"POST / HTTP/1.1\r\nContent-Len") == (None, 0)


def test_parse_chunked_request_body():
    head = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    raw = head + b"5\r\nhello\r\n6;x=y\r\n world\r\n0\r\n\r\n"
    req, used = http1.parse_request(raw)
    assert req is not None and req.body == b"hello world"
    assert used == len(raw)
    assert http1.parse_request(raw[:-4]) == (None, 0)


def test_keep_alive_rules():
    def ka(line: str, conn: str | None) -> bool:
        head = f"GET / {line}\r\n" + (f"Connection: {conn}\r\n" if conn else "") + "\r\n"
        req, _ = http1.parse_request(head.encode())
        assert req is not None
        return req.keep_alive

    assert ka("HTTP/1.1", None) is True
    assert ka("HTTP/1.1", "close") is False
    assert ka("HTTP/1.0", None) is False
    assert ka("HTTP/1.0", "keep-alive") is True


def test_expect_continue_returns_partial_request():
    raw = b"POST / HTTP/1.1\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"
    req, used = http1.parse_request(raw)
    assert req is not None and req.expects_continue and used == 0


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"GARBAGE\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nno-colon-here\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nContent-Length: 999999999999\r\n\r\n", 413),
        (b"GET / HTTP/1.1\r\n" + b"a: b\r\n" * 20000, 431),
    ],
)
def test_malformed_requests_raise_with_status(raw: bytes, status: int):
    with pytest.raises(http1.HttpError) as info:
        http1.parse_request(raw)
    assert info.value.status == status


def test_http_chunk_framing_is_hex_length():
    assert http1.http_chunk(b"x" * 26) == b"1a\r\n" + b"x" * 26 + b"\r\n"
    assert http1.LAST_CHUNK == b"0\r\n\r\n"


def test_full_response_head():
    out = http1.full_response(404, b'{"detail":"Not Found"}', keep_alive=False)
    head, body = out.split(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "HTTP/1.1 404 Not Found"
    assert "content-length: 22" in lines and "connection: close" in lines
    assert body == b'{"detail":"Not Found"}'


# --- vLLM payloads (expected strings copied from vLLM 0.32's pydantic dumps) ------------------


def _events(raw: bytes) -> list[bytes]:
    """Undo the HTTP chunk framing: the SSE payload of each chunk."""
    out, pos = [], 0
    while pos < len(raw):
        eol = raw.index(b"\r\n", pos)
        size = int(raw[pos:eol], 16)
        out.append(raw[eol + 2 : eol + 2 + size])
        pos = eol + 2 + size + 2
    return out


def test_completion_stream_payloads_match_vllm_bytes():
    p = wire.stream_payloads(
        "completions", "cmpl-1", 1, "m", prompt_tokens=3, max_tokens=5, tokens_per_chunk=2,
        include_usage=True,
    )  # fmt: skip
    mid = (
        b'data: {"id":"cmpl-1","object":"text_completion","created":1,"model":"m","choices":'
        b'[{"index":0,"text":" tok tok","logprobs":null,"finish_reason":null,'
        b'"stop_reason":null,"prompt_token_ids":null,"token_ids":null}]}\n\n'
    )
    assert _events(p.first) == [mid]
    assert _events(p.middle) == [mid]
    assert _events(p.last) == [
        b'data: {"id":"cmpl-1","object":"text_completion","created":1,"model":"m","choices":'
        b'[{"index":0,"text":" tok","logprobs":null,"finish_reason":"length",'
        b'"stop_reason":null,"prompt_token_ids":null,"token_ids":null}]}\n\n',
        b'data: {"id":"cmpl-1","object":"text_completion","created":1,"model":"m",'
        b'"choices":[],"usage":{"prompt_tokens":3,"total_tokens":8,"completion_tokens":5}}\n\n',
        b"data: [DONE]\n\n",
        b"",  # the terminating zero-length chunk
    ]


def test_chat_stream_payloads_match_vllm_bytes():
    p = wire.stream_payloads(
        "chat", "chatcmpl-1", 1, "m", prompt_tokens=3, max_tokens=2, tokens_per_chunk=1,
        include_usage=False,
    )  # fmt: skip
    assert _events(p.first) == [
        b'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m",'
        b'"choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,'
        b'"finish_reason":null}],"prompt_token_ids":null,"prompt_text":null}\n\n',
        b'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m",'
        b'"choices":[{"index":0,"delta":{"content":" tok"},"logprobs":null,'
        b'"finish_reason":null}]}\n\n',
    ]
    assert _events(p.last) == [
        b'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m",'
        b'"choices":[{"index":0,"delta":{"content":" tok"},"logprobs":null,'
        b'"finish_reason":"length","stop_reason":null,"token_ids":null}]}\n\n',
        b"data: [DONE]\n\n",
        b"",
    ]


def test_single_chunk_stream_puts_everything_in_first():
    p = wire.stream_payloads(
        "completions", "c", 1, "m", prompt_tokens=1, max_tokens=2, tokens_per_chunk=4,
        include_usage=True,
    )  # fmt: skip
    events = _events(p.first)
    assert len(events) == 4 and b'"text":" tok tok"' in events[0] and b'"length"' in events[0]
    assert events[1].startswith(b'data: {"id":"c"') and b'"completion_tokens":2' in events[1]
    assert p.trailer == p.first[-len(p.trailer) :]


def test_non_stream_bodies_parse_with_usage():
    body = json.loads(
        wire.completion_body("chat", "chatcmpl-7", 5, "m", prompt_tokens=4, completion_tokens=3)
    )
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"] == {
        "role": "assistant", "content": " tok tok tok", "refusal": None, "annotations": None,
        "audio": None, "function_call": None, "reasoning": None,
    }  # fmt: skip
    assert body["usage"]["prompt_tokens"] == 4 and body["usage"]["completion_tokens"] == 3
    assert body["usage"]["total_tokens"] == 7
    text = json.loads(
        wire.completion_body("completions", "c", 5, "m", prompt_tokens=1, completion_tokens=2)
    )
    assert text["choices"][0]["text"] == " tok tok"
    assert text["choices"][0]["finish_reason"] == "length"


def test_prompt_token_count_is_whitespace_words():
    assert wire.prompt_token_count("completions", {"prompt": "a  b\nc\td"}) == 4
    assert wire.prompt_token_count("completions", {"prompt": [5, 6, 7]}) == 3
    assert wire.prompt_token_count("completions", {"prompt": ["one two"]}) == 2
    chat = {
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": [{"type": "text", "text": "x y z"}, {"type": "image_url"}]},
        ]
    }
    assert wire.prompt_token_count("chat", chat) == 5
    with pytest.raises(ValueError):
        wire.prompt_token_count("completions", {"prompt": ["a", "b"]})
    with pytest.raises(ValueError):
        wire.prompt_token_count("chat", {"messages": []})


def test_metrics_text_has_vllm_names_and_values():
    text = wire.metrics_text(
        "m", running=2, waiting=0, prompt_tokens=30, generation_tokens=41, success=5
    )
    lines = text.splitlines()
    assert 'vllm:num_requests_running{engine="0",model_name="m"} 2.0' in lines
    assert 'vllm:num_requests_waiting{engine="0",model_name="m"} 0.0' in lines
    assert 'vllm:prompt_tokens_total{engine="0",model_name="m"} 30.0' in lines
    assert 'vllm:generation_tokens_total{engine="0",model_name="m"} 41.0' in lines
    assert (
        'vllm:request_success_total{engine="0",model_name="m",finished_reason="length"} 5.0'
        in lines
    )
    assert "# TYPE vllm:generation_tokens counter" in lines


def test_error_json_shapes():
    assert wire.error_json("boom", "InternalServerError", 500) == (
        '{"error":{"message":"boom","type":"InternalServerError","param":null,"code":500}}'
    )
    assert wire.error_json("boom", "X", 500, spaced=True).startswith('{"error": {"message": ')
