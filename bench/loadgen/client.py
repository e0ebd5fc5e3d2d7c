"""One streaming request against an OpenAI-compatible server, timed on the hot path only.

Hot path per network read: one `perf_counter_ns()` and a split of the raw bytes into SSE
events (no JSON). The events are parsed once the stream has ended: usage counts, token ids
per chunk, errors. Reads use `iter_any()` with our own event splitting, so long lines
(a first chunk echoing a 32k-token prompt) never hit a read-buffer limit.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp

from bench.records import RequestRecord, RequestSpec

_DATA = b"data:"
_DONE = b"[DONE]"


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
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.headers = {"Content-Type": "application/json"}
        if api_key:
            self.headers["Authorization"] = f"Bearer {api_key}"
        self.token_ids = token_ids
        self.timeout_s = timeout_s

    def url_for(self, api: str) -> str:
        path = "/v1/chat/completions" if api == "chat" else "/v1/completions"
        return self.base_url + path

    def body_for(self, spec: RequestSpec) -> bytes:
        body: dict[str, Any] = dict(spec.body)
        body["model"] = self.model
        body["stream"] = True
        body["stream_options"] = {"include_usage": True, "continuous_usage_stats": False}
        if self.token_ids:
            body["return_token_ids"] = True
        return json.dumps(body).encode()


def _split_events(buffer: bytearray, arrival_ns: int, out: list[tuple[int, bytes]]) -> None:
    """Move complete SSE events (terminated by a blank line) from `buffer` into `out`."""
    while True:
        end = buffer.find(b"\n\n")
        if end < 0:
            return
        event = bytes(buffer[:end])
        del buffer[: end + 2]
        out.append((arrival_ns, event))


def _parse_events(events: list[tuple[int, bytes]]) -> dict[str, Any]:
    """Parse the stream after it ended: content chunk times, tokens per chunk, usage, error."""
    chunk_ns: list[int] = []
    chunk_tokens: list[int] = []
    usage: dict[str, Any] | None = None
    error: str | None = None
    text_chunks = 0
    for arrival_ns, event in events:
        for line in event.split(b"\n"):
            line = line.strip()
            if not line.startswith(_DATA):
                continue
            payload = line[len(_DATA) :].strip()
            if payload == _DONE or not payload:
                continue
            obj = json.loads(payload)
            if "error" in obj and not obj.get("choices"):
                err = obj["error"]
                error = err.get("message", str(err)) if isinstance(err, dict) else str(err)
                continue
            if obj.get("usage"):
                usage = obj["usage"]
            for choice in obj.get("choices") or []:
                text = choice.get("text")
                if text is None:
                    delta = choice.get("delta") or {}
                    text = delta.get("content") or delta.get("reasoning_content") or ""
                ids = choice.get("token_ids")
                n = len(ids) if ids is not None else (1 if text else 0)
                if n or text:
                    chunk_ns.append(arrival_ns)
                    chunk_tokens.append(n)
                    text_chunks += 1
    return {"chunk_ns": chunk_ns, "chunk_tokens": chunk_tokens, "usage": usage, "error": error}


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


async def send_streaming(
    session: aiohttp.ClientSession,
    target: StreamTarget,
    spec: RequestSpec,
    index: int,
    *,
    scheduled_ns: int | None = None,
    worker: int = 0,
) -> RequestRecord:
    """Send one streaming request and return its record (never raises for request failures).

    Errors are classified: `http_<status>`, `timeout`, `connection`, `stream_error`,
    `incomplete_stream`, `cancelled`.
    """
    url = target.url_for(spec.api)
    body = target.body_for(spec)
    events: list[tuple[int, bytes]] = []
    buffer = bytearray()
    sent_ns = time.perf_counter_ns()
    common: dict[str, Any] = {"scheduled_ns": scheduled_ns, "worker": worker}
    try:
        async with asyncio.timeout(target.timeout_s):
            async with session.post(url, data=body, headers=target.headers) as resp:
                if resp.status != 200:
                    detail = (await resp.text())[:500]
                    return _record(
                        spec,
                        index,
                        sent_ns,
                        time.perf_counter_ns(),
                        status="error",
                        error_class=f"http_{resp.status}",
                        error_message=detail,
                        http_status=resp.status,
                        **common,
                    )
                async for data in resp.content.iter_any():
                    buffer += data
                    _split_events(buffer, time.perf_counter_ns(), events)
    except TimeoutError:
        return _record(
            spec,
            index,
            sent_ns,
            time.perf_counter_ns(),
            status="timeout",
            error_class="timeout",
            error_message=f"no completion within {target.timeout_s} s",
            **common,
        )
    except asyncio.CancelledError:
        return _record(
            spec,
            index,
            sent_ns,
            time.perf_counter_ns(),
            status="cancelled",
            error_class="cancelled",
            error_message="cancelled before completion",
            **common,
        )
    except (aiohttp.ClientError, OSError) as exc:
        return _record(
            spec,
            index,
            sent_ns,
            time.perf_counter_ns(),
            status="error",
            error_class="connection",
            error_message=f"{type(exc).__name__}: {exc}"[:500],
            **common,
        )
    done_ns = time.perf_counter_ns()
    try:
        parsed = _parse_events(events)
    except (ValueError, KeyError, TypeError) as exc:
        return _record(
            spec,
            index,
            sent_ns,
            done_ns,
            status="error",
            error_class="stream_error",
            error_message=f"unparseable stream: {exc}"[:500],
            **common,
        )
    chunk_ns = parsed["chunk_ns"]
    usage = parsed["usage"] or {}
    details = usage.get("prompt_tokens_details") or {}
    fields: dict[str, Any] = {
        "chunk_ns": chunk_ns,
        "chunk_tokens": parsed["chunk_tokens"],
        "first_chunk_ns": chunk_ns[0] if chunk_ns else None,
        "last_chunk_ns": chunk_ns[-1] if chunk_ns else None,
        "input_tokens": usage.get("prompt_tokens"),
        "output_tokens": usage.get("completion_tokens"),
        "cached_input_tokens": details.get("cached_tokens"),
        "client_output_tokens": sum(parsed["chunk_tokens"]),
        **common,
    }
    if parsed["error"] is not None:
        return _record(
            spec,
            index,
            sent_ns,
            done_ns,
            status="error",
            error_class="stream_error",
            error_message=parsed["error"][:500],
            **fields,
        )
    if not chunk_ns or parsed["usage"] is None:
        return _record(
            spec,
            index,
            sent_ns,
            done_ns,
            status="error",
            error_class="incomplete_stream",
            error_message="stream ended without content or usage (server died mid-response?)",
            **fields,
        )
    return _record(spec, index, sent_ns, done_ns, status="ok", **fields)
