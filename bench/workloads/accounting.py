"""What a workload's run adds to the report: length accuracy, per-task totals, vision cost.

All functions are pure: records (and a window) in, records out.

Vision tokens (per request) = server `usage.prompt_tokens` − `text_input_tokens` (the
chat prompt rendered without its image/video parts, counted with the model's tokenizer).

Device-seconds per image and per video-second — the method ("prefill share"):
1. Split the window's device time among requests by processor sharing: in every interval
   between two request events (sent, first chunk, last chunk) each request in flight gets
   an equal share, times the number of GPUs. A request's share before its first chunk is
   its prefill time (vision encoder + prefill + queueing behind other work), after it its
   decode time. Time with nothing in flight is idle and attributed to no one.
2. A request's vision device-time = its prefill time × vision tokens / input tokens.
3. Per image = Σ vision device-time / Σ images over requests with images only; per
   video-second likewise over requests with video only.
At concurrency 1 this is exact bookkeeping (the request owns the device: prefill time =
TTFT); under concurrency it is an equal-share approximation, so measure media cost at
low concurrency, or use vision tokens × the fitted price per input token
(`bench.cost.additive`), and compare the two.
"""

from __future__ import annotations

import bisect
from collections import defaultdict

import numpy as np

from bench.metrics.latency import distribution
from bench.records import RequestRecord
from bench.units import NS_PER_S
from bench.workloads.records import (
    LengthCheck,
    SessionSummary,
    SessionTotal,
    VisionSummary,
    WorkloadOutcome,
)


def input_length_check(records: list[RequestRecord]) -> LengthCheck:
    """Compare `requested_input_tokens` with the server's `input_tokens` (|difference|)."""
    errors = [
        abs(r.input_tokens - r.requested_input_tokens)
        for r in records
        if r.status == "ok"
        and not r.warmup
        and r.input_tokens is not None
        and r.requested_input_tokens is not None
        and not r.images
        and not r.video_s
    ]
    return LengthCheck(
        checked=len(errors),
        exact=sum(1 for e in errors if e == 0),
        within_one=sum(1 for e in errors if e <= 1),
        max_abs_error_tokens=max(errors, default=0),
        mean_abs_error_tokens=float(np.mean(errors)) if errors else None,
    )


def session_totals(records: list[RequestRecord]) -> list[SessionTotal]:
    """Totals per session id (measured records), in order of first appearance.

    total = Σ input + Σ output tokens over the task's ok turns (each turn's input counts
    the whole re-sent context: that is what the server processed, cache hits included);
    final context = last ok turn's input + output; duration = last done − first sent.
    """
    turns: dict[str, list[RequestRecord]] = defaultdict(list)
    for r in records:
        if r.session_id is not None and not r.warmup:
            turns[r.session_id].append(r)
    out = []
    for sid, recs in turns.items():
        recs = sorted(recs, key=lambda r: r.turn or 0)
        ok = [r for r in recs if r.status == "ok"]
        inputs = sum(r.input_tokens or 0 for r in ok)
        outputs = sum(r.output_tokens or 0 for r in ok)
        cached = [r.cached_input_tokens for r in ok]
        last = ok[-1] if ok else None
        out.append(
            SessionTotal(
                session_id=sid,
                turns=len(recs),
                turns_ok=len(ok),
                input_tokens=inputs,
                cached_input_tokens=None
                if any(c is None for c in cached) or not ok
                else sum(int(c or 0) for c in cached),
                output_tokens=outputs,
                total_tokens=inputs + outputs,
                final_context_tokens=(last.input_tokens or 0) + (last.output_tokens or 0)
                if last
                else None,
                duration_s=(max(r.done_ns for r in recs) - min(r.sent_ns for r in recs)) / NS_PER_S,
            )
        )
    return out


def session_summary(records: list[RequestRecord]) -> SessionSummary | None:
    """Distributions of the per-task totals; None when the run had no sessions."""
    totals = session_totals(records)
    if not totals:
        return None
    complete = [t for t in totals if t.turns_ok == t.turns]
    cached = [t for t in complete if t.cached_input_tokens is not None]
    cached_in = sum(t.input_tokens for t in cached)
    return SessionSummary(
        tasks=len(totals),
        complete_tasks=len(complete),
        tokens_per_task=distribution([t.total_tokens for t in complete]),
        input_tokens_per_task=distribution([t.input_tokens for t in complete]),
        output_tokens_per_task=distribution([t.output_tokens for t in complete]),
        final_context_tokens=distribution([t.final_context_tokens or 0 for t in complete]),
        turns_per_task=distribution([t.turns for t in complete]),
        task_duration_s=distribution([t.duration_s or 0.0 for t in complete]),
        cached_input_fraction=sum(int(t.cached_input_tokens or 0) for t in cached) / cached_in
        if cached_in
        else None,
        totals=totals,
    )


def phase_device_seconds(
    records: list[RequestRecord], start_ns: int, end_ns: int, gpus: int = 1
) -> dict[str, tuple[float, float]]:
    """Processor-sharing split of the window's device time: request id → (prefill, decode) s.

    In each interval between consecutive events every request in flight gets
    interval × gpus / (requests in flight); before its first chunk that is prefill time,
    after it decode time. Only ok records with a first chunk take part.
    """
    spans: list[tuple[str, int, int, int]] = []
    for r in records:
        if r.status != "ok" or r.first_chunk_ns is None:
            continue
        end = r.last_chunk_ns if r.last_chunk_ns is not None else r.done_ns
        sent, first, last = (
            min(max(t, start_ns), end_ns) for t in (r.sent_ns, r.first_chunk_ns, end)
        )
        spans.append((r.request_id, sent, first, last))
    if not spans:
        return {}
    points = sorted({start_ns, end_ns, *(t for _, *ts in spans for t in ts)})
    active = np.zeros(len(points), dtype=np.int64)
    for _, sent, _, last in spans:
        active[bisect.bisect_left(points, sent)] += 1
        active[bisect.bisect_left(points, last)] -= 1
    in_flight = np.cumsum(active)[:-1]
    widths = np.diff(np.asarray(points, dtype=np.float64)) / NS_PER_S
    share = np.where(in_flight > 0, widths * gpus / np.maximum(in_flight, 1), 0.0)
    cumulative = np.concatenate([[0.0], np.cumsum(share)])

    def attributed(a: int, b: int) -> float:
        return float(
            cumulative[bisect.bisect_left(points, b)] - cumulative[bisect.bisect_left(points, a)]
        )

    return {
        rid: (attributed(sent, first), attributed(first, last)) for rid, sent, first, last in spans
    }


def vision_summary(
    records: list[RequestRecord], start_ns: int, end_ns: int, gpus: int = 1
) -> VisionSummary | None:
    """Vision accounting over ok measured media requests whose prefill ended in the window.

    None when no such request has both server input tokens and `text_input_tokens`.
    """
    media = [
        r
        for r in records
        if r.status == "ok"
        and not r.warmup
        and (r.images or r.video_s)
        and r.input_tokens is not None
        and r.text_input_tokens is not None
        and r.first_chunk_ns is not None
        and start_ns <= r.first_chunk_ns <= end_ns
    ]
    if not media:
        return None
    phases = phase_device_seconds([r for r in records if not r.warmup], start_ns, end_ns, gpus)
    text = vision = 0
    prefill = vision_s = 0.0
    per_image = [0.0, 0.0, 0.0]  # vision tokens, vision device-s, images
    per_video = [0.0, 0.0, 0.0]  # vision tokens, vision device-s, video seconds
    for r in media:
        v = max(0, int(r.input_tokens or 0) - int(r.text_input_tokens or 0))
        p = phases.get(r.request_id, (0.0, 0.0))[0]
        share = p * v / r.input_tokens if r.input_tokens else 0.0
        text += int(r.text_input_tokens or 0)
        vision += v
        prefill += p
        vision_s += share
        if r.images and not r.video_s:
            per_image = [per_image[0] + v, per_image[1] + share, per_image[2] + r.images]
        elif r.video_s and not r.images:
            per_video = [per_video[0] + v, per_video[1] + share, per_video[2] + r.video_s]

    def ratio(num: float, den: float) -> float | None:
        return num / den if den else None

    return VisionSummary(
        requests=len(media),
        images=sum(r.images for r in media),
        video_s=sum(r.video_s for r in media),
        text_input_tokens=text,
        vision_input_tokens=vision,
        vision_tokens_per_image=ratio(per_image[0], per_image[2]),
        vision_tokens_per_video_s=ratio(per_video[0], per_video[2]),
        window_s=(end_ns - start_ns) / NS_PER_S,
        gpus=gpus,
        prefill_gpu_s=prefill,
        vision_gpu_s=vision_s,
        gpu_s_per_image=ratio(per_image[1], per_image[2]),
        gpu_s_per_video_s=ratio(per_video[1], per_video[2]),
    )


def workload_outcome(
    records: list[RequestRecord], start_ns: int, end_ns: int, gpus: int = 1
) -> WorkloadOutcome:
    """Length check, per-task totals and vision accounting of one run's records."""
    return WorkloadOutcome(
        input_lengths=input_length_check(records),
        sessions=session_summary(records),
        vision=vision_summary(records, start_ns, end_ns, gpus),
    )
