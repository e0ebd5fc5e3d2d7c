"""What keeps a burst of finishing requests from delaying the reads behind it: records
built and handed on later, a slice at a time, the successor sent first; one timeout sweep
per pool instead of a timer per request."""

from __future__ import annotations

import asyncio
import time

import pytest

from bench.config.run import ConcurrencyLoad
from bench.loadgen.client import StreamTarget
from bench.loadgen.drive import drive
from bench.loadgen.later import SLICE_NS, Later
from bench.loadgen.pool import SWEEP_S
from bench.records import RequestSpec
from bench.synth.control import SynthServer


def _specs(n: int, tokens: int = 4) -> list[RequestSpec]:
    return [RequestSpec(request_id=f"b{i:03d}", body={"prompt": "a b", "max_tokens": tokens},
                        requested_output_tokens=tokens) for i in range(n)]  # fmt: skip


def test_later_works_in_slices_between_loop_iterations():
    """Twelve items of 0.1 ms each with 0.3 ms slices: at least three loop iterations (a
    callback that re-arms itself every iteration counts them), in order, none twice; no
    slice runs more than one item past its 0.3 ms."""
    done: list[tuple[int, int, int]] = []

    async def go() -> int:
        loop = asyncio.get_running_loop()
        iteration = [0]

        def tick() -> None:
            iteration[0] += 1
            if len(done) < 12:
                loop.call_soon(tick)

        def run(item: int) -> None:
            start = time.perf_counter_ns()
            while time.perf_counter_ns() - start < 100_000:
                pass
            done.append((item, iteration[0], time.perf_counter_ns()))

        later = Later(run)
        loop.call_soon(tick)
        for item in range(12):
            later.add(item)
        while len(done) < 12:
            await asyncio.sleep(0)
        return len(later)

    assert asyncio.run(go()) == 0
    assert [item for item, _, _ in done] == list(range(12))
    slices: dict[int, list[int]] = {}
    for _, it, t in done:
        slices.setdefault(it, []).append(t)
    assert len(slices) >= 3
    # each slice stops at the first item that ends past SLICE_NS after the slice began
    # (an item takes 0.1 ms): at most ceil(0.3 / 0.1) + 1 items in one
    assert max(len(ts) for ts in slices.values()) <= SLICE_NS // 100_000 + 1


def test_later_flush_runs_the_rest_at_once():
    seen: list[int] = []

    async def go() -> None:
        later = Later(seen.append)
        for item in range(5):
            later.add(item)
        later.flush()
        assert seen == [0, 1, 2, 3, 4] and len(later) == 0
        await asyncio.sleep(0.01)  # the slice it had scheduled does not run again

    asyncio.run(go())
    assert seen == [0, 1, 2, 3, 4]


@pytest.fixture(scope="module")
def server():
    with SynthServer(mode="thread", ttft_s=0.002, itl_s=0.001) as srv:
        yield srv


def test_the_successor_is_sent_before_the_record_is_handed_on(server):
    """Concurrency 1: request i+1 leaves before request i's record is built and handed on,
    and the records still arrive once each, in completion order."""
    handed: list[tuple[str, int]] = []
    records = []

    def on_record(rec):
        handed.append((rec.request_id, time.perf_counter_ns()))
        records.append(rec)

    target = StreamTarget(server.base_url, "synth", token_ids=False)
    asyncio.run(drive(target, _specs(8), ConcurrencyLoad(concurrency=1), on_record=on_record))
    assert [r.request_id for r in records] == [f"b{i:03d}" for i in range(8)]
    assert [r.status for r in records] == ["ok"] * 8
    for i in range(7):  # handed on after the next one was written
        assert handed[i][1] > records[i + 1].sent_ns, i


def test_a_request_times_out_by_the_pools_sweep_and_the_slot_goes_on():
    """A server that takes 5 s to answer, a 0.3 s timeout: each request ends in a
    "timeout" record between 0.3 s and 0.3 s + one sweep after its send, and the slot
    sends the next one."""
    records = []
    with SynthServer(mode="thread", ttft_s=5.0, itl_s=0.001) as slow:
        target = StreamTarget(slow.base_url, "synth", token_ids=False, timeout_s=0.3)
        asyncio.run(drive(target, _specs(2), ConcurrencyLoad(concurrency=1),
                          on_record=records.append))  # fmt: skip
    assert [r.status for r in records] == ["timeout", "timeout"]
    assert {r.error_class for r in records} == {"timeout"}
    assert "no completion within 0.3 s" in (records[0].error_message or "")
    for r in records:
        waited_s = (r.done_ns - r.sent_ns) / 1e9
        assert 0.3 <= waited_s < 0.3 + SWEEP_S + 0.2, waited_s
    assert records[1].sent_ns >= records[0].done_ns


def test_no_automatic_collection_while_measuring_but_the_valve_frees_cycles(monkeypatch):
    """Inside `frozen_heap` nothing collects on its own; once more container objects than
    GC_VALVE are alive, the valve (looked at every GC_VALVE_PERIOD_S) collects the young."""
    import gc
    import weakref

    from bench.loadgen import drive as drive_module

    class Node:
        def __init__(self) -> None:
            self.me = self  # a reference cycle: only the collector can free it

    monkeypatch.setattr(drive_module, "GC_VALVE", 2_000)
    monkeypatch.setattr(drive_module, "GC_VALVE_PERIOD_S", 0.02)

    async def go() -> tuple[bool, bool, bool]:
        with drive_module.frozen_heap():
            enabled = gc.isenabled()
            first = Node()
            alive = weakref.ref(first)
            del first
            await asyncio.sleep(0.05)  # few objects: the valve leaves them
            kept = alive() is not None
            garbage = [Node() for _ in range(5_000)]
            del garbage
            await asyncio.sleep(0.1)  # now over the valve: collected
            return enabled, kept, alive() is None

    enabled, kept, freed = asyncio.run(go())
    assert (enabled, kept, freed) == (False, True, True)
    assert gc.isenabled()


def test_a_stall_before_the_phase_began_is_not_the_phases_lag():
    """The measured phase begins with a freeze of the whole heap (tens of ms with a
    tokenizer loaded): the probe's sleep that spans it began before the phase, and is
    not recorded once `since` marks the phase's start."""
    from bench.loadgen.drive import _loop_lag_probe

    async def go() -> tuple[list[float], list[float]]:
        kept: list[float] = []
        unfiltered: list[float] = []
        since = [0]
        stop = asyncio.Event()
        probes = [asyncio.create_task(_loop_lag_probe(kept, stop, None, since)),
                  asyncio.create_task(_loop_lag_probe(unfiltered, stop))]  # fmt: skip
        await asyncio.sleep(0.03)
        time.sleep(0.15)  # the set-up stall, holding the loop
        since[0] = time.perf_counter_ns()
        kept.clear()
        unfiltered.clear()
        await asyncio.sleep(0.05)
        stop.set()
        await asyncio.gather(*probes)
        return kept, unfiltered

    kept, unfiltered = asyncio.run(go())
    assert max(unfiltered) > 0.12  # without `since` the stall counts as the phase's
    assert kept and max(kept) < 0.1


def test_a_busy_loop_still_drains_the_queue():
    """No spare time at all (every item outlasts the slice): each iteration still takes
    1/DRAIN_SHARE of the queue, so 64 items take about log(64)/log(8/7) iterations, not 64."""
    from bench.loadgen.later import DRAIN_SHARE

    sizes: list[int] = []

    async def go() -> None:
        loop = asyncio.get_running_loop()
        later: Later

        def run(item: int) -> None:
            start = time.perf_counter_ns()
            while time.perf_counter_ns() - start < SLICE_NS + 10_000:
                pass

        later = Later(run)

        def watch() -> None:  # once per iteration, after that iteration's slice (FIFO)
            sizes.append(len(later))
            if len(later):
                loop.call_soon(watch)

        for item in range(64):
            later.add(item)
        loop.call_soon(watch)
        while len(later):
            await asyncio.sleep(0)

    asyncio.run(go())
    # 64 → 56 → 49 → 42 → ... each slice takes ceil(n / 8): left after each slice
    expected = [64]
    while expected[-1]:
        expected.append(expected[-1] - -(-expected[-1] // DRAIN_SHARE))
    assert sizes == expected[1:]
