"""Image and video workloads: chat completions with base64 data URLs.

The `prompt` length is the text-only prompt (chat template included, media parts left
out), which is what `text_input_tokens` records; the server's `usage.prompt_tokens`
minus it is the vision tokens (see `bench.workloads.accounting`). `requested_input_tokens`
stays None: the total depends on the server's image processor.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from bench.records import RequestSpec
from bench.workloads.lengths import sample_counts, sample_lengths
from bench.workloads.media import data_url, encode_image, encode_mp4, screen_recording, screenshot
from bench.workloads.spec import ImageWorkload, VideoWorkload
from bench.workloads.text import MEASURED, WARMUP, body_for, request_id, request_rng
from bench.workloads.tokens import Messages, TextSource, count_chat

IMAGE_QUESTION = "Look at the screenshot(s) and answer: "
VIDEO_QUESTION = "Watch the screen recording and answer: "


def image_part(url: str) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url}}


def _question(
    source: TextSource,
    parts: list[dict[str, Any]],
    lead: str,
    target: int,
    rng: np.random.Generator,
) -> tuple[Messages, int]:
    """Messages [user: parts + question] whose text-only prompt is `target` tokens."""
    tok = source.tokenizer

    def count(t: str) -> int:
        return count_chat(tok, [{"role": "user", "content": [*parts, _text(lead + t)]}])

    text, actual = source.fit(target, count, rng)
    return [{"role": "user", "content": [*parts, _text(lead + text)]}], actual


def _text(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def iter_image(
    workload: ImageWorkload, source: TextSource, *, seed: int, scale: float, warmup: bool
) -> Iterator[RequestSpec]:
    """Endless stream of screenshot questions (scale shrinks text, never the images)."""
    index = 0
    while True:
        rng = request_rng(seed, WARMUP if warmup else MEASURED, index)
        n_text = int(sample_lengths(workload.prompt, 1, rng, scale)[0])
        n_out = int(sample_lengths(workload.output, 1, rng, scale)[0])
        n_images = int(sample_counts(workload.images_per_request, 1, rng)[0])
        parts = []
        for _ in range(n_images):
            width, height = workload.resolutions[int(rng.integers(0, len(workload.resolutions)))]
            payload = screenshot(width, height, workload.format, rng)
            parts.append(image_part(data_url(payload, workload.format)))
        messages, actual = _question(source, parts, IMAGE_QUESTION, n_text, rng)
        yield RequestSpec(
            request_id=request_id(index, warmup),
            api="chat",
            body=body_for("chat", messages, n_out),
            requested_output_tokens=n_out,
            warmup=warmup,
            images=n_images,
            text_input_tokens=actual,
        )
        index += 1


def video_parts(workload: VideoWorkload, rng: np.random.Generator) -> list[dict[str, Any]]:
    """The clip as content parts: one `video_url` mp4, or "t = …s" labels and frames."""
    width, height = workload.resolution
    frames = screen_recording(width, height, workload.frame_count(), rng)
    if workload.delivery == "video_url":
        payload = encode_mp4(frames, workload.fps)
        return [{"type": "video_url", "video_url": {"url": data_url(payload, "mp4")}}]
    parts: list[dict[str, Any]] = []
    for k, frame in enumerate(frames):
        parts.append(_text(f"t = {k / workload.fps:.1f}s: "))
        parts.append(
            image_part(data_url(encode_image(frame, workload.frame_format), workload.frame_format))
        )
    return parts


def iter_video(
    workload: VideoWorkload, source: TextSource, *, seed: int, scale: float, warmup: bool
) -> Iterator[RequestSpec]:
    """Endless stream of video questions (`video_s` = the clip's duration)."""
    index = 0
    while True:
        rng = request_rng(seed, WARMUP if warmup else MEASURED, index)
        n_text = int(sample_lengths(workload.prompt, 1, rng, scale)[0])
        n_out = int(sample_lengths(workload.output, 1, rng, scale)[0])
        parts = video_parts(workload, rng)
        messages, actual = _question(source, parts, VIDEO_QUESTION, n_text, rng)
        yield RequestSpec(
            request_id=request_id(index, warmup),
            api="chat",
            body=body_for("chat", messages, n_out),
            requested_output_tokens=n_out,
            warmup=warmup,
            video_s=workload.duration_s,
            text_input_tokens=actual,
        )
        index += 1
