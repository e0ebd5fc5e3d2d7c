"""The synthetic OpenAI-compatible streaming server, on raw asyncio (uvloop where available).

Hot path per chunk: one pre-encoded `bytes` object handed to `transport.write`, one
`perf_counter_ns` stamp appended to an `array('q')`, one timer-wheel append. No framework,
no per-chunk JSON, no task per stream: every stream due in the same 50 µs slot is served by
one wake-up of the loop (`scheduler.TimerWheel`). Routes:

    POST /v1/completions, /v1/chat/completions  (stream or not; include_usage honoured)
    GET  /health, /v1/models, /metrics           (vLLM-style counters and gauges)
    POST /reset_prefix_cache                     (200, nothing to reset)
    GET  /synth/records[?clear=1&active=1]       what was sent and when, JSONL (active=1:
                                                 with snapshots of streams in flight)
    GET  /synth/stats[?since_ns=&until_ns=&clear=1]  lateness and CPU share (window), JSON
    POST /synth/records/dump                     write the records to --record now

Start it in-process with `SynthServer` (bench/synth/control.py) or `bench synth serve`.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from array import array
from collections.abc import Callable
from fractions import Fraction
from typing import Any

from bench.synth import http1, wire
from bench.synth.connection import Connection
from bench.synth.records import (
    Endpoint,
    Outcome,
    SynthConfig,
    SynthRequestRecord,
    cpu_fraction,
    lateness_summary,
    write_records,
)
from bench.synth.scheduler import TimerWheel
from bench.synth.stream import Stream

_pc = time.perf_counter_ns
CPU_SAMPLE_S = 0.1  # how often the loop thread's CPU time is sampled (for /synth/stats)
_GENERATION: dict[str, Endpoint] = {
    "/v1/completions": "completions",
    "/v1/chat/completions": "chat",
}
_OTHER = {
    "/health": "GET",
    "/v1/models": "GET",
    "/metrics": "GET",
    "/reset_prefix_cache": "POST",
    "/synth/records": "GET",
    "/synth/stats": "GET",
    "/synth/records/dump": "POST",
}


class SynthCore:
    """Server state inside one event loop: routing, scheduling, counters, records."""

    def __init__(self, config: SynthConfig, loop: asyncio.AbstractEventLoop) -> None:
        self.config = config
        self.loop = loop
        self.wheel = TimerWheel(loop, max(1, round(config.tick_s * 1e9)), self._fire)
        self.ttft_ns = round(config.ttft_s * 1e9)
        self.gap_ns = round(config.itl_s * 1e9)
        self.fail = Fraction(config.fail_rate).limit_denominator(1_000_000)
        self.seq = 0
        self.active: set[Stream] = set()
        self.raw_records: list[tuple[Any, ...]] = []
        self.prompt_tokens_total = 0
        self.finished_generation_tokens = 0
        self.success_total = 0
        self.created = int(time.time())
        self.stopped: asyncio.Future[None] = loop.create_future()
        self.control_port: int | None = None  # a group member's private port
        self.cpu_times_ns = array("q")  # when, and how much CPU the loop thread had used
        self.cpu_used_ns = array("q")
        self._cpu_handle: asyncio.Handle | None = loop.call_soon(self._sample_cpu)

    def _sample_cpu(self) -> None:
        """Record the loop thread's CPU time now (thread time: user + system, this thread
        only, so a server thread inside a client process is measured alone)."""
        self.cpu_times_ns.append(_pc())
        self.cpu_used_ns.append(time.thread_time_ns())
        self._cpu_handle = self.loop.call_later(CPU_SAMPLE_S, self._sample_cpu)

    # -- routing ---------------------------------------------------------------------------

    def handle(self, conn: Connection, req: http1.HttpRequest, now_ns: int) -> None:
        endpoint = _GENERATION.get(req.path)
        if endpoint is not None and req.method == "POST":
            self._generate(conn, req, endpoint, now_ns)
            return
        want = _OTHER.get(req.path) or ("POST" if endpoint else None)
        if want is None:
            conn.respond(404, b'{"detail":"Not Found"}', req.keep_alive, "application/json")
        elif want != req.method:
            conn.respond(
                405, b'{"detail":"Method Not Allowed"}', req.keep_alive, "application/json"
            )
        else:
            status, body, ctype = self._simple(req)
            conn.respond(status, body, req.keep_alive, ctype)

    def _simple(self, req: http1.HttpRequest) -> tuple[int, bytes, str]:
        if req.path in ("/health", "/reset_prefix_cache"):
            return 200, b"", "application/json"
        if req.path == "/metrics":
            text = wire.metrics_text(
                self.config.model, running=len(self.active), waiting=0,
                prompt_tokens=self.prompt_tokens_total,
                generation_tokens=self.generation_tokens(), success=self.success_total,
            )  # fmt: skip
            return 200, text.encode(), "text/plain; version=0.0.4; charset=utf-8"
        if req.path == "/v1/models":
            cfg = self.config
            body = wire.models_json(cfg.model, self.created, cfg.max_model_len)
            return 200, body.encode(), "application/json"
        if req.path == "/synth/records/dump":
            return self._dump()
        params = dict(p.partition("=")[::2] for p in req.query.split("&") if p)
        active = req.path == "/synth/stats" or params.get("active") == "1"
        records = self.records(include_active=active)
        if params.get("clear") == "1":
            self.raw_records.clear()
        if req.path == "/synth/records":
            body = "".join(r.model_dump_json() + "\n" for r in records)
            return 200, body.encode(), "application/x-ndjson"
        try:
            since = int(params["since_ns"]) if "since_ns" in params else None
            until = int(params["until_ns"]) if "until_ns" in params else None
        except ValueError:
            return (
                400,
                wire.error_json("bad since_ns/until_ns", "BadRequestError", 400).encode(),
                "application/json",
            )
        summary = lateness_summary(records, since_ns=since, until_ns=until)
        self.cpu_times_ns.append(_pc())  # a sample now, so a window ending now is covered
        self.cpu_used_ns.append(time.thread_time_ns())
        share = cpu_fraction(self.cpu_times_ns, self.cpu_used_ns, since, until)
        summary = summary.model_copy(update={"cpu_fraction": share})
        return 200, summary.model_dump_json().encode(), "application/json"

    def _dump(self) -> tuple[int, bytes, str]:
        """Write the finished requests' records to the configured record file now."""
        path = self.config.record_path
        if path is None:
            msg = "no record file: start the server with --record PATH"
            return 400, wire.error_json(msg, "BadRequestError", 400).encode(), "application/json"
        n = write_records(self.records(), path)
        return 200, json.dumps({"path": str(path), "requests": n}).encode(), "application/json"

    def _reject(self, conn: Connection, req: http1.HttpRequest, status: int, msg: str) -> None:
        kind = {400: "BadRequestError", 404: "NotFoundError"}.get(status, "InternalServerError")
        conn.respond(
            status, wire.error_json(msg, kind, status).encode(), req.keep_alive, "application/json"
        )

    # -- generation ------------------------------------------------------------------------

    def _generate(
        self, conn: Connection, req: http1.HttpRequest, endpoint: Endpoint, now_ns: int
    ) -> None:
        cfg = self.config
        try:
            body = json.loads(req.body)
            if not isinstance(body, dict):
                raise ValueError("the request body must be a JSON object")
            spec = wire.parse_generation(
                endpoint, body, cfg.model, cfg.default_max_tokens, cfg.max_model_len
            )
        except ValueError as exc:
            self._reject(conn, req, 400, str(exc))
            return
        except LookupError as exc:
            self._reject(conn, req, 404, str(exc.args[0]))
            return
        stream_flag, max_tokens, prompt_tokens, include_usage, usage_each = spec
        s = Stream()
        s.seq = seq = self.seq
        self.seq += 1
        base_id = req.headers.get("x-request-id") or body.get("request_id") or f"synth-{seq}"
        s.rid = ("cmpl-" if endpoint == "completions" else "chatcmpl-") + str(base_id)
        s.conn, s.transport, s.keep_alive = conn, conn.transport, req.keep_alive
        s.endpoint, s.stream, s.received_ns = endpoint, stream_flag, now_ns
        s.prompt_tokens, s.max_tokens, s.tpc = prompt_tokens, max_tokens, cfg.tokens_per_chunk
        n_chunks = -(-max_tokens // cfg.tokens_per_chunk)
        s.last_tokens = max_tokens - (n_chunks - 1) * cfg.tokens_per_chunk
        s.n, s.gap, s.due0 = n_chunks, self.gap_ns, now_ns + self.ttft_ns
        fails = (self.fail * (seq + 1)).__floor__() > (self.fail * seq).__floor__()
        if fails and (cfg.fail_mode == "http_500" or not stream_flag):
            self._record(s, "http_500", 0)
            self._reject(conn, req, 500, "synthetic failure (fail_rate)")
            return
        self.prompt_tokens_total += prompt_tokens  # prefill "done" for every accepted request
        conn.busy, conn.active = True, s
        self.active.add(s)
        created = int(time.time())
        if stream_flag:
            s.fail_at = n_chunks // 2 if fails else -1
            s.usage_each = usage_each
            s.head = wire.event_head(endpoint, s.rid, created, cfg.model)
            p = wire.stream_payloads(
                endpoint, s.rid, created, cfg.model, prompt_tokens=prompt_tokens,
                max_tokens=max_tokens, tokens_per_chunk=cfg.tokens_per_chunk,
                include_usage=include_usage,
            )  # fmt: skip
            s.first, s.middle, s.last, s.trailer = p.first, p.middle, p.last, p.trailer
            s.plain = not fails and not usage_each and cfg.coalesce == 1
            head = http1.response_head(
                200, "text/event-stream; charset=utf-8", length=None, keep_alive=req.keep_alive
            )
            s.transport.write(head)
        else:  # the whole answer when its last chunk would have been due
            s.n, s.tpc, s.last_tokens = 1, max_tokens, max_tokens
            s.due0 = now_ns + self.ttft_ns + (n_chunks - 1) * self.gap_ns
            payload = wire.completion_body(
                endpoint, s.rid, created, cfg.model,
                prompt_tokens=prompt_tokens, completion_tokens=max_tokens,
            )  # fmt: skip
            s.body = http1.full_response(200, payload, keep_alive=req.keep_alive)
        self.wheel.add(s, self._write_due(s, 0))

    def _fire(self, items: list[Stream]) -> None:
        """Send what is due of every stream in `items` (the timer wheel's callback).

        A stream that is behind (several chunks due, because the gap is shorter than a
        wake-up or the server is overloaded) gets them all in one write, each recorded with
        that write's time, as a server that emits a batch of tokens at once would.
        Streams that are not `plain` (closed, failing, non-streamed, usage on every chunk)
        take `_fire_special`; the loop below is the hot path, kept flat on purpose.
        """
        pc, slot_ns, slots, add = _pc, self.wheel.slot_ns, self.wheel.slots, self.wheel.add
        for s in items:
            if not s.plain:
                self._fire_special(s)
                continue
            k, n, gap = s.k, s.n, s.gap
            ts = pc()
            m = (ts - s.due0) // gap + 1 if gap else n
            if m <= k + 1:  # the common case: exactly one chunk due
                m = k + 1
                data = s.first if k == 0 else s.last if m == n else s.middle
                s.sent.append(ts)
            else:
                if m > n:
                    m = n
                data = self._chunks(s, k, m)
                s.sent.extend(array("q", (ts,)) * (m - k))
            t = s.transport
            if t.get_write_buffer_size():
                s.backlogged += m - k
            t.write(data)
            if m < n:
                s.k = m
                due = s.due0 + m * gap
                bucket = slots.get(-(-due // slot_ns))
                if bucket is None:
                    add(s, due)
                else:
                    bucket.append(s)
            else:
                self._finish(s, "ok")

    def _write_due(self, s: Stream, k: int) -> int:
        """When the write starting at chunk k is due: chunk k's due time, or with the
        coalescing fault (K chunks per write) that of the group's last chunk."""
        if s.body is not None or self.config.coalesce == 1:
            return s.due0 + k * s.gap
        return s.due0 + (min(k + self.config.coalesce, s.n) - 1) * s.gap

    def _fire_special(self, s: Stream) -> None:
        """The rare cases of `_fire`: disconnected, injected failure, whole body, usage,
        coalescing fault."""
        if s.closed:
            self._finish(s, "disconnected")
            return
        k = s.k
        if k == s.fail_at:
            self._fail_midstream(s)
            return
        ts = _pc()
        if s.body is not None:
            data, m = s.body, 1
        else:
            m = (ts - s.due0) // s.gap + 1 if s.gap else s.n
            cap = s.fail_at if s.fail_at > k else s.n
            m = max(k + 1, min(m, cap))
            if self.config.coalesce > 1:  # a whole group, even if its wake-up came early
                m = max(m, min(k + self.config.coalesce, cap))
            data = self._chunks(s, k, m)
        if s.transport.get_write_buffer_size():
            s.backlogged += m - k
        s.sent.extend(array("q", (ts,)) * (m - k))
        s.transport.write(data)
        if m < s.n:
            s.k = m
            self.wheel.add(s, self._write_due(s, m))
        else:
            self._finish(s, "ok")

    def _chunks(self, s: Stream, k: int, m: int) -> bytes:
        """Chunks k … m−1 of stream `s` as one byte string."""
        if s.usage_each:
            return b"".join(self._chunk_with_usage(s, j) for j in range(k, m))
        parts = []
        if k == 0:
            parts.append(s.first)
            k = 1
        middles = min(m, s.n - 1) - k
        if middles > 0:
            parts.append(s.middle * middles)
        if m == s.n > 1:
            parts.append(s.last)
        return b"".join(parts)

    def _chunk_with_usage(self, s: Stream, k: int) -> bytes:
        """Slow path for `continuous_usage_stats`: every chunk carries running usage."""
        final = k == s.n - 1
        done = s.max_tokens if final else (k + 1) * s.tpc
        text = wire.TOKEN_TEXT * (s.last_tokens if final else s.tpc)
        usage = wire.usage_json(s.prompt_tokens, done)
        data = wire.content_event(s.endpoint, s.head, text, final=final, usage=usage)
        if k == 0 and s.endpoint == "chat":
            data = wire.role_event(s.head, wire.usage_json(s.prompt_tokens, 0)) + data
        return data + s.trailer if final else data

    def _fail_midstream(self, s: Stream) -> None:
        event = wire.error_json(
            "synthetic failure (fail_rate)", "InternalServerError", 500, spaced=True
        )
        s.transport.write(wire.sse(event) + wire.SSE_DONE + http1.LAST_CHUNK)
        self._finish(s, "error_chunk")

    def _finish(self, s: Stream, outcome: Outcome) -> None:
        tokens = s.tokens_sent()
        self.finished_generation_tokens += tokens
        if outcome == "ok":
            self.success_total += 1
        self._record(s, outcome, tokens)
        self.active.discard(s)
        # the record keeps the stream: drop its payload bytes, keep the timestamps
        s.first = s.middle = s.last = s.trailer = b""
        if s.body is not None:
            s.body = b""
        if s.conn.active is s:
            s.conn.response_done(s.keep_alive)

    def _record(self, s: Stream, outcome: Outcome, completion_tokens: int) -> None:
        self.raw_records.append((s, outcome, completion_tokens))

    def records(self, *, include_active: bool = False) -> list[SynthRequestRecord]:
        """Every finished request so far, and with `include_active` a snapshot of those in
        flight (outcome "in_flight", what they have sent until now)."""
        out = [s.to_record(outcome, n) for s, outcome, n in self.raw_records]
        if include_active:
            out += [s.to_record("in_flight", s.tokens_sent()) for s in self.active]
        return out

    def generation_tokens(self) -> int:
        """Tokens sent so far, finished and in-flight requests together."""
        return self.finished_generation_tokens + sum(s.tokens_sent() for s in self.active)

    # -- lifecycle -------------------------------------------------------------------------

    def request_stop(self) -> None:
        if not self.stopped.done():
            self.stopped.set_result(None)

    def shutdown(self) -> None:
        """Record in-flight streams as disconnected, close connections and the wheel."""
        for s in list(self.active):
            s.closed = s.conn.closed = True
            self._finish(s, "disconnected")
            s.transport.close()
        self.wheel.close()
        if self._cpu_handle is not None:
            self._cpu_handle.cancel()


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's loop where installed, else asyncio's."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux/macOS
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


async def serve(
    config: SynthConfig, on_ready: Callable[[int, SynthCore], None], *, member: bool = False
) -> SynthCore:
    """Listen, call `on_ready(port, core)`, serve until `core.request_stop()`, then shut down.

    A `member` of a group of server processes listens with SO_REUSEPORT (the kernel
    spreads new connections over the group) and on a private port of its own as well
    (`core.control_port`), through which the group's handle reaches this one process.
    """
    loop = asyncio.get_running_loop()
    core = SynthCore(config, loop)
    listeners = [await loop.create_server(
        lambda: Connection(core), config.host, config.port, backlog=4096, reuse_address=True,
        reuse_port=member or None,
    )]  # fmt: skip
    if member:
        listeners.append(await loop.create_server(lambda: Connection(core), config.host, 0))
        core.control_port = listeners[1].sockets[0].getsockname()[1]
    on_ready(listeners[0].sockets[0].getsockname()[1], core)
    try:
        await core.stopped
    finally:
        for listener in listeners:
            listener.close()
        core.shutdown()
    return core


def pin_to_cpu(cpu: int) -> None:
    """Pin the calling thread (the whole process when it has one thread) to `cpu`.

    Raises:
        OSError: the CPU is not allowed, or this OS cannot pin (not Linux).
    """
    if not hasattr(os, "sched_setaffinity"):
        raise OSError(0, "pinning to a CPU needs Linux")
    os.sched_setaffinity(0, {cpu})
