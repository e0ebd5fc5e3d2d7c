"""Server-sent events of an OpenAI-compatible stream, classified after the stream ended.

The result of every classifier here is `{"chunk_ns", "chunk_tokens", "usage", "error",
"done"}`: content chunks (a choice with non-empty text, or with token ids) with their
arrival time and tokens (`len(token_ids)`, else 1), the last usage seen, the error message
of an error event, and whether the stream's `[DONE]` arrived (it tells a finished stream
without usage from one cut short). `parse_events_json` is the definition: json.loads on every event.

`parse_reads` gives the same result at a fraction of the cost. Within one stream, the
plain content chunks are byte-for-byte alike except for their text (and token ids): the
first one is parsed as JSON and, if it is plain (one choice, text as the only string that
varies, no usage), becomes a `Template`: the bytes before the text, between the text and
the token-id list, and after. A later event that starts and ends with those bytes and
whose text holds no `"` (so cannot hide other JSON) has the same structure, so its
classification is read off the template: no JSON, three memcmp-like checks. Anything that
does not match goes through json.loads.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

_DATA = b"data:"
_DONE = b"[DONE]"
_SEP = b"\n\n"


def split_events(buffer: bytearray, arrival_ns: int, out: list[tuple[int, bytes]]) -> None:
    """Move complete SSE events (terminated by a blank line) from `buffer` into `out`."""
    while True:
        end = buffer.find(_SEP)
        if end < 0:
            return
        event = bytes(buffer[:end])
        del buffer[: end + 2]
        out.append((arrival_ns, event))


def events_from_reads(reads: list[bytes], stamps: list[int]) -> list[tuple[int, bytes]]:
    """SSE events (without their blank line) of a body that arrived as `reads`, each
    stamped with the read that completed it; CRLF line ends normalised to LF."""
    out: list[tuple[int, bytes]] = []
    buffer = bytearray()
    for data, ts in zip(reads, stamps, strict=True):
        _add_read(buffer, data, ts, out)
    _flush(buffer, stamps, out)
    return out


def _add_read(buffer: bytearray, data: bytes, ts: int, out: list[tuple[int, bytes]]) -> None:
    carried_cr = buffer.endswith(b"\r")  # its LF may arrive with this read
    buffer += data
    if carried_cr or b"\r" in data:
        buffer[:] = bytes(buffer).replace(b"\r\n", b"\n")
    split_events(buffer, ts, out)


def _flush(buffer: bytearray, stamps: list[int], out: list[tuple[int, bytes]]) -> None:
    if buffer.strip():
        out.append((stamps[-1], bytes(buffer)))  # an unterminated last event still counts


def _payloads(event: bytes) -> list[bytes]:
    """The data payloads of one event (one per `data:` line, the usual case being one)."""
    if event.startswith(b"data: ") and b"\n" not in event:
        return [event[6:].strip()]
    out = []
    for line in event.split(b"\n"):
        line = line.strip()
        if line.startswith(_DATA):
            out.append(line[len(_DATA) :].strip())
    return out


class _Parsed:
    __slots__ = ("chunk_ns", "chunk_tokens", "usage", "error", "done")

    def __init__(self) -> None:
        self.chunk_ns: list[int] = []
        self.chunk_tokens: list[int] = []
        self.usage: Any = None
        self.error: str | None = None
        self.done = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "chunk_ns": self.chunk_ns,
            "chunk_tokens": self.chunk_tokens,
            "usage": self.usage,
            "error": self.error,
            "done": self.done,
        }


def _json_payload(parsed: _Parsed, arrival_ns: int, obj: Any) -> None:
    """Classify one decoded payload (the definition every fast path must agree with)."""
    if "error" in obj and not obj.get("choices"):
        err = obj["error"]
        parsed.error = err.get("message", str(err)) if isinstance(err, dict) else str(err)
        return
    if obj.get("usage"):
        parsed.usage = obj["usage"]  # checked by the client: it may be of any JSON type
    for choice in obj.get("choices") or []:
        text = choice.get("text")
        if text is None:
            delta = choice.get("delta") or {}
            text = delta.get("content") or delta.get("reasoning_content") or ""
        ids = choice.get("token_ids")
        n = len(ids) if ids is not None else (1 if text else 0)
        if n or text:
            parsed.chunk_ns.append(arrival_ns)
            parsed.chunk_tokens.append(n)


def parse_events_json(events: list[tuple[int, bytes]]) -> dict[str, Any]:
    """Content chunk times, tokens per chunk, usage and error, json.loads on every event.

    Raises:
        ValueError: an event's data is not JSON.
    """
    parsed = _Parsed()
    for arrival_ns, event in events:
        for payload in _payloads(event):
            if payload == _DONE:
                parsed.done = True
            elif payload:
                _json_payload(parsed, arrival_ns, json.loads(payload))
    return parsed.as_dict()


def _string_end(data: bytes, start: int) -> int:
    """Index of the `"` closing the JSON string whose content starts at `start`, or -1."""
    i = start
    while True:
        i = data.find(b'"', i)
        if i < 0:
            return -1
        backslashes = 0
        while data[i - 1 - backslashes] == 92:  # "\\"
            backslashes += 1
        if backslashes % 2 == 0:
            return i
        i += 1


class Template:
    """The fixed bytes of a stream's plain content chunks, around their text and ids.

    An event matches when it is `prefix + text + middle + ids + suffix` (or, without ids,
    `prefix + text + suffix`) with no `"` in the text and only a flat list in the ids.
    """

    __slots__ = ("prefix", "middle", "suffix", "with_ids", "framed_suffix")

    def __init__(self, prefix: bytes, middle: bytes, suffix: bytes, with_ids: bool) -> None:
        self.prefix, self.middle, self.suffix, self.with_ids = prefix, middle, suffix, with_ids
        self.framed_suffix = suffix + b"\r\n"  # the suffix as it ends a chunk of HTTP framing

    @classmethod
    def learn(cls, event: bytes, obj: Any) -> Template | None:
        """A template from an event (with its trailing blank line, if it arrived with one)
        whose decoded payload `obj` is one plain content choice; None when it is not."""
        choices = obj.get("choices") if isinstance(obj, dict) else None
        if obj.get("usage") or "error" in obj or not isinstance(choices, list):
            return None
        if len(choices) != 1 or not isinstance(choices[0], dict):
            return None
        choice = choices[0]
        key = b'"text":"'
        if "text" not in choice:
            delta = choice.get("delta")
            if not isinstance(delta, dict) or set(delta) - {"content"}:
                return None  # reasoning, tool calls, role: JSON every time
            key = b'"content":"'
            text = delta.get("content")
        else:
            text = choice["text"]
        if not isinstance(text, str) or event.count(key) != 1:
            return None
        start = event.find(key) + len(key)
        end = _string_end(event, start)
        if end < 0 or json.loads(event[start - 1 : end + 1]) != text:
            return None
        ids = choice.get("token_ids")
        if ids is None:
            return cls(event[:start], b"", event[end:], with_ids=False)
        ids_key = b'"token_ids":['
        if not isinstance(ids, list) or event.count(ids_key) != 1:
            return None
        i = event.find(ids_key)
        j = event.find(b"]", i)
        if i < end or j < 0:
            return None
        return cls(event[:start], event[end : i + len(ids_key)], event[j:], with_ids=True)

    def tokens(self, data: bytes, start: int, end: int) -> int:
        """Classify the event `data[start:end]` (blank line included) by the template.

        Returns -1: no match (parse it as JSON); -2: a match that is not a content chunk;
        else the chunk's tokens.
        """
        prefix, suffix = self.prefix, self.suffix
        if not (data.startswith(prefix, start) and data.endswith(suffix, start, end)):
            return -1
        return self.body_tokens(data, start + len(prefix), end - len(suffix))

    def body_tokens(self, data: bytes, lp: int, stop: int) -> int:
        """`tokens` for an event already known to start with the prefix and end with the
        suffix: `data[lp:stop]` is what lies between them (text, and middle and ids)."""
        if not self.with_ids:
            if stop <= lp:
                return -1 if stop < lp else -2
            if data.find(b'"', lp, stop) >= 0 or data.find(b"\n", lp, stop) >= 0:
                return -1
            return -1 if data[stop - 1] == 92 else 1  # a trailing "\\" would escape the quote
        k = data.find(self.middle, lp, stop)
        text = data[lp:k]
        if k < 0 or b'"' in text or b"\n" in text or data[k - 1] == 92:  # "\\" escapes
            return -1
        ids = data[k + len(self.middle) : stop]
        if b"]" in ids or b'"' in ids or b"{" in ids or b"[" in ids:
            return -1
        n = ids.count(b",") + 1 if ids.strip() else 0
        return n if n or k > lp else -2


class StreamParser:
    """Classifies a body read by read, as it arrives (`feed`), so the work of a stream is
    spread over its life instead of landing when it ends (hundreds of streams ending
    together would otherwise stall the event loop, and every timestamp behind it).

    `feed(data, ts)` takes each read's payload (transfer framing removed); `result()`
    gives `parse_events_json`'s result for the whole body.
    """

    __slots__ = (
        "parsed", "template", "tokens", "buffer", "pending", "error", "last_ts", "defer",
        "held",
    )  # fmt: skip

    def __init__(self, defer: Callable[[Callable[[], None]], None] | None = None) -> None:
        """`defer(job)`: run `job()` soon, between reads (`bench.loadgen.later`). With it,
        reads that arrive before the stream's template is known (the first event needs a
        json.loads and the learning) are held and classified by that job instead of at
        once: the read is stamped either way, and other streams' reads arriving in the
        same instant are not stamped behind the JSON work."""
        self.parsed = _Parsed()
        self.template: Template | None = None
        self.tokens: Any = None
        self.buffer = bytearray()
        self.pending: list[tuple[int, bytes]] = []
        self.error: Exception | None = None
        self.last_ts = 0
        self.defer = defer
        self.held: list[tuple[bytes, int]] = []

    def feed(self, data: bytes, ts: int) -> None:
        """One read's payload, stamped `ts`; never raises (a bad event is kept for result)."""
        self.last_ts = ts
        tokens = self.tokens
        if tokens is not None and not self.buffer:  # the usual read: one event; a match
            n = tokens(data, 0, len(data))  # proves it (see Template)
            if n >= 0:
                self.parsed.chunk_ns.append(ts)
                self.parsed.chunk_tokens.append(n)
                return
            if n == -2:
                return
        if self.defer is not None and tokens is None and self.error is None:
            if not self.held:
                self.defer(self.catch_up)
            self.held.append((data, ts))
            return
        self._classify(data, ts)

    def catch_up(self) -> None:
        """Classify the held reads, in arrival order."""
        held, self.held = self.held, []
        for data, ts in held:
            self._classify(data, ts)

    def _classify(self, data: bytes, ts: int) -> None:
        if self.error is None:
            try:
                self._feed(data, ts)
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                self.error = exc

    def _feed(self, data: bytes, ts: int) -> None:
        parsed = self.parsed
        if not self.buffer and data.endswith(_SEP):  # whole events only
            pos, size = 0, len(data)
            while pos < size:
                end = data.find(_SEP, pos) + 2
                n = self.tokens(data, pos, end) if self.tokens is not None else -1
                if n >= 0:
                    parsed.chunk_ns.append(ts)
                    parsed.chunk_tokens.append(n)
                elif n == -1:
                    event = data if pos == 0 and end == size else data[pos:end]
                    self._exact(ts, event)
                pos = end
            return
        _add_read(self.buffer, data, ts, self.pending)
        for arrival_ns, event in self.pending:
            self._exact(arrival_ns, event + _SEP)
        self.pending.clear()

    def _exact(self, ts: int, event: bytes) -> None:
        self.template = _exact(self.parsed, ts, event, self.template)
        self.tokens = self.template.tokens if self.template is not None else None

    def result(self) -> dict[str, Any]:
        """The classification of everything fed.

        Raises:
            ValueError (or KeyError, TypeError, AttributeError): an event was not valid
                JSON of an OpenAI-compatible stream.
        """
        if self.held:
            self.catch_up()
        if self.error is None and self.buffer.strip():
            try:  # an unterminated last event still counts
                self._exact(self.last_ts, bytes(self.buffer))
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                self.error = exc
            self.buffer.clear()
        if self.error is not None:
            raise self.error
        return self.parsed.as_dict()


def parse_reads(reads: list[bytes], stamps: list[int]) -> dict[str, Any]:
    """`parse_events_json(events_from_reads(reads, stamps))`, through `StreamParser`.

    Raises:
        ValueError: an event's data is not JSON.
    """
    parser = StreamParser()
    for data, ts in zip(reads, stamps, strict=True):
        parser.feed(data, ts)
    return parser.result()


def _exact(parsed: _Parsed, ts: int, event: bytes, template: Template | None) -> Template | None:
    """Classify `event` through json.loads; learn a template from it if none is known."""
    payloads = _payloads(event.removesuffix(_SEP))
    for payload in payloads:
        if payload == _DONE:
            parsed.done = True
        elif payload:
            obj = json.loads(payload)
            _json_payload(parsed, ts, obj)
            if template is None and len(payloads) == 1 and event.startswith(b"data:"):
                template = Template.learn(event, obj)
    return template


def parse_events(events: list[tuple[int, bytes]]) -> dict[str, Any]:
    """Same as `parse_events_json` (kept for callers holding split events)."""
    return parse_events_json(events)
