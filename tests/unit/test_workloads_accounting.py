"""Report arithmetic from literal records: length check, per-task totals, vision cost."""

from __future__ import annotations

import pytest

from bench.records import RequestRecord
from bench.workloads.accounting import (
    input_length_check,
    phase_device_seconds,
    session_summary,
    session_totals,
    vision_summary,
    workload_outcome,
)

S = 1_000_000_000  # ns per s


def rec(rid, sent, first, last, **kw):
    base = dict(
        request_id=rid,
        index=0,
        status="ok",
        sent_ns=int(sent * S),
        first_chunk_ns=int(first * S),
        last_chunk_ns=int(last * S),
        done_ns=int(last * S),
    )
    base.update(kw)
    return RequestRecord(**base)


# A: sent 0, first chunk 2, last 4; B: sent 1, first chunk 3, last 5.
A = rec("a", 0, 2, 4, images=1, input_tokens=1000, text_input_tokens=200, output_tokens=10)
B = rec("b", 1, 3, 5, images=2, input_tokens=500, text_input_tokens=100, output_tokens=10)


def test_processor_sharing_splits_the_window_exactly():
    # [0,1) A alone: 1 prefill; [1,2) both prefill: .5 each; [2,3) A decode .5, B prefill .5;
    # [3,4) both decode .5; [4,5) B alone decode 1.
    got = phase_device_seconds([A, B], 0, 5 * S)
    assert got["a"] == pytest.approx((1.5, 1.0))
    assert got["b"] == pytest.approx((1.0, 1.5))
    assert sum(p + d for p, d in got.values()) == pytest.approx(5.0)
    two = phase_device_seconds([A, B], 0, 5 * S, gpus=2)
    assert two["a"] == pytest.approx((3.0, 2.0))


def test_window_clips_the_split_and_idle_time_is_nobodys():
    got = phase_device_seconds([A, B], 1 * S, 4 * S)
    assert got["a"] == pytest.approx((0.5, 1.0))
    assert got["b"] == pytest.approx((1.0, 0.5))
    late = rec("c", 10, 11, 12)
    got = phase_device_seconds([late], 0, 20 * S)
    assert got["c"] == pytest.approx((1.0, 1.0))  # 18 idle seconds attributed to no one


def test_vision_tokens_and_device_seconds_per_image():
    v = vision_summary([A, B], 0, 5 * S)
    assert v.images == 3
    assert v.text_input_tokens == 300 and v.vision_input_tokens == 1200
    assert v.vision_tokens_per_image == pytest.approx(400.0)
    # A: 1.5 s prefill x 800/1000 = 1.2 s; B: 1.0 s x 400/500 = 0.8 s; per image 2.0 / 3
    assert v.prefill_gpu_s == pytest.approx(2.5)
    assert v.vision_gpu_s == pytest.approx(2.0)
    assert v.gpu_s_per_image == pytest.approx(2.0 / 3)
    assert v.gpu_s_per_video_s is None and v.vision_tokens_per_video_s is None


def test_device_seconds_per_video_second():
    clip = rec("v", 0, 4, 6, video_s=5.0, input_tokens=2500, text_input_tokens=100)
    v = vision_summary([clip], 0, 6 * S)
    # alone on the device: prefill 4 s, vision share 2400/2500 -> 3.84 s per 5 s of video
    assert v.vision_tokens_per_video_s == pytest.approx(480.0)
    assert v.gpu_s_per_video_s == pytest.approx(3.84 / 5)


def test_vision_summary_needs_media_requests():
    text = rec("t", 0, 1, 2, input_tokens=10, text_input_tokens=10)
    assert vision_summary([text], 0, 2 * S) is None
    failed = rec("f", 0, 1, 2, images=1, input_tokens=10, text_input_tokens=5, status="error")
    assert vision_summary([failed], 0, 2 * S) is None


def test_input_length_check_counts_text_requests_only():
    recs = [
        rec("1", 0, 1, 2, input_tokens=100, requested_input_tokens=100),
        rec("2", 0, 1, 2, input_tokens=101, requested_input_tokens=100),
        rec("3", 0, 1, 2, input_tokens=97, requested_input_tokens=100),
        rec("4", 0, 1, 2, input_tokens=900, requested_input_tokens=100, images=1),
        rec("5", 0, 1, 2, input_tokens=50, requested_input_tokens=100, warmup=True),
    ]
    check = input_length_check(recs)
    assert (check.checked, check.exact, check.within_one) == (3, 1, 2)
    assert check.max_abs_error_tokens == 3
    assert check.mean_abs_error_tokens == pytest.approx(4 / 3)


def turn(sid, t, sent, done, inp, out, cached=None, status="ok"):
    return rec(
        f"{sid}-{t}",
        sent,
        sent + 0.5,
        done,
        session_id=sid,
        turn=t,
        input_tokens=inp,
        output_tokens=out,
        cached_input_tokens=cached,
        status=status,
    )


def test_per_task_totals():
    recs = [
        turn("s1", 2, 3, 5, 1500, 100, cached=1000),
        turn("s1", 1, 0, 2, 1000, 50, cached=0),
        turn("s2", 1, 0, 1, 800, 40, cached=0),
        turn("s2", 2, 2, 4, 1200, 60, status="error"),
    ]
    totals = {t.session_id: t for t in session_totals(recs)}
    s1 = totals["s1"]
    assert (s1.turns, s1.turns_ok) == (2, 2)
    assert (s1.input_tokens, s1.output_tokens, s1.total_tokens) == (2500, 150, 2650)
    assert s1.cached_input_tokens == 1000
    assert s1.final_context_tokens == 1600
    assert s1.duration_s == pytest.approx(5.0)
    assert totals["s2"].turns_ok == 1
    summary = session_summary(recs)
    assert (summary.tasks, summary.complete_tasks) == (2, 1)
    assert summary.tokens_per_task.mean == pytest.approx(2650)
    assert summary.cached_input_fraction == pytest.approx(1000 / 2500)
    assert session_summary([A]) is None


def test_outcome_bundles_the_three():
    out = workload_outcome([A, B], 0, 5 * S)
    assert out.sessions is None and out.vision.images == 3
    assert out.input_lengths.checked == 0
