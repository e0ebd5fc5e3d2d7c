"""From a workload spec and the model's tokenizer to `RequestSpec`s: the one entry point.

`num_requests` counts requests for single-turn workloads and tasks (sessions) for
multi-turn ones (`sessions`, `dataset` with `turns: all`): a task's turns always come
together so that per-task totals are whole. Warm-up requests (or tasks) come first,
flagged, drawn from a stream of their own.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice
from typing import Any

from bench.errors import UserError
from bench.records import RequestSpec
from bench.workloads.lengths import LengthDist
from bench.workloads.records import WorkloadInfo
from bench.workloads.spec import (
    DatasetWorkload,
    ImageWorkload,
    SessionsWorkload,
    TextWorkload,
    VideoWorkload,
    WorkloadSpec,
    length_bounds,
)
from bench.workloads.tokens import TextSource


def check_scale(scale: float) -> float:
    """`scale` must be in (0, 1]: it only ever shrinks lengths.

    Raises:
        UserError: otherwise.
    """
    if not 0 < scale <= 1:
        raise UserError(
            f"scale must be in (0, 1], got {scale}",
            field="--scale",
            fix="give a fraction such as 0.25 (lengths are multiplied by it)",
        )
    return scale


def is_multi_turn(workload: WorkloadSpec) -> bool:
    return isinstance(workload, SessionsWorkload) or (
        isinstance(workload, DatasetWorkload) and workload.turns == "all"
    )


def iter_requests(
    workload: WorkloadSpec,
    tokenizer: Any,
    *,
    seed: int | None = None,
    scale: float = 1.0,
    warmup: bool = False,
    source: TextSource | None = None,
) -> Iterator[RequestSpec]:
    """Endless, lazy stream of the workload's requests (a task's turns in a row).

    `seed` None uses the workload's own seed. Building is deterministic per seed.
    """
    from bench.workloads.multimodal import iter_image, iter_video
    from bench.workloads.text import iter_sessions, iter_text

    check_scale(scale)
    seed = workload.seed if seed is None else seed
    source = source or TextSource.of(tokenizer)
    if isinstance(workload, TextWorkload):
        return iter_text(workload, source, seed=seed, scale=scale, warmup=warmup)
    if isinstance(workload, SessionsWorkload):
        return iter_sessions(workload, source, seed=seed, scale=scale, warmup=warmup)
    if isinstance(workload, ImageWorkload):
        return iter_image(workload, source, seed=seed, scale=scale, warmup=warmup)
    if isinstance(workload, VideoWorkload):
        return iter_video(workload, source, seed=seed, scale=scale, warmup=warmup)
    from bench.workloads.datasets import read_dataset
    from bench.workloads.replay import iter_dataset

    dataset = read_dataset(workload.path, workload.format)
    return iter_dataset(workload, dataset, source, seed=seed, scale=scale, warmup=warmup)


def _take(stream: Iterator[RequestSpec], n: int, multi_turn: bool) -> list[RequestSpec]:
    if not multi_turn:
        return list(islice(stream, n))
    out: list[RequestSpec] = []
    sessions: set[str] = set()
    for spec in stream:
        if spec.session_id not in sessions:
            if len(sessions) == n:
                break
            sessions.add(str(spec.session_id))
        out.append(spec)
    return out


def build_requests(
    workload: WorkloadSpec,
    tokenizer: Any,
    *,
    num_requests: int,
    seed: int | None = None,
    scale: float = 1.0,
    warmup: int = 0,
    source: TextSource | None = None,
) -> list[RequestSpec]:
    """`warmup` + `num_requests` requests (tasks, for multi-turn workloads), warm-up first.

    `source` defaults to the bundled corpus tokenised with `tokenizer` (cached).
    """
    source = source or TextSource.of(tokenizer)
    multi = is_multi_turn(workload)
    specs: list[RequestSpec] = []
    if warmup:
        stream = iter_requests(
            workload, tokenizer, seed=seed, scale=scale, warmup=True, source=source
        )
        specs += _take(stream, warmup, multi)
    stream = iter_requests(workload, tokenizer, seed=seed, scale=scale, source=source)
    return specs + _take(stream, num_requests, multi)


def max_request_tokens(workload: WorkloadSpec) -> int | None:
    """Largest prompt + output text tokens a request can ask for (unscaled); None if unknown.

    Vision tokens are not included (they depend on the model's image processor); dataset
    lengths are only known once read.
    """

    def hi(dist: LengthDist) -> int:
        return length_bounds(dist)[1]

    if isinstance(workload, TextWorkload):
        return hi(workload.input) + hi(workload.output)
    if isinstance(workload, SessionsWorkload):
        return hi(workload.final_context) + hi(workload.output)
    if isinstance(workload, ImageWorkload | VideoWorkload):
        return hi(workload.prompt) + hi(workload.output)
    return None


def auto_scale(workload: WorkloadSpec, max_model_len: int, *, headroom: float = 0.95) -> float:
    """The scale that fits the longest request into `headroom`·`max_model_len` (≤ 1).

    scale = min(1, floor(1000 · headroom · max_model_len / longest) / 1000); 1 when the
    longest request is unknown (datasets) or already fits.
    """
    longest = max_request_tokens(workload)
    if longest is None or longest <= headroom * max_model_len:
        return 1.0
    return max(0.001, int(1000 * headroom * max_model_len / longest) / 1000)


def workload_info(
    name: str,
    workload: WorkloadSpec,
    specs: list[RequestSpec],
    *,
    seed: int | None = None,
    scale: float = 1.0,
) -> WorkloadInfo:
    """Summary of built requests: how many, media totals, and how exact the lengths came out.

    Checked requests are those with both a requested and an actual (client-counted) input
    length; the error is |actual − requested| in tokens.
    """
    measured = [s for s in specs if not s.warmup]
    checked = [
        s
        for s in measured
        if s.requested_input_tokens is not None and s.text_input_tokens is not None
    ]
    errors = [
        abs(int(s.text_input_tokens or 0) - int(s.requested_input_tokens or 0)) for s in checked
    ]
    sessions = {s.session_id for s in measured if s.session_id is not None}
    return WorkloadInfo(
        name=name,
        kind=workload.kind,
        description=workload.description,
        seed=workload.seed if seed is None else seed,
        scale=scale,
        requests=len(measured),
        sessions=len(sessions) if sessions else None,
        images=sum(s.images for s in measured),
        video_s=sum(s.video_s for s in measured),
        text_requests_exact=sum(1 for e in errors if e == 0),
        text_requests_checked=len(checked),
        max_abs_length_error_tokens=max(errors, default=0),
        spec=workload,
    )
