"""Images and video synthesised locally, byte-distinct per request, as base64 data URLs.

Screenshots look like desktop screens (title bar, side bar, windows of "text" lines,
coloured blocks) so PNG/JPEG sizes are realistic (hundreds of kB at 4K, not the tens of
MB of random noise). Every image is drawn from the request's own generator and carries a
row of random pixels, so no two requests send the same bytes and the server's
multimodal cache (keyed on content hashes) cannot short-circuit them.

Video: a screen recording, a base screenshot whose content scrolls and whose cursor box
moves frame by frame; mp4 (MPEG-4 Part 2, OpenCV's `mp4v`, which vLLM's OpenCV video
loader decodes) or the frames one by one. PIL, numpy and cv2 are imported inside functions.
"""

from __future__ import annotations

import base64
import io
import os
import tempfile
from typing import Any

import numpy as np

MIME = {"png": "image/png", "jpeg": "image/jpeg", "mp4": "video/mp4"}


def data_url(payload: bytes, fmt: str) -> str:
    """`data:<mime>;base64,<payload>`."""
    return f"data:{MIME[fmt]};base64," + base64.b64encode(payload).decode("ascii")


def _colour(rng: np.random.Generator, low: int = 0, high: int = 256) -> tuple[int, int, int]:
    r, g, b = (int(v) for v in rng.integers(low, high, size=3))
    return r, g, b


def screenshot_array(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """An RGB uint8 array (height, width, 3) that looks like a desktop screenshot."""
    from PIL import Image, ImageDraw

    dark = bool(rng.integers(0, 2))
    background = _colour(rng, 20, 60) if dark else _colour(rng, 215, 250)
    ink = (220, 220, 220) if dark else (40, 40, 40)
    image = Image.new("RGB", (width, height), background)
    draw = ImageDraw.Draw(image)
    bar = max(4, height // 30)
    draw.rectangle([0, 0, width, bar], fill=_colour(rng, 30, 90))
    side = int(width * rng.uniform(0.1, 0.2))
    draw.rectangle([0, bar, side, height], fill=_colour(rng, 60, 200))
    line = max(3, height // 70)
    for _ in range(int(rng.integers(2, 5))):
        x0 = int(rng.integers(side, max(side + 1, width * 2 // 3)))
        y0 = int(rng.integers(bar, max(bar + 1, height // 2)))
        x1 = min(width - 1, x0 + int(width * rng.uniform(0.25, 0.6)))
        y1 = min(height - 1, y0 + int(height * rng.uniform(0.3, 0.6)))
        draw.rectangle([x0, y0, x1, y1], fill=background, outline=ink)
        draw.rectangle([x0, y0, x1, y0 + bar], fill=_colour(rng, 80, 200))
        y = y0 + bar + line
        while y + line < y1 - line:
            x = x0 + line
            right = x1 - line - int(rng.integers(0, max(1, (x1 - x0) // 3)))
            while x < right:
                word = int(rng.integers(2, 10)) * line // 2
                draw.rectangle([x, y, min(x + word, right), y + line - 1], fill=ink)
                x += word + line
            y += 2 * line
        if rng.random() < 0.5:
            bx = int(rng.integers(x0, max(x0 + 1, x1 - 4 * bar)))
            by = int(rng.integers(y0 + bar, max(y0 + bar + 1, y1 - 2 * bar)))
            draw.rectangle([bx, by, bx + 4 * bar, by + 2 * bar], fill=_colour(rng))
    pixels = np.asarray(image).copy()
    # a row of random pixels: the image's bytes are unique to this generator state
    stamp = min(width, 256)
    pixels[height - 1, :stamp] = rng.integers(0, 256, size=(stamp, 3), dtype=np.uint8)
    return pixels


def encode_image(pixels: np.ndarray, fmt: str) -> bytes:
    """PNG (compress level 1: fast, screenshots stay small) or JPEG (quality 90) bytes."""
    from PIL import Image

    out = io.BytesIO()
    image = Image.fromarray(pixels, "RGB")
    if fmt == "png":
        image.save(out, format="PNG", compress_level=1)
    else:
        image.save(out, format="JPEG", quality=90)
    return out.getvalue()


def screenshot(width: int, height: int, fmt: str, rng: np.random.Generator) -> bytes:
    """Encoded bytes of one synthesised screenshot."""
    return encode_image(screenshot_array(width, height, rng), fmt)


def screen_recording(
    width: int, height: int, frames: int, rng: np.random.Generator
) -> list[np.ndarray]:
    """`frames` RGB frames: content scrolls up a few pixels and a cursor box moves each frame."""
    base = screenshot_array(width, height, rng)
    step = max(1, height // 100)
    box = max(4, min(width, height) // 40)
    x, y = int(rng.integers(0, width - box)), int(rng.integers(0, height - box))
    dx, dy = int(rng.integers(1, 3)) * box // 2, int(rng.integers(1, 3)) * box // 2
    out = []
    for k in range(frames):
        frame = np.roll(base, -k * step, axis=0)
        frame[y : y + box, x : x + box] = (255, 0, 0)
        out.append(frame)
        x, y = (x + dx) % (width - box), (y + dy) % (height - box)
    return out


def encode_mp4(frames: list[Any], fps: float) -> bytes:
    """MPEG-4 (`mp4v`) bytes of RGB frames at `fps`, written by OpenCV.

    Raises:
        UserError: OpenCV is not installed (the `video` extra).
        RuntimeError: this OpenCV build cannot write mp4.
    """
    from bench.extras import require

    require("cv2", "an mp4 video workload")
    import cv2

    height, width = frames[0].shape[:2]
    fd, path = tempfile.mkstemp(suffix=".mp4")
    os.close(fd)
    try:
        fourcc = cv2.VideoWriter_fourcc(*"mp4v")  # type: ignore[attr-defined]
        writer = cv2.VideoWriter(path, fourcc, fps, (width, height))
        if not writer.isOpened():
            raise RuntimeError("OpenCV cannot write mp4 (mp4v) on this machine")
        for frame in frames:
            writer.write(np.ascontiguousarray(frame[:, :, ::-1]))  # OpenCV wants BGR
        writer.release()
        with open(path, "rb") as fh:
            return fh.read()
    finally:
        os.unlink(path)
