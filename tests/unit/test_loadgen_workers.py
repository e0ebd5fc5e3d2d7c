"""Worker processes: the split (pure), and real multi-process runs merged without loss."""

import asyncio
import gc
import multiprocessing
import os
import re
import signal
import socket
from collections import Counter

import pytest
from waiting import await_until

from bench.config.run import ConcurrencyLoad, RateLoad
from bench.loadgen.client import StreamTarget
from bench.loadgen.drive import RunAborted, drive, indexed_units
from bench.loadgen.workers import assign_closed, assign_open, effective_workers, split_count
from bench.records import RequestSpec
from bench.synth.control import SynthServer


def test_split_count_shares_every_slot_once():
    assert [split_count(5, 2, i) for i in range(2)] == [3, 2]
    assert [split_count(7, 3, i) for i in range(3)] == [3, 2, 2]
    assert sum(split_count(512, 6, i) for i in range(6)) == 512


def test_closed_loop_units_follow_their_slots():
    units = [[(k, None)] for k in range(10)]
    # concurrency 5 over 2 workers: slots 0,2,4 -> worker 0; 1,3 -> worker 1
    shares = assign_closed(units, 5, 2)
    assert [u[0][0] for u in shares[0]] == [0, 2, 4, 5, 7, 9]
    assert [u[0][0] for u in shares[1]] == [1, 3, 6, 8]
    assert len(shares[0]) / len(shares[1]) == pytest.approx(3 / 2)  # units ∝ slots


def test_open_loop_arrivals_round_robin():
    assert assign_open([1000, 1001, 1002, 1003, 1004], 2) == [[1000, 1002, 1004], [1001, 1003]]
    assert assign_open(["a"], 3) == [["a"], [], []]


def test_never_more_workers_than_slots():
    assert effective_workers(ConcurrencyLoad(concurrency=2), 4) == 2
    assert effective_workers(RateLoad(rate_per_s=5, max_concurrency=3), 8) == 3
    assert effective_workers(RateLoad(rate_per_s=5), 8) == 8


def _specs(n, warmup=0, tokens=6):
    return [
        RequestSpec(request_id=f"{'w' if i < warmup else 'r'}{i:03d}",
                    body={"prompt": "a b c", "max_tokens": tokens},
                    requested_output_tokens=tokens, warmup=i < warmup)
        for i in range(n)
    ]  # fmt: skip


@pytest.fixture(scope="module")
def server():
    with SynthServer(ttft_s=0.01, itl_s=0.002) as srv:
        yield srv


def _drive(server, specs, load, workers, **kw):
    records = []
    target = StreamTarget(server.base_url, "synth", token_ids=False)
    stats = asyncio.run(drive(target, specs, load, on_record=records.append, workers=workers,
                              **kw))  # fmt: skip
    return records, stats


def _assert_merged(records, specs):
    ids = [r.request_id for r in records]
    assert len(ids) == len(set(ids)) == len(specs)  # none lost, none twice
    position = {s.request_id: i for i, s in enumerate(specs)}
    assert all(r.index == position[r.request_id] for r in records)
    for w in {r.worker for r in records}:  # each worker's records in completion order
        done = [r.done_ns for r in records if r.worker == w]
        assert done == sorted(done)


@pytest.mark.slow
def test_closed_loop_over_three_workers(server):
    specs = _specs(30, warmup=6)
    records, stats = _drive(server, specs, ConcurrencyLoad(concurrency=6), 3)
    _assert_merged(records, specs)
    assert Counter(r.status for r in records) == {"ok": 30}
    warm, measured = indexed_units(specs)
    for units in (warm, measured):
        for k, unit in enumerate(units):  # unit k is sent by the worker of slot k % 6
            rec = next(r for r in records if r.index == unit[0][0])
            assert rec.worker == (k % 6) % 3
    assert stats.workers == 3 and len(stats.worker_cpu_s) == 3
    assert all(c > 0 for c in stats.worker_cpu_s) and stats.cpu_s >= sum(stats.worker_cpu_s)
    # the measured phase starts after every warm-up request is done
    assert min(r.sent_ns for r in records if not r.warmup) >= max(
        r.done_ns for r in records if r.warmup
    )


@pytest.mark.slow
def test_workers_report_the_cores_they_may_use(server):
    """Workers confined to one core (as under `taskset -c`) say so, so their CPU is judged
    against that one core."""
    cpu = min(os.sched_getaffinity(0))
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})  # spawned workers inherit it
    try:
        records, stats = _drive(server, _specs(8), ConcurrencyLoad(concurrency=4), 2)
    finally:
        os.sched_setaffinity(0, before)
    assert len(records) == 8 and stats.allowed_cpus == [cpu]
    _, spread = _drive(server, _specs(4), ConcurrencyLoad(concurrency=2), 1)
    assert spread.allowed_cpus == sorted(before)


@pytest.mark.slow
def test_open_loop_one_schedule_split_over_two_workers(server):
    specs = _specs(16)
    load = RateLoad(rate_per_s=100.0, arrival="constant")
    records, stats = _drive(server, specs, load, 2)
    _assert_merged(records, specs)
    by_time = sorted(records, key=lambda r: r.scheduled_ns)
    gaps = {b.scheduled_ns - a.scheduled_ns for a, b in zip(by_time, by_time[1:], strict=False)}
    assert gaps <= {9_999_999, 10_000_000, 10_000_001}  # one 100/s schedule for both
    assert [r.worker for r in by_time] == [k % 2 for k in range(16)]
    assert [r.index for r in by_time] == list(range(16))
    assert len(stats.send_lag_s) == 16 and min(stats.send_lag_s) >= 0


@pytest.mark.slow
def test_watchdog_abort_delivers_cancelled_records_once(server):
    specs = _specs(40, tokens=200)  # 0.4 s each: still streaming when the watchdog fires
    records = []

    def watchdog():
        return "server died (test)" if records else None

    target = StreamTarget(server.base_url, "synth", token_ids=False)
    with pytest.raises(RunAborted, match="server died"):
        asyncio.run(drive(target, specs, ConcurrencyLoad(concurrency=8),
                          on_record=records.append, watchdog=watchdog, workers=2))  # fmt: skip
    ids = [r.request_id for r in records]
    assert len(ids) == len(set(ids))
    assert "cancelled" in {r.status for r in records}
    assert len(records) < len(specs)


@pytest.mark.slow
def test_a_dead_worker_aborts_the_run_and_says_so(server):
    specs = _specs(40, tokens=200)
    records = []

    def kill_one(rec):
        records.append(rec)
        if len(records) == 1:
            os.kill(multiprocessing.active_children()[0].pid, signal.SIGKILL)

    target = StreamTarget(server.base_url, "synth", token_ids=False)
    with pytest.raises(RunAborted, match=r"client worker \d exited unexpectedly") as info:
        asyncio.run(drive(target, specs, ConcurrencyLoad(concurrency=8), on_record=kill_one,
                          workers=2))  # fmt: skip
    ids = [r.request_id for r in records]
    assert len(ids) == len(set(ids))
    # "<n> of its requests were never reported": its 20 units (every other slot of 8)
    # less the records it did deliver
    dead = int(re.search(r"client worker (\d)", str(info.value)).group(1))
    delivered = sum(1 for r in records if r.worker == dead)
    assert f"{20 - delivered} of its requests were never reported" in str(info.value)


def test_measured_phase_runs_on_a_frozen_heap(server):
    """Start-up objects are out of the collector's reach while requests are measured (no
    full collection walks them then), and the heap is back to normal afterwards."""
    frozen = []
    specs = _specs(6, warmup=2)
    target = StreamTarget(server.base_url, "synth", token_ids=False)

    def on_record(rec):
        frozen.append((rec.warmup, gc.get_freeze_count(), gc.isenabled()))

    asyncio.run(drive(target, specs, ConcurrencyLoad(concurrency=2), on_record=on_record))
    assert [f > 0 for w, f, _ in frozen if not w] == [True] * 4
    assert [f for w, f, _ in frozen if w] == [0, 0]
    assert gc.get_freeze_count() == 0
    # and no automatic collection while requests are measured, back on afterwards
    assert [on for w, _, on in frozen] == [True, True, False, False, False, False]
    assert gc.isenabled()


def test_channel_batches_records_and_keeps_order():
    """send_soon queues (one frame per BATCH_S); send writes at once, after what is queued."""
    from bench.loadgen.channel import open_channel

    async def main():
        got = []
        a, b = socket.socketpair()
        sender = await open_channel(a, lambda m: None, lambda: None)
        receiver = await open_channel(b, got.append, lambda: None)
        for i in range(100):
            sender.send_soon(("record", i))
        assert sender.frames_sent == 0  # nothing written yet
        await await_until(lambda: len(got) == 100, "the batched frame received")
        assert sender.frames_sent == 1 and got == [("record", i) for i in range(100)]
        sender.send_soon(("record", 100))
        sender.send(("phase_done", False))  # flushes the queued record first
        await await_until(lambda: len(got) == 102, "both frames received")
        assert sender.frames_sent == 3
        assert got[-2:] == [("record", 100), ("phase_done", False)]
        sender.close()
        receiver.close()

    asyncio.run(main())
