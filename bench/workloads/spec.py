"""What a workload is: the strict, validated description a person writes in a suite file.

A suite (`bench/data/workloads.yaml`, or a user's file that overrides it by name) maps
workload names to specs. Each spec is a discriminated union on `kind`:

- `text`: independent prompts with input/output length distributions (chat, coding, fixed-*).
- `sessions`: multi-turn agent tasks; each turn re-sends the growing conversation.
- `image`: screenshots at real resolutions plus a question, through chat completions.
- `video`: a clip of `duration_s` at `fps`, sent as an mp4 (`video_url`) or as frames.
- `dataset`: prompts from a local ShareGPT JSON/JSONL or a simple JSONL file.

Lengths are token counts as the server counts them (chat template and BOS included).
Validators only check; sampling lives in `bench.workloads.lengths`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, model_validator

from bench.config.loading import StrictConfig


class FixedLength(StrictConfig):
    """`tokens` with an optional spread `range_ratio` r, in one of the two conventions in use:

    - `vllm` (vLLM bench serve today): uniform integers on [⌊L(1−r)⌋, ⌈L(1+r)⌉], r < 1;
    - `sglang` (SGLang bench_serving, older vLLM, InferenceX's RANDOM_RANGE_RATIO=0.8):
      uniform integers on [⌊L·r⌋, L]; r = 1 is fixed.

    r = 0 with `vllm` is fixed at L.
    """

    kind: Literal["fixed"] = "fixed"
    tokens: int = Field(ge=1)
    range_ratio: float = Field(default=0.0, ge=0, le=1)
    range_convention: Literal["vllm", "sglang"] = "vllm"

    @model_validator(mode="after")
    def _ratio(self) -> FixedLength:
        if self.range_convention == "vllm" and self.range_ratio >= 1:
            raise ValueError("with range_convention vllm, range_ratio must be < 1")
        return self

    def bounds(self) -> tuple[int, int]:
        """The smallest and largest length (both included), at least 1."""
        r, n = self.range_ratio, self.tokens
        if self.range_convention == "sglang":
            return max(1, math.floor(n * r)), n
        if r == 0:
            return n, n
        low = max(1, math.floor(n * (1 - r)))
        return low, max(low, math.ceil(n * (1 + r)))


class UniformLength(StrictConfig):
    """Uniform integers on [min, max] (both included)."""

    kind: Literal["uniform"] = "uniform"
    min: int = Field(ge=1)
    max: int = Field(ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> UniformLength:
        if self.max < self.min:
            raise ValueError(f"max ({self.max}) must be >= min ({self.min})")
        return self


class NormalLength(StrictConfig):
    """Normal(mean, std) rounded, clipped to [min, max]."""

    kind: Literal["normal"] = "normal"
    mean: float = Field(gt=0)
    std: float = Field(ge=0)
    min: int = Field(ge=1)
    max: int = Field(ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> NormalLength:
        if not self.min <= self.mean <= self.max:
            raise ValueError(f"need min <= mean <= max, got {self.min}, {self.mean}, {self.max}")
        return self


Length = Annotated[FixedLength | UniformLength | NormalLength, Field(discriminator="kind")]


def length_bounds(dist: FixedLength | UniformLength | NormalLength) -> tuple[int, int]:
    """The smallest and largest value a length distribution can give (before scaling)."""
    if isinstance(dist, FixedLength):
        return dist.bounds()
    return dist.min, dist.max


class IntRange(StrictConfig):
    """Uniform integers on [min, max] (counts: turns, images per request)."""

    min: int = Field(ge=1)
    max: int = Field(ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> IntRange:
        if self.max < self.min:
            raise ValueError(f"max ({self.max}) must be >= min ({self.min})")
        return self


class WorkloadBase(StrictConfig):
    description: str = Field(min_length=1, description="one line: the scenario it stands for")
    seed: int = 0


class TextWorkload(WorkloadBase):
    """Independent prompts. `shared_prefix_tokens` > 0 puts one common prefix (a system
    prompt) before every prompt's unique part; 0 makes every prompt distinct from its
    first tokens, so prefix caching cannot make requests cache hits."""

    kind: Literal["text"] = "text"
    api: Literal["completions", "chat"] = "chat"
    input: Length
    output: Length
    shared_prefix_tokens: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _prefix_fits(self) -> TextWorkload:
        low, _ = length_bounds(self.input)
        if self.shared_prefix_tokens and self.shared_prefix_tokens + 16 > low:
            raise ValueError(
                f"shared_prefix_tokens ({self.shared_prefix_tokens}) leaves under 16 unique "
                f"tokens in the shortest prompt ({low})"
            )
        return self


MIN_OBSERVATION_TOKENS = 16


class SessionsWorkload(WorkloadBase):
    """Multi-turn tasks (agents): turn 1 = system + task; every later turn re-sends the whole
    conversation so far (earlier prompts, the assistant replies, a new tool result).

    Per task, the final turn's prompt is drawn from `final_context`; the tool results
    between turns share what is left after system, task and assistant replies.
    Assistant replies are synthesised at the requested output length (the workload is
    built before the run, so the model's actual reply cannot be re-sent).
    """

    kind: Literal["sessions"] = "sessions"
    api: Literal["chat"] = "chat"
    system_tokens: int = Field(default=0, ge=0, description="shared by every task")
    task: Length
    turns: IntRange
    output: Length
    final_context: Length

    @model_validator(mode="after")
    def _context_fits(self) -> SessionsWorkload:
        _, task_max = length_bounds(self.task)
        _, out_max = length_bounds(self.output)
        final_min, _ = length_bounds(self.final_context)
        worst = (
            self.system_tokens
            + task_max
            + (self.turns.max - 1) * (out_max + MIN_OBSERVATION_TOKENS)
            + 32
        )
        if final_min < worst:
            raise ValueError(
                f"the shortest final context ({final_min}) cannot hold system + task + "
                f"{self.turns.max - 1} replies and tool results (needs >= {worst})"
            )
        return self


Resolution = tuple[Annotated[int, Field(ge=16, le=16384)], Annotated[int, Field(ge=16, le=16384)]]


class ImageWorkload(WorkloadBase):
    """Screenshots (synthesised, byte-distinct per request) plus a question, chat API."""

    kind: Literal["image"] = "image"
    api: Literal["chat"] = "chat"
    prompt: Length
    output: Length
    images_per_request: IntRange = Field(default_factory=lambda: IntRange(min=1, max=1))
    resolutions: list[Resolution] = Field(min_length=1, description="[width, height] choices")
    format: Literal["png", "jpeg"] = "png"


class VideoWorkload(WorkloadBase):
    """A clip of `duration_s` at `fps` plus a question, chat API.

    `delivery`: `video_url` sends one mp4 (data URL) for models with a video path;
    `frames` sends the duration·fps frames as images, each after a "t = …s" label
    (how SmolVLM/Idefics3 consume video; works on any image model, the CPU engine included).
    """

    kind: Literal["video"] = "video"
    api: Literal["chat"] = "chat"
    prompt: Length
    output: Length
    duration_s: float = Field(gt=0, le=600)
    fps: float = Field(gt=0, le=60)
    resolution: Resolution
    delivery: Literal["video_url", "frames"] = "frames"
    frame_format: Literal["png", "jpeg"] = "jpeg"

    def frame_count(self) -> int:
        """Frames in the clip: round(duration_s · fps), at least 1."""
        return max(1, round(self.duration_s * self.fps))


class DatasetWorkload(WorkloadBase):
    """Prompts from a local file (nothing is downloaded).

    `format`: `sharegpt` (JSON list or JSONL of {"conversations": [{"from", "value"}]}) or
    `jsonl` ({"prompt": str, "max_tokens": int} per line). ShareGPT output lengths are the
    token counts of the recorded replies (clipped to `max_output_tokens`); `turns: all`
    replays whole conversations as sessions.
    """

    kind: Literal["dataset"] = "dataset"
    api: Literal["completions", "chat"] = "chat"
    format: Literal["sharegpt", "jsonl"]
    path: Path
    turns: Literal["first", "all"] = "first"
    max_output_tokens: int = Field(default=1024, ge=1)
    min_output_tokens: int = Field(default=4, ge=1)
    shuffle: bool = True
    unique_prefix: bool = Field(
        default=True, description="prepend a short unique tag so repeated rows never hit cache"
    )

    @model_validator(mode="after")
    def _sessions_need_chat(self) -> DatasetWorkload:
        if self.turns == "all" and self.api != "chat":
            raise ValueError("turns: all replays conversations and needs api: chat")
        if self.min_output_tokens > self.max_output_tokens:
            raise ValueError("min_output_tokens must be <= max_output_tokens")
        return self


WorkloadSpec = Annotated[
    TextWorkload | SessionsWorkload | ImageWorkload | VideoWorkload | DatasetWorkload,
    Field(discriminator="kind"),
]


class WorkloadSuite(StrictConfig):
    """A suite file: `schema_version` and named workloads."""

    schema_version: Literal[1] = 1
    workloads: dict[
        Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")], WorkloadSpec
    ] = Field(min_length=1)


class WorkloadRef(StrictConfig):
    """A named workload of the suite, as `bench run --workload NAME` puts it in the config.

    `scale` shrinks every token length (0 < scale ≤ 1); "auto" picks the largest scale that
    fits the longest request into the model's context (`max_model_len`). `seed` overrides
    the workload's own seed.
    """

    kind: Literal["suite"] = "suite"
    name: str
    suite_file: Path | None = None
    scale: float | Literal["auto"] = Field(default=1.0)
    seed: int | None = None

    @model_validator(mode="after")
    def _scale_shrinks(self) -> WorkloadRef:
        if self.scale != "auto" and not 0 < float(self.scale) <= 1:
            raise ValueError(f"scale must be in (0, 1] or 'auto', got {self.scale}")
        return self
