"""What a run's report says about a suite workload: what was asked, and what came of it.

`WorkloadSection` is `Report.workload`: `info` (identity, scale, the spec as resolved,
requested vs built lengths) and `outcome` (server-counted length check, per-task totals,
vision tokens and device-seconds; bench.workloads.accounting computes it).
"""

from __future__ import annotations

from bench.records import Distribution, Record
from bench.workloads.spec import WorkloadSpec


class WorkloadInfo(Record):
    """What the report records about the workload: identity, scale, requested vs built."""

    name: str
    kind: str
    description: str
    seed: int
    scale: float
    requests: int
    sessions: int | None = None
    images: int = 0
    video_s: float = 0.0
    text_requests_exact: int = 0
    text_requests_checked: int = 0
    max_abs_length_error_tokens: int = 0
    spec: WorkloadSpec


class LengthCheck(Record):
    """Requested vs server-counted input tokens, over ok text-only requests."""

    checked: int
    exact: int
    within_one: int
    max_abs_error_tokens: int
    mean_abs_error_tokens: float | None


class SessionTotal(Record):
    """One multi-turn task: its turns' tokens added up."""

    session_id: str
    turns: int
    turns_ok: int
    input_tokens: int
    cached_input_tokens: int | None
    output_tokens: int
    total_tokens: int
    final_context_tokens: int | None
    duration_s: float | None


class SessionSummary(Record):
    """Per-task totals over a run (measured tasks; complete = every turn ok)."""

    tasks: int
    complete_tasks: int
    tokens_per_task: Distribution
    input_tokens_per_task: Distribution
    output_tokens_per_task: Distribution
    final_context_tokens: Distribution
    turns_per_task: Distribution
    task_duration_s: Distribution
    cached_input_fraction: float | None
    totals: list[SessionTotal]


class VisionSummary(Record):
    """Text vs vision input tokens, and device-seconds per image and per video-second."""

    requests: int
    images: int
    video_s: float
    text_input_tokens: int
    vision_input_tokens: int
    vision_tokens_per_image: float | None
    vision_tokens_per_video_s: float | None
    window_s: float
    gpus: int
    prefill_gpu_s: float
    vision_gpu_s: float
    gpu_s_per_image: float | None
    gpu_s_per_video_s: float | None
    method: str = "prefill share (processor sharing; see bench/workloads/accounting.py)"


class WorkloadOutcome(Record):
    """The workload section a run's report carries beside `WorkloadInfo`."""

    input_lengths: LengthCheck
    sessions: SessionSummary | None = None
    vision: VisionSummary | None = None


class WorkloadSection(Record):
    """`Report.workload`: the suite workload that was asked for and what came of it."""

    info: WorkloadInfo
    outcome: WorkloadOutcome
