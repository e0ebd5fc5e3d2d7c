"""The synthetic server over real sockets (thread mode), driven by a plain aiohttp client."""

from __future__ import annotations

import asyncio
import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from waiting import wait_until

from bench.errors import UserError
from bench.synth.control import SynthServer
from bench.synth.records import SynthConfig, read_records

FAST = {"ttft_s": 0.002, "itl_s": 0.001}


@pytest.fixture(scope="module")
def server() -> Iterator[SynthServer]:
    with SynthServer(SynthConfig(**FAST), mode="thread") as srv:
        yield srv


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


async def _stream(url: str, payload: dict[str, Any], headers: dict[str, str] | None = None):
    """POST and return (status, content-type, [(t_ns, raw line)]) reading line by line."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, json=payload, headers=headers) as resp,
    ):
        lines = []
        async for line in resp.content:
            lines.append((time.perf_counter_ns(), line.decode()))
        return resp.status, resp.headers.get("content-type"), lines


def _events(lines: list[tuple[int, str]]) -> list[str]:
    """SSE well-formedness: `data: ...` lines, each followed by one blank line."""
    texts = [text for _, text in lines]
    assert len(texts) % 2 == 0
    assert all(t == "\n" for t in texts[1::2]), texts
    assert all(t.startswith("data: ") and t.endswith("\n") for t in texts[0::2]), texts
    return [t[len("data: ") : -1] for t in texts[0::2]]


def test_completion_stream_is_vllm_sse_with_usage(server: SynthServer):
    payload = {
        "model": "synth", "prompt": "one two three four", "max_tokens": 7, "stream": True,
        "stream_options": {"include_usage": True},
    }  # fmt: skip
    status, ctype, lines = _run(_stream(server.base_url + "/v1/completions", payload))
    assert status == 200 and ctype == "text/event-stream; charset=utf-8"
    events = _events(lines)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    content, usage = chunks[:-1], chunks[-1]
    assert len(content) == 7
    assert [c["choices"][0]["finish_reason"] for c in content] == [None] * 6 + ["length"]
    assert len("".join(c["choices"][0]["text"] for c in content).split()) == 7
    assert usage["choices"] == []
    assert usage["usage"] == {"prompt_tokens": 4, "total_tokens": 11, "completion_tokens": 7}
    assert {c["id"] for c in chunks} == {usage["id"]} and usage["id"].startswith("cmpl-")


def test_chat_stream_tokens_per_chunk_and_request_id():
    config = SynthConfig(**FAST, tokens_per_chunk=3)
    payload = {
        "model": "synth", "messages": [{"role": "user", "content": "hi there"}],
        "max_completion_tokens": 10, "stream": True,
    }  # fmt: skip
    with SynthServer(config, mode="thread") as srv:
        url = srv.base_url + "/v1/chat/completions"
        _, _, lines = _run(_stream(url, payload, {"X-Request-Id": "abc"}))
        record = srv.records()[0]
    chunks = [json.loads(e) for e in _events(lines)[:-1]]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    words = [len(c["choices"][0]["delta"]["content"].split()) for c in chunks[1:]]
    assert words == [3, 3, 3, 1]  # no usage chunk: include_usage was not asked
    assert chunks[0]["id"] == "chatcmpl-abc"
    assert record.chunk_tokens == [3, 3, 3, 1] and record.completion_tokens == 10
    assert record.prompt_tokens == 2 and record.request_id == "chatcmpl-abc"


def test_non_stream_answer_has_usage(server: SynthServer):
    async def go() -> dict[str, Any]:
        async with aiohttp.ClientSession() as session:
            payload = {"prompt": [1, 2, 3], "max_tokens": 5}
            async with session.post(server.base_url + "/v1/completions", json=payload) as resp:
                assert resp.status == 200
                result: dict[str, Any] = await resp.json()
                return result

    body = _run(go())
    assert body["usage"] == {
        "prompt_tokens": 3, "total_tokens": 8, "completion_tokens": 5,
        "prompt_tokens_details": None, "completion_tokens_details": None,
    }  # fmt: skip
    assert body["choices"][0]["text"] == " tok" * 5


def test_http_500_injection_is_deterministic():
    with SynthServer(SynthConfig(**FAST, fail_rate=0.25), mode="thread") as srv:

        async def go() -> list[int]:
            statuses = []
            async with aiohttp.ClientSession() as session:
                for _ in range(8):
                    payload = {"prompt": "x", "max_tokens": 2}
                    async with session.post(srv.base_url + "/v1/completions", json=payload) as r:
                        statuses.append(r.status)
                        body = await r.json()
                        if r.status == 500:
                            assert body["error"]["type"] == "InternalServerError"
            return statuses

        assert _run(go()) == [200, 200, 200, 500, 200, 200, 200, 500]
        outcomes = [r.outcome for r in sorted(srv.records(), key=lambda r: r.seq)]
    assert outcomes == ["ok"] * 3 + ["http_500"] + ["ok"] * 3 + ["http_500"]


def test_error_chunk_injection_mid_stream():
    config = SynthConfig(**FAST, fail_rate=1.0, fail_mode="error_chunk")
    payload = {
        "prompt": "x",
        "max_tokens": 6,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    with SynthServer(config, mode="thread") as srv:
        status, _, lines = _run(_stream(srv.base_url + "/v1/completions", payload))
        (record,) = srv.records()
    events = _events(lines)
    assert status == 200 and events[-1] == "[DONE]"
    assert len(events) == 5  # 3 content chunks, the error event, [DONE]; no usage chunk
    assert json.loads(events[3])["error"]["code"] == 500
    assert record.outcome == "error_chunk" and record.completion_tokens == 3


def _metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in /metrics")


def test_metrics_counters_and_running_gauge():
    with SynthServer(SynthConfig(ttft_s=0.0, itl_s=0.02), mode="thread") as srv:

        async def go() -> tuple[str, str]:
            async with aiohttp.ClientSession() as session:
                url = srv.base_url + "/v1/completions"
                for words in ("a b", "a b c"):
                    async with session.post(url, json={"prompt": words, "max_tokens": 3}) as r:
                        await r.read()
                slow = {"prompt": "a", "max_tokens": 20, "stream": True}
                async with session.post(url, json=slow) as r:
                    await r.content.readline()  # first chunk arrived: the request is running
                    async with session.get(srv.base_url + "/metrics") as m:
                        during = await m.text()
                    await r.read()
                async with session.get(srv.base_url + "/metrics") as m:
                    after = await m.text()
            return during, after

        during, after = _run(go())
    assert _metric(during, "vllm:num_requests_running") == 1.0
    assert _metric(during, "vllm:num_requests_waiting") == 0.0
    assert _metric(after, "vllm:num_requests_running") == 0.0
    assert _metric(after, "vllm:prompt_tokens_total") == 2 + 3 + 1
    assert _metric(after, "vllm:generation_tokens_total") == 3 + 3 + 20
    assert _metric(after, "vllm:request_success_total") == 3.0


def test_other_endpoints_and_errors(server: SynthServer):
    async def go() -> list[tuple[int, str]]:
        out = []
        async with aiohttp.ClientSession() as s:
            base = server.base_url
            for method, path, body in [
                ("GET", "/health", None),
                ("GET", "/v1/models", None),
                ("POST", "/reset_prefix_cache", None),
                ("GET", "/v1/completions", None),
                ("GET", "/nope", None),
                ("POST", "/v1/completions", {"model": "other", "prompt": "x"}),
                ("POST", "/v1/completions", {"prompt": "x", "max_tokens": 0}),
                ("POST", "/v1/completions", {"prompt": "x", "max_tokens": 2_000_000}),
                ("POST", "/v1/chat/completions", {"messages": "nope"}),
            ]:
                async with s.request(method, base + path, json=body) as r:
                    out.append((r.status, await r.text()))
        return out

    res = _run(go())
    assert [status for status, _ in res] == [200, 200, 200, 405, 404, 404, 400, 400, 400]
    assert json.loads(res[1][1])["data"][0]["id"] == "synth"
    assert json.loads(res[5][1])["error"]["message"] == "The model `other` does not exist."
    assert "maximum context length is 1000000" in json.loads(res[7][1])["error"]["message"]


def _recv_until(sock: socket.socket, marker: bytes, count: int) -> bytes:
    data = b""
    while data.count(marker) < count:
        part = sock.recv(65536)
        assert part, "server closed early"
        data += part
    return data


def test_pipelined_keep_alive_and_chunked_request_body(server: SynthServer):
    body = json.dumps({"prompt": "a b", "max_tokens": 1}).encode()
    plain = b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (
        len(body),
        body,
    )
    chunked = (
        b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    )
    with socket.create_connection(("127.0.0.1", server.port or 0), timeout=10) as sock:
        sock.sendall(plain + chunked + plain)  # three requests in one write
        data = _recv_until(sock, b'"completion_tokens":1', 3)
    assert data.count(b"HTTP/1.1 200 OK") == 3


def test_client_disconnect_is_recorded():
    with SynthServer(SynthConfig(ttft_s=0.0, itl_s=0.01), mode="thread") as srv:
        body = json.dumps({"prompt": "x", "max_tokens": 50, "stream": True}).encode()
        with socket.create_connection(("127.0.0.1", srv.port or 0), timeout=10) as sock:
            sock.sendall(
                b"POST /v1/completions HTTP/1.1\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
            )
            _recv_until(sock, b"data: ", 2)
        wait_until(srv.records, "the server's record of the disconnected stream")
        (record,) = srv.records()
    assert record.outcome == "disconnected"
    assert 2 <= record.completion_tokens < 50


def test_zero_gap_sends_all_chunks_in_one_write_and_record_written(tmp_path: Path):
    path = tmp_path / "rec.jsonl"
    config = SynthConfig(ttft_s=0.001, itl_s=0.0, record_path=path)
    with SynthServer(config, mode="thread") as srv:
        payload = {"prompt": "x", "max_tokens": 5, "stream": True}
        _, _, lines = _run(_stream(srv.base_url + "/v1/completions", payload))
    assert len(_events(lines)) == 6
    (record,) = read_records(path)  # written on stop
    assert len(set(record.chunk_sent_ns)) == 1 and len(record.chunk_sent_ns) == 5
    assert record.chunk_due_ns == [record.received_ns + 1_000_000] * 5


def test_continuous_usage_stats(server: SynthServer):
    payload = {
        "prompt": "a b c", "max_tokens": 3, "stream": True,
        "stream_options": {"include_usage": True, "continuous_usage_stats": True},
    }  # fmt: skip
    _, _, lines = _run(_stream(server.base_url + "/v1/completions", payload))
    chunks = [json.loads(e) for e in _events(lines)[:-1]]
    assert [c["usage"]["completion_tokens"] for c in chunks] == [1, 2, 3, 3]
    assert chunks[-1]["choices"] == []


def test_unusable_cpu_or_record_folder_is_a_user_error(tmp_path: Path):
    with pytest.raises(UserError) as info:
        SynthServer(SynthConfig(cpu=4096)).start()
    assert info.value.field == "--cpu"
    with pytest.raises(UserError) as info:
        SynthServer(SynthConfig(record_path=tmp_path / "no" / "r.jsonl")).start()
    assert info.value.field == "--record" and "does not exist" in info.value.message


def test_dump_endpoint_writes_record_file_while_serving(tmp_path: Path):
    path = tmp_path / "live.jsonl"
    with SynthServer(mode="thread", ttft_s=0.0, itl_s=0.0, record_path=path) as srv:
        payload = {"prompt": "a b c", "max_tokens": 4, "stream": True}
        _run(_stream(srv.base_url + "/v1/completions", payload))
        request = urllib.request.Request(srv.base_url + "/synth/records/dump", method="POST")
        with urllib.request.urlopen(request, timeout=10) as resp:
            answer = json.loads(resp.read())
        assert answer == {"path": str(path), "requests": 1}
        (record,) = read_records(path)
        assert record.completion_tokens == 4 and record.prompt_tokens == 3
    with SynthServer(mode="thread") as srv, pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(
            urllib.request.Request(srv.base_url + "/synth/records/dump", method="POST")
        )
    assert info.value.code == 400


def test_port_in_use_is_a_user_error_from_the_subprocess():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(UserError) as info:
            SynthServer(port=port).start()
    assert info.value.field == "--port" and "cannot listen" in info.value.message


def test_stats_report_the_servers_own_cpu_share_over_the_window():
    """A server whose loop thread burns 0.4 CPU-s says so. The server's window runs from
    its first CPU sample at or after `since` to the sample the stats request takes, so it
    lies inside [since, the request's return] and holds the whole burn: its share is at
    least 0.4 s / that span, however long a busy machine stretched it (thread time: the
    test's own thread does not count). An idle window shows almost nothing."""
    import threading

    with SynthServer(mode="thread") as srv:
        time.sleep(0.6)  # idle: samples every 0.1 s
        idle_from, idle_to = time.perf_counter_ns() - 450_000_000, time.perf_counter_ns()
        done = threading.Event()

        def burn() -> None:
            end = time.thread_time() + 0.4
            while time.thread_time() < end:
                pass
            done.set()

        since = time.perf_counter_ns() - 300_000_000  # samples before the burn are inside
        srv._loop.call_soon_threadsafe(burn)  # type: ignore[union-attr]
        done.wait(60)
        busy = srv.stats(since_ns=since)  # to the sample the request itself takes
        span_s = (time.perf_counter_ns() - since) / 1e9
        idle = srv.stats(since_ns=idle_from, until_ns=idle_to)
    assert busy.cpu_fraction is not None and busy.cpu_fraction >= 0.4 / span_s
    assert idle.cpu_fraction is not None and idle.cpu_fraction < 0.1


def test_several_processes_share_one_port_and_one_record(tmp_path: Path):
    """Two server processes on one port (SO_REUSEPORT): 32 connections spread over both
    (all on one has odds 2 × 2⁻³² against), every request in the merged record exactly
    once, a summary and a record file covering both, the busiest member's CPU share."""
    from bench.config.run import ConcurrencyLoad
    from bench.loadgen.client import StreamTarget
    from bench.loadgen.drive import drive
    from bench.records import RequestSpec

    path = tmp_path / "group.jsonl"
    specs = [RequestSpec(request_id=f"g{i:02d}", body={"prompt": "a b", "max_tokens": 8},
                         requested_output_tokens=8) for i in range(64)]  # fmt: skip
    records = []
    with SynthServer(SynthConfig(**FAST, processes=2, record_path=path)) as srv:
        assert len(set(srv.pids)) == 2
        target = StreamTarget(srv.base_url, "synth", token_ids=False)
        _run(drive(target, specs, ConcurrencyLoad(concurrency=32), on_record=records.append))
        served = srv.records()
        per_member = [len(srv.records_of(i)) for i in range(2)]
        stats = srv.stats()
    assert [r.status for r in records] == ["ok"] * 64
    assert sorted(r.request_id for r in served) == [f"cmpl-g{i:02d}" for i in range(64)]
    assert sum(per_member) == 64 and min(per_member) > 0
    assert stats.processes == 2 and stats.requests == 64 and stats.chunks == 64 * 8
    assert stats.cpu_fraction is not None and 0 <= stats.cpu_fraction < 1.5
    assert srv.summary is not None and srv.summary.requests == 64
    assert sorted(r.request_id for r in read_records(path)) == sorted(r.request_id for r in served)


def test_several_processes_need_their_own_processes_not_threads():
    with pytest.raises(ValueError, match="need mode='process'"):
        SynthServer(SynthConfig(processes=2), mode="thread")


def test_requests_arriving_together_are_stamped_before_any_is_parsed(monkeypatch):
    """Ten requests written at once on ten connections, each taking the server 3 ms to
    parse: they are stamped as they are read, not each after parsing those before it
    (which would spread the stamps over ~27 ms and put the server's own backlog into the
    client's TTFT error)."""
    from bench.synth import server as server_module

    generate = server_module.SynthCore._generate

    def slow(self, *args):  # type: ignore[no-untyped-def]
        time.sleep(0.003)
        return generate(self, *args)

    monkeypatch.setattr(server_module.SynthCore, "_generate", slow)
    body = json.dumps({"prompt": "a b", "max_tokens": 1, "stream": True}).encode()
    with SynthServer(SynthConfig(ttft_s=0.001, itl_s=0.001), mode="thread") as srv:
        socks = [socket.create_connection(("127.0.0.1", srv.port or 0)) for _ in range(10)]
        time.sleep(0.05)
        for i, sock in enumerate(socks):
            sock.sendall(
                b"POST /v1/completions HTTP/1.1\r\nhost: x\r\nx-request-id: t%d\r\n"
                b"content-length: %d\r\n\r\n%s" % (i, len(body), body)
            )
        time.sleep(0.2)
        records = [r for r in srv.records() if r.request_id.startswith("cmpl-t")]
        for sock in socks:
            sock.close()
    assert len(records) == 10
    stamps = sorted(r.received_ns for r in records)
    # at most the requests of an earlier loop iteration (the first one or two) are
    # parsed before the rest are stamped
    assert (stamps[-1] - stamps[0]) / 1e6 < 3 * 3.0
