"""Scenario prices: what one chat answer, one agent booking (whole session), one 4K
screenshot and one 5-second clip cost, from the standard workloads (bench/data/workloads.yaml).

Tokens per scenario are measured when the priced runs are that scenario's workload (their
report's workload section), else expected from the workload's spec:

    length means     fixed: mean of its bounds; uniform: (min + max) / 2; normal: its mean
    chat answer      input mean, output mean
    agent booking    turns T, first prompt p₁ = system + task, last prompt = final context F:
                     the planned prompts grow linearly from p₁ to F, so
                     input = E[T]·(p₁ + F)/2, output = E[T]·out, and the re-sent part of each
                     prompt (every prompt but the last, as the next one's prefix, plus the
                     shared system prompt) is prefix-cached: cached = E[T]·(p₁ + F)/2 − F + system

A price is tokens × the tier's additive prices (input, output, cached; cached input costs
input when no probe measured it) — or, for media, the measured device-seconds of the vision
encoder and prefill (`gpu_s_per_image`, `gpu_s_per_video_s`) × the cost of a device-second
where the run measured them, else vision tokens × the input price. Without additive prices a
scenario is priced only from runs of its own workload: cost per request (per task) =
cost per M total tokens × tokens per request.
"""

from __future__ import annotations

from bench.records import Record
from bench.workloads.spec import (
    FixedLength,
    ImageWorkload,
    NormalLength,
    SessionsWorkload,
    TextWorkload,
    UniformLength,
    VideoWorkload,
)

SCENARIOS: tuple[tuple[str, str], ...] = (
    ("chat answer", "chat"),
    ("agent booking (whole session)", "agent"),
    ("4K screenshot", "image"),
    ("5-second clip", "video"),
)
"""(scenario, standard workload it comes from)."""


class ScenarioTokens(Record):
    """Tokens (and, for media, measured device-seconds) of one scenario.

    `vision_tokens` / `vision_gpu_s` are for the media part (None: not measured). `basis`
    says whether the counts were measured or expected from the spec.
    """

    scenario: str
    workload: str
    input_tokens: float
    output_tokens: float
    cached_input_tokens: float = 0.0
    vision_tokens: float | None = None
    vision_gpu_s: float | None = None
    basis: str
    note: str | None = None


class ScenarioPrice(Record):
    """One scenario's price in USD at one tier (margin included), with its range when the
    prices have one; `price_usd` None: not measured (`note` says why)."""

    scenario: str
    tier: str
    price_usd: float | None
    low_usd: float | None = None
    high_usd: float | None = None
    basis: str
    note: str | None = None


def mean_length(dist: FixedLength | UniformLength | NormalLength) -> float:
    """Mean of a length distribution (fixed: mean of its bounds; normal: its mean)."""
    if isinstance(dist, FixedLength):
        low, high = dist.bounds()
        return (low + high) / 2
    if isinstance(dist, UniformLength):
        return (dist.min + dist.max) / 2
    return dist.mean


def chat_tokens(spec: TextWorkload) -> ScenarioTokens:
    """One chat answer: mean input, mean output (prefix shared by all prompts cached)."""
    return ScenarioTokens(
        scenario="chat answer",
        workload="chat",
        input_tokens=mean_length(spec.input) - spec.shared_prefix_tokens,
        cached_input_tokens=float(spec.shared_prefix_tokens),
        output_tokens=mean_length(spec.output),
        basis="expected from the chat workload spec",
    )


def agent_tokens(spec: SessionsWorkload) -> ScenarioTokens:
    """One agent task, all turns (module docstring: linear prompt growth, re-sent prefix
    cached)."""
    turns = (spec.turns.min + spec.turns.max) / 2
    first = spec.system_tokens + mean_length(spec.task)
    final = mean_length(spec.final_context)
    prompts = turns * (first + final) / 2
    cached = prompts - final + spec.system_tokens
    return ScenarioTokens(
        scenario="agent booking (whole session)",
        workload="agent",
        input_tokens=prompts - cached,
        cached_input_tokens=cached,
        output_tokens=turns * mean_length(spec.output),
        basis="expected from the agent workload spec",
        note="re-sent context assumed served from the prefix cache",
    )


def media_text_tokens(spec: ImageWorkload | VideoWorkload) -> tuple[float, float]:
    """(text prompt tokens, output tokens) of one image or video request, from its spec."""
    return mean_length(spec.prompt), mean_length(spec.output)
