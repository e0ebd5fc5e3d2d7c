"""A misbehaving OpenAI-compatible server for the fault tests, bound to 127.0.0.1 only.

It is the synthetic server (`bench.synth`: vLLM's wire format, exact timing) with faults
switched on by flag. Generation faults hit every `--every`-th generation request (arrival
order from 1: `--every 5` breaks requests 5, 10, 15 ...); the others are served normally.

    usage_float       usage.completion_tokens is 3.5 (well-formed JSON, wrong type)
    usage_string      usage is the string "lots"
    usage_inflated    usage.completion_tokens is twice what was streamed
    no_usage          stream_options.include_usage ignored: [DONE] and no usage event
    close_reused      a request arriving on an already used keep-alive connection: the
                      connection is closed, unanswered (the server dropped it while idle)
    cut_after_head    the 200 head and the first content chunk, then the connection closes
    metrics_binary    /metrics answers bytes that are not UTF-8
    metrics_nan       /metrics counters are NaN and +Inf
    models_malformed  /v1/models answers JSON that is not a model list
    models_drip       /v1/models answers one byte every 0.5 s and never finishes
    unhealthy         /health answers 503 (a server that never finishes starting)

`GET /faults/stats` answers what the server saw: generation requests received, connections
closed unanswered, responses cut.

    python tests/faults/fault_server.py --fault usage_float --every 5 --ttft-ms 5 --itl-ms 1

prints `fault-server-port=<port>` once listening; SIGTERM or SIGINT stops it. In tests:
`with FaultServer("usage_float", every=5) as server: ... server.base_url ...`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import select
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO))

from bench.synth import http1, wire  # noqa: E402
from bench.synth.connection import Connection  # noqa: E402
from bench.synth.records import SynthConfig  # noqa: E402
from bench.synth.server import SynthCore, new_event_loop  # noqa: E402

GENERATION_FAULTS = (
    "usage_float", "usage_string", "usage_inflated", "no_usage", "close_reused",
    "cut_after_head",
)  # fmt: skip
SIDE_FAULTS = ("metrics_binary", "metrics_nan", "models_malformed", "models_drip", "unhealthy")
READY = "fault-server-port="
_GENERATION_PATHS = ("/v1/completions", "/v1/chat/completions")
_DRIP_S = 0.5


class FaultCore(SynthCore):
    """The synthetic server's core, with the chosen faults."""

    def __init__(self, config: SynthConfig, loop: Any, faults: set[str], every: int) -> None:
        super().__init__(config, loop)
        self.faults = faults
        self.every = every
        self.arrived = 0
        self.closed_unanswered = 0
        self.cut = 0
        self.served_on: dict[int, int] = {}  # id(connection) -> requests it carried

    def handle(self, conn: Connection, req: http1.HttpRequest, now_ns: int) -> None:
        if req.path == "/faults/stats":
            stats = {"generation_requests": self.arrived, "cut": self.cut,
                     "closed_unanswered": self.closed_unanswered}  # fmt: skip
            conn.respond(200, json.dumps(stats).encode(), req.keep_alive, "application/json")
        elif req.path == "/health" and "unhealthy" in self.faults:
            conn.respond(503, b"", req.keep_alive, "application/json")
        elif req.path in ("/metrics", "/v1/models") and self._side(conn, req):
            return
        elif req.path in _GENERATION_PATHS and req.method == "POST":
            self._generation(conn, req, now_ns)
        else:
            super().handle(conn, req, now_ns)

    # -- side channels ---------------------------------------------------------------------

    def _side(self, conn: Connection, req: http1.HttpRequest) -> bool:
        """Answer a faulty /metrics or /v1/models; False when no fault applies."""
        body: bytes | None = None
        if req.path == "/metrics" and "metrics_binary" in self.faults:
            body = b"vllm:generation_tokens_total \xff\xfe\x80 1.0\n"
        elif req.path == "/metrics" and "metrics_nan" in self.faults:
            body = (
                b'vllm:generation_tokens_total{engine="0"} NaN\n'
                b'vllm:prompt_tokens_total{engine="0"} +Inf\n'
            )
        elif req.path == "/v1/models" and "models_malformed" in self.faults:
            body = b'{"object": "list", "data": "not a list of models"'
        elif req.path == "/v1/models" and "models_drip" in self.faults:
            conn.transport.write(http1.response_head(200, "application/json", length=10**6,
                                                     keep_alive=True))  # fmt: skip
            self._drip(conn)
            return True
        if body is None:
            return False
        conn.respond(200, body, req.keep_alive, "text/plain")
        return True

    def _drip(self, conn: Connection) -> None:
        if not conn.closed:
            conn.transport.write(b" ")
            self.loop.call_later(_DRIP_S, self._drip, conn)

    # -- generation ------------------------------------------------------------------------

    def _generation(self, conn: Connection, req: http1.HttpRequest, now_ns: int) -> None:
        self.arrived += 1
        reused = self.served_on.get(id(conn), 0) > 0
        self.served_on[id(conn)] = self.served_on.get(id(conn), 0) + 1
        hit = self.arrived % self.every == 0
        if hit and "close_reused" in self.faults and reused:
            self.closed_unanswered += 1
            conn.closed = True
            conn.transport.close()
            return
        if hit and "cut_after_head" in self.faults:
            self._cut(conn, req)
            return
        if hit and "no_usage" in self.faults:
            body = json.loads(req.body)
            body.pop("stream_options", None)
            req.body = json.dumps(body).encode()
        super().handle(conn, req, now_ns)
        stream = conn.active
        if (
            hit
            and stream is not None
            and stream.stream
            and self.faults & {"usage_float", "usage_string", "usage_inflated"}
        ):
            self._bad_usage(stream)

    def _cut(self, conn: Connection, req: http1.HttpRequest) -> None:
        self.cut += 1
        head = wire.event_head("completions", "cmpl-cut", 0, self.config.model)
        event = wire.content_event("completions", head, wire.TOKEN_TEXT, final=False)
        conn.transport.write(
            http1.response_head(200, "text/event-stream; charset=utf-8", length=None,
                                keep_alive=True) + http1.http_chunk(event)
        )  # fmt: skip
        conn.closed = True
        conn.transport.close()

    def _bad_usage(self, stream: Any) -> None:
        """Replace the usage event of `stream` (in the payloads not yet sent)."""
        good = wire.usage_json(stream.prompt_tokens, stream.max_tokens)
        if "usage_float" in self.faults:
            tokens = f'"completion_tokens":{stream.max_tokens}'
            bad = good.replace(tokens, '"completion_tokens":3.5')
        elif "usage_string" in self.faults:
            bad = '"lots"'
        else:
            bad = wire.usage_json(stream.prompt_tokens, 2 * stream.max_tokens)
        old, new = good.encode(), bad.encode()
        for name in ("first", "last", "trailer"):
            payload = getattr(stream, name)
            if old in payload:  # the chunk's length prefix changes with its payload
                setattr(stream, name, _reframe(payload, old, new))


def _reframe(payload: bytes, old: bytes, new: bytes) -> bytes:
    """`payload` (HTTP chunks) with `old` replaced by `new` inside its chunks, re-framed."""
    out, pos = [], 0
    while pos < len(payload):
        eol = payload.index(b"\r\n", pos)
        size = int(payload[pos:eol], 16)
        data = payload[eol + 2 : eol + 2 + size]
        pos = eol + 2 + size + 2
        if size == 0:
            out.append(b"0\r\n\r\n")
            break
        out.append(http1.http_chunk(data.replace(old, new)))
    return b"".join(out)


async def serve(config: SynthConfig, faults: set[str], every: int) -> None:
    """Listen on 127.0.0.1, print the port, serve until SIGTERM/SIGINT."""
    loop = asyncio.get_running_loop()
    core = FaultCore(config, loop, faults, every)
    listener = await loop.create_server(lambda: Connection(core), "127.0.0.1", config.port)
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, core.request_stop)
    print(f"{READY}{listener.sockets[0].getsockname()[1]}", flush=True)
    try:
        await core.stopped
    finally:
        listener.close()
        core.shutdown()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fault", action="append", default=[],
                        choices=GENERATION_FAULTS + SIDE_FAULTS)  # fmt: skip
    parser.add_argument("--every", type=int, default=1)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--ttft-ms", type=float, default=2.0)
    parser.add_argument("--itl-ms", type=float, default=0.5)
    parser.add_argument("--model", default="synth")
    parser.add_argument("--pids-file", help="start a child (as vLLM starts its engine core) "
                        "and write 'server_pid child_pid' here")  # fmt: skip
    args = parser.parse_args(argv)
    if args.pids_file:
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        Path(args.pids_file).write_text(f"{os.getpid()} {child.pid}")
    config = SynthConfig(port=args.port, ttft_s=args.ttft_ms / 1e3, itl_s=args.itl_ms / 1e3,
                         model=args.model)  # fmt: skip
    loop = new_event_loop()
    try:
        loop.run_until_complete(serve(config, set(args.fault), max(1, args.every)))
    finally:
        loop.close()


class FaultServer:
    """The fault server in a subprocess: `with FaultServer("no_usage") as s: s.base_url`."""

    def __init__(self, *faults: str, every: int = 1, ttft_ms: float = 2.0,
                 itl_ms: float = 0.5) -> None:  # fmt: skip
        self.args = [f"--fault={f}" for f in faults] + [
            f"--every={every}",
            f"--ttft-ms={ttft_ms}",
            f"--itl-ms={itl_ms}",
        ]
        self.proc: subprocess.Popen[str] | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FaultServer:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, *self.args], stdout=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )  # fmt: skip
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], 30)
        line = self.proc.stdout.readline() if ready else ""
        if not line.startswith(READY):
            self.stop()
            raise RuntimeError(f"fault server did not start (said {line!r})")
        self.port = int(line[len(READY) :])
        return self

    def stats(self) -> dict[str, int]:
        with urllib.request.urlopen(self.base_url + "/faults/stats", timeout=10) as resp:
            return dict(json.loads(resp.read()))

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def __enter__(self) -> FaultServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


if __name__ == "__main__":
    main()
