"""Exact timing at low load: a subprocess server, a plain aiohttp client stamping each line.

The schedule itself (due times, never early, same clock on both sides) is asserted always.
The millisecond bounds are asserted on medians, and only when the machine has CPU to give:
when other processes keep runnable tasks waiting for a CPU (Linux pressure-stall
information, /proc/pressure/cpu "some avg10" above 20 %), a late chunk says nothing about
the server, so those two tests skip and say why.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bench.synth.control import SynthServer
from bench.synth.records import SynthConfig, SynthRequestRecord

TTFT_S, ITL_S, TOKENS, STREAMS = 0.040, 0.008, 12, 4


MAX_CPU_PRESSURE_PCT = 20.0


def _cpu_pressure_pct() -> float | None:
    """Share of the last 10 s in which some runnable task waited for a CPU (None: unknown)."""
    try:
        first = Path("/proc/pressure/cpu").read_text().splitlines()[0]
    except OSError:
        return None
    return float(first.split()[1].removeprefix("avg10="))


@pytest.fixture(scope="module")
def measured() -> Iterator[tuple[list[dict[str, Any]], list[SynthRequestRecord], float]]:
    with SynthServer(SynthConfig(ttft_s=TTFT_S, itl_s=ITL_S)) as srv:
        before = _cpu_pressure_pct() or 0.0
        client = asyncio.run(_drive(srv.base_url))
        pressure = max(before, _cpu_pressure_pct() or 0.0)
        yield client, srv.records(), pressure


def _require_idle_cpu(pressure: float) -> None:
    if pressure > MAX_CPU_PRESSURE_PCT:
        pytest.skip(
            f"CPU pressure {pressure:.0f} % > {MAX_CPU_PRESSURE_PCT:.0f} %: other processes "
            "keep this machine's CPUs busy, so ms timing cannot be judged"
        )


async def _one(session: aiohttp.ClientSession, url: str, rid: str) -> dict[str, Any]:
    payload = {"prompt": "a b c", "max_tokens": TOKENS, "stream": True}
    times = []
    sent = time.perf_counter_ns()
    async with session.post(url, json=payload, headers={"X-Request-Id": rid}) as resp:
        async for line in resp.content:
            if line.startswith(b'data: {"id"'):
                times.append(time.perf_counter_ns())
    return {"id": "cmpl-" + rid, "sent_ns": sent, "chunk_ns": times}


async def _drive(base: str) -> list[dict[str, Any]]:
    async with aiohttp.ClientSession() as session:
        url = base + "/v1/completions"
        # open the pooled connections outside the measurement
        await asyncio.gather(*(_one(session, url, f"warm-{i}") for i in range(STREAMS)))
        out = []
        for rnd in range(2):
            out += await asyncio.gather(
                *(_one(session, url, f"r{rnd}-{i}") for i in range(STREAMS))
            )
        return out


def _gaps(times: list[int]) -> list[int]:
    return [b - a for a, b in zip(times, times[1:], strict=False)]


def test_schedule_is_exact_and_never_early(measured):
    client, records, _ = measured
    assert len(records) == 3 * STREAMS and all(len(c["chunk_ns"]) == TOKENS for c in client)
    for r in records:
        assert r.chunk_due_ns[0] - r.received_ns == TTFT_S * 1e9
        assert set(_gaps(r.chunk_due_ns)) == {ITL_S * 1e9}
        assert len(r.chunk_sent_ns) == TOKENS and min(r.lateness_ns()) >= 0


def test_client_and_server_share_the_clock(measured):
    """Each chunk arrives after the server stamped it; the request after the client sent it."""
    client, records, _ = measured
    by_id = {r.request_id: r for r in records}
    for c in client:
        record = by_id[c["id"]]
        assert record.received_ns > c["sent_ns"]
        assert all(
            got > sent for got, sent in zip(c["chunk_ns"], record.chunk_sent_ns, strict=True)
        )


def test_server_sends_within_a_millisecond(measured):
    _, records, pressure = measured
    _require_idle_cpu(pressure)
    lateness = [x for r in records if "warm" not in r.request_id for x in r.lateness_ns()]
    assert statistics.median(lateness) < 1_000_000


def test_client_sees_ttft_and_gaps_as_configured(measured):
    client, records, pressure = measured
    _require_idle_cpu(pressure)
    received = {r.request_id: r.received_ns for r in records}
    # from the client's send: includes aiohttp's own cost of sending (~1 ms on a slow CPU)
    ttfts = [(c["chunk_ns"][0] - c["sent_ns"]) / 1e9 for c in client]
    # from the server's receipt: the server's TTFT as the client sees it arrive
    served = [(c["chunk_ns"][0] - received[c["id"]]) / 1e9 for c in client]
    gaps = [gap / 1e9 for c in client for gap in _gaps(c["chunk_ns"])]
    assert abs(statistics.median(ttfts) - TTFT_S) < 0.0025  # within a couple of ms
    assert abs(statistics.median(served) - TTFT_S) < 0.001
    assert abs(statistics.median(gaps) - ITL_S) < 0.001
