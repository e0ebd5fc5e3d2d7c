"""One streaming request against an OpenAI-compatible server, timed on the hot path only.

Hot path per network read (`bench.loadgen.http1`): one `perf_counter_ns()`, the chunked
framing walked, the payload handed to a `bench.loadgen.sse.StreamParser`, which reads
plain content chunks off a per-stream byte template and uses json.loads only for the
events that need it (the first content chunk, usage, errors). No read-buffer limit: long
lines (a first chunk echoing a 32k-token prompt) are just bytes.

Each request carries `X-Request-Id: <request_id>` (vLLM and the synthetic server use it as
the response id), so the client's record can be matched with a server's own record.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from bench.loadgen.http1 import Origin, ProtocolError, Response, StaleConnection
from bench.loadgen.pool import ConnectionPool
from bench.loadgen.sse import StreamParser, parse_events_json, split_events
from bench.metrics.reads import read_counts
from bench.records import RequestRecord, RequestSpec

# the names the lead's tests use
_split_events = split_events
_parse_events = parse_events_json


class StreamTarget:
    """Where and how requests go: base URL, served model name, headers, options."""

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        token_ids: bool = True,
        timeout_s: float = 600.0,
    ) -> None:
        self._args = (base_url, model, api_key, token_ids, timeout_s)
        self.base_url = base_url.rstrip("/")
        self.origin = Origin(self.base_url)
        self.model = model
        self.headers = {"Content-Type": "application/json"}
        if api_key:
            self.headers["Authorization"] = f"Bearer {api_key}"
        self.token_ids = token_ids
        self.timeout_s = timeout_s
        fixed: dict[str, Any] = {
            "model": model,
            "stream": True,
            "stream_options": {"include_usage": True, "continuous_usage_stats": False},
        }
        if token_ids:
            fixed["return_token_ids"] = True
        self._fixed = fixed
        self._fixed_json = json.dumps(fixed).encode()  # {"model": ..., ...}: spliced in
        self._heads = {  # request line and headers up to the request id's value
            api: self.origin.request_head(
                "POST", self.path_for(api), {**self.headers, "Accept": "text/event-stream"}, None
            )
            + b"X-Request-Id: "
            for api in ("completions", "chat")
        }

    def __reduce__(self) -> tuple[Any, ...]:
        """Rebuilt from its arguments in a worker process (an SSL context cannot travel)."""
        return (_target, self._args)

    def url_for(self, api: str) -> str:
        return self.base_url + self.path_for(api)

    @staticmethod
    def path_for(api: str) -> str:
        return "/v1/chat/completions" if api == "chat" else "/v1/completions"

    def body_for(self, spec: RequestSpec) -> bytes:
        """`json.dumps({**spec.body, "model": …, "stream": true, "stream_options": …,
        ["return_token_ids": true]})`, built by splicing the fixed keys' pre-encoded JSON
        after the spec's own (the same bytes, for a fraction of the work per request)."""
        own = spec.body
        if not own:
            return self._fixed_json
        if not self._fixed.keys().isdisjoint(own):  # the fixed values win, as in a merge
            return json.dumps({**own, **self._fixed}).encode()
        return json.dumps(own).encode()[:-1] + b", " + self._fixed_json[1:]

    def request_for(self, spec: RequestSpec) -> bytes:
        """The whole HTTP request (head and JSON body) for `spec`, ready to write: the
        pre-encoded head of its API, its request id, its length, its body."""
        body = self.body_for(spec)
        return b"".join((self._heads[spec.api], spec.request_id.encode("latin-1"),
                         b"\r\nContent-Length: %d\r\n\r\n" % len(body), body))  # fmt: skip


def _target(
    base_url: str, model: str, api_key: str | None, token_ids: bool, timeout_s: float
) -> StreamTarget:
    return StreamTarget(base_url, model, api_key=api_key, token_ids=token_ids, timeout_s=timeout_s)


def _record(
    spec: RequestSpec, index: int, sent_ns: int, done_ns: int, **fields: Any
) -> RequestRecord:
    return RequestRecord(
        request_id=spec.request_id,
        index=index,
        warmup=spec.warmup,
        sent_ns=sent_ns,
        done_ns=done_ns,
        requested_input_tokens=spec.requested_input_tokens,
        requested_output_tokens=spec.requested_output_tokens,
        session_id=spec.session_id,
        turn=spec.turn,
        images=spec.images,
        video_s=spec.video_s,
        text_input_tokens=spec.text_input_tokens,
        **fields,
    )


class Finished:
    """A response that ended: everything its record is built from, so that the building
    (and handing on) can wait until the event loop has nothing more urgent to do."""

    __slots__ = ("resp", "parser", "spec", "index", "sent_ns", "common")

    def __init__(self, resp: Response, parser: StreamParser, spec: RequestSpec, index: int,
                 sent_ns: int, common: dict[str, Any]) -> None:  # fmt: skip
        self.resp, self.parser, self.spec, self.index = resp, parser, spec, index
        self.sent_ns, self.common = sent_ns, common

    def record(self) -> RequestRecord:
        """The request's record (any status); never raises: an unforeseen failure while
        building it is a `client_error` record (the connection is not touched: it went back
        to the pool when the response ended and may carry another request by now)."""
        try:
            return _response_record(self.resp, self.parser, self.spec, self.index,
                                    self.sent_ns, self.common)  # fmt: skip
        except Exception as exc:  # one request's surprise must not end its slot
            return _failed(self.spec, self.index, self.sent_ns, None, "error", "client_error",
                           f"{type(exc).__name__}: {exc}"[:500], self.common)  # fmt: skip


async def exchange(
    pool: ConnectionPool,
    target: StreamTarget,
    spec: RequestSpec,
    index: int,
    *,
    scheduled_ns: int | None = None,
    worker: int = 0,
    defer: Callable[[Callable[[], None]], None] | None = None,
) -> RequestRecord | Finished:
    """Send one streaming request; a failure's record, or the `Finished` response (its
    connection already back in the pool). Never raises (but for cancellation of the
    caller's task, which still returns a "cancelled" record).

    `sent_ns` is stamped just before the request is written to an open connection, so TTFT
    does not include opening one; the wait for a connection shows in the send lag
    (`sent_ns - scheduled_ns`) instead. A pooled keep-alive connection that the server had
    already closed (`StaleConnection`: no byte of the response arrived) is replaced by a
    fresh one and the request written again, once; `sent_ns` is then that second write.
    Once any byte of the response has arrived the request is never sent again. The
    request times out `target.timeout_s` after its (last) write, checked by the pool a
    few times a second (`ConnectionPool.sweep`), not by a timer per request.
    `defer` lets the stream's parser leave its JSON work for later (`StreamParser`).
    Errors are classified: `http_<status>`, `timeout`, `connection`, `stream_error`,
    `incomplete_stream`, `cancelled`, and `client_error` for anything unforeseen (a bug
    here, named in the message, rather than a lost request).
    """
    common: dict[str, Any] = {"scheduled_ns": scheduled_ns, "worker": worker}
    sent_ns = time.perf_counter_ns()
    conn = None
    parser = StreamParser(defer)
    timeout_ns = int(target.timeout_s * 1e9)
    try:
        request = target.request_for(spec)
        conn = await pool.acquire()
        sent_ns, waiter = conn.send(request, parser, deadline_in_ns=timeout_ns)
        try:
            resp = await waiter
        except StaleConnection:
            conn.abandon()
            conn = None
            conn = await pool.acquire(fresh=True)
            parser = StreamParser(defer)
            sent_ns, waiter = conn.send(request, parser, deadline_in_ns=timeout_ns)
            resp = await waiter
    except TimeoutError:
        return _failed(spec, index, sent_ns, conn, "timeout", "timeout",
                       f"no completion within {target.timeout_s} s", common)  # fmt: skip
    except asyncio.CancelledError:
        return _failed(spec, index, sent_ns, conn, "cancelled", "cancelled",
                       "cancelled before completion", common)  # fmt: skip
    except (OSError, ProtocolError) as exc:
        message = f"{type(exc).__name__}: {exc}"[:500]
        return _failed(spec, index, sent_ns, conn, "error", "connection", message, common)
    except Exception as exc:  # one request's surprise must not end its slot
        return _failed(spec, index, sent_ns, conn, "error", "client_error",
                       f"{type(exc).__name__}: {exc}"[:500], common)  # fmt: skip
    pool.release(conn)
    return Finished(resp, parser, spec, index, sent_ns, common)


def _response_record(
    resp: Response,
    parser: StreamParser,
    spec: RequestSpec,
    index: int,
    sent_ns: int,
    common: dict[str, Any],
) -> RequestRecord:
    """The record of a finished response (any status)."""
    done_ns = parser.last_ts or (resp.stamps[-1] if resp.stamps else time.perf_counter_ns())
    if resp.status != 200:
        detail = resp.body()[:500].decode("utf-8", "replace")
        return _record(spec, index, sent_ns, done_ns, status="error",
                       error_class=f"http_{resp.status}", error_message=detail,
                       http_status=resp.status, **common)  # fmt: skip
    try:
        parsed = parser.result()
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        return _record(spec, index, sent_ns, done_ns, status="error",
                       error_class="stream_error",
                       error_message=f"unparseable stream: {exc}"[:500], **common)  # fmt: skip
    return _stream_record(spec, index, sent_ns, done_ns, parsed, common)


def _failed(
    spec: RequestSpec,
    index: int,
    sent_ns: int,
    conn: Any,
    status: str,
    error_class: str,
    message: str,
    common: dict[str, Any],
) -> RequestRecord:
    if conn is not None:
        conn.abandon()  # a response cut short leaves the connection in an unknown state
    return _record(spec, index, sent_ns, time.perf_counter_ns(), status=status,
                   error_class=error_class, error_message=message, **common)  # fmt: skip


def _count(usage: dict[str, Any], key: str) -> int | None:
    """A usage count: absent (None) or a whole number >= 0.

    Raises:
        ValueError: present but not a whole number >= 0 (a float, a string, a bool ...).
    """
    value = usage.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"usage.{key} is {value!r}, not a whole number of tokens")
    return value


def usage_counts(usage: Any) -> tuple[int | None, int | None, int | None]:
    """(prompt, completion, cached prompt) tokens of a stream's `usage` object.

    Raises:
        ValueError: `usage` is not an object of whole, non-negative counts.
    """
    if not isinstance(usage, dict):
        raise ValueError(f"usage is {type(usage).__name__} {usage!r:.80}, not an object")
    details = usage.get("prompt_tokens_details") or {}
    if not isinstance(details, dict):
        raise ValueError(f"usage.prompt_tokens_details is {details!r:.80}, not an object")
    cached = _count(details, "cached_tokens")
    return _count(usage, "prompt_tokens"), _count(usage, "completion_tokens"), cached


def _stream_record(
    spec: RequestSpec,
    index: int,
    sent_ns: int,
    done_ns: int,
    parsed: dict[str, Any],
    common: dict[str, Any],
) -> RequestRecord:
    """The record of a 200 response from its parsed events.

    ok with the server's usage (`usage_source` "server"); ok without usage when the stream
    ended with `[DONE]` (a server that ignores `stream_options.include_usage`): counted by
    the client (`usage_source` "client": output tokens = token ids received, else one per
    content chunk; input tokens = the prompt's length by the client's tokenizer, as built);
    error otherwise: an error event or invalid usage (`stream_error`), no content or no end
    (`incomplete_stream`).
    """
    chunk_ns = parsed["chunk_ns"]
    client_tokens = sum(parsed["chunk_tokens"])
    reads, most = read_counts(chunk_ns, parsed["chunk_tokens"])
    fields: dict[str, Any] = {
        "chunk_ns": chunk_ns,
        "chunk_tokens": parsed["chunk_tokens"],
        "content_reads": reads,
        "max_tokens_per_read": most,
        "first_chunk_ns": chunk_ns[0] if chunk_ns else None,
        "last_chunk_ns": chunk_ns[-1] if chunk_ns else None,
        "client_output_tokens": client_tokens,
        **common,
    }
    if parsed["error"] is not None:
        return _record(spec, index, sent_ns, done_ns, status="error",
                       error_class="stream_error", error_message=parsed["error"][:500],
                       **fields)  # fmt: skip
    usage = parsed["usage"]
    if usage is not None:
        try:
            prompt, completion, cached = usage_counts(usage)
        except ValueError as exc:
            return _record(spec, index, sent_ns, done_ns, status="error",
                           error_class="stream_error",
                           error_message=f"invalid usage: {exc}"[:500], **fields)  # fmt: skip
        fields.update(input_tokens=prompt, output_tokens=completion,
                      cached_input_tokens=cached, usage_source="server")  # fmt: skip
    elif parsed["done"]:
        fields.update(input_tokens=spec.requested_input_tokens, output_tokens=client_tokens,
                      usage_source="client")  # fmt: skip
    problem = None
    if usage is None and not parsed["done"]:
        problem = "stream ended without usage or [DONE] (server closed it mid-response?)"
    elif not chunk_ns:
        problem = "stream ended without any content"
    if problem is not None:
        return _record(spec, index, sent_ns, done_ns, status="error",
                       error_class="incomplete_stream", error_message=problem,
                       **fields)  # fmt: skip
    return _record(spec, index, sent_ns, done_ns, status="ok", **fields)
