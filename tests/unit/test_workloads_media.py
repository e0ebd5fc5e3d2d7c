"""Synthesised media: deterministic per seed, byte-distinct per request, decodable."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest

from bench.workloads.build import build_requests
from bench.workloads.media import encode_mp4, screen_recording, screenshot
from bench.workloads.spec import ImageWorkload, VideoWorkload
from bench.workloads.tokens import TextSource, count_chat, text_only

CORPUS = "Plain words make a question about the screen and its windows. " * 100


@pytest.fixture(scope="module")
def tok():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    t = Tokenizer(models.BPE(unk_token="<unk>"))
    t.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    t.decoder = decoders.ByteLevel()
    t.train_from_iterator(
        CORPUS.split(". "),
        trainers.BpeTrainer(
            vocab_size=300,
            special_tokens=["<unk>", "</s>", "<image>"],
            show_progress=False,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        ),
    )
    fast = PreTrainedTokenizerFast(tokenizer_object=t, unk_token="<unk>", eos_token="</s>")
    fast.chat_template = (
        "{% for m in messages %}[{{ m['role'] }}] {% for p in m['content'] %}"
        "{% if p['type'] == 'text' %}{{ p['text'] }}{% else %}<image>{% endif %}"
        "{% endfor %}</s>{% endfor %}{% if add_generation_prompt %}[assistant] {% endif %}"
    )
    return fast


def decode_url(url: str) -> bytes:
    return base64.b64decode(url.split(",", 1)[1])


def test_screenshots_are_deterministic_distinct_and_decodable():
    from PIL import Image

    a = screenshot(1920, 1080, "png", np.random.default_rng(5))
    b = screenshot(1920, 1080, "png", np.random.default_rng(5))
    c = screenshot(1920, 1080, "png", np.random.default_rng(6))
    assert a == b and a != c
    image = Image.open(io.BytesIO(a))
    assert image.size == (1920, 1080) and image.format == "PNG"
    jpeg = Image.open(io.BytesIO(screenshot(640, 360, "jpeg", np.random.default_rng(0))))
    assert jpeg.format == "JPEG" and jpeg.size == (640, 360)


def test_mp4_decodes_with_opencv_at_the_set_rate():
    import cv2

    frames = screen_recording(320, 180, 10, np.random.default_rng(1))
    assert len(frames) == 10 and not np.array_equal(frames[0], frames[1])
    path = "/tmp/tokenbench-test-clip.mp4"
    with open(path, "wb") as fh:
        fh.write(encode_mp4(frames, 2.0))
    cap = cv2.VideoCapture(path)
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 10
    assert cap.get(cv2.CAP_PROP_FPS) == pytest.approx(2.0)
    assert (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))) == (
        320,
        180,
    )


IMAGES = ImageWorkload(
    description="i",
    prompt={"kind": "uniform", "min": 30, "max": 60},
    output={"kind": "fixed", "tokens": 20},
    images_per_request={"min": 1, "max": 3},
    resolutions=[[320, 180], [640, 360]],
)


def test_image_requests_are_byte_distinct_with_exact_text(tok):
    from PIL import Image

    specs = build_requests(IMAGES, tok, num_requests=8, source=TextSource(tok, corpus=CORPUS))
    urls = []
    for s in specs:
        content = s.body["messages"][0]["content"]
        images = [p for p in content if p["type"] == "image_url"]
        assert len(images) == s.images and 1 <= s.images <= 3
        for p in images:
            assert p["image_url"]["url"].startswith("data:image/png;base64,")
            size = Image.open(io.BytesIO(decode_url(p["image_url"]["url"]))).size
            assert size in {(320, 180), (640, 360)}
            urls.append(p["image_url"]["url"])
        assert s.text_input_tokens == count_chat(tok, text_only(s.body["messages"]))
        assert s.requested_input_tokens is None and s.requested_output_tokens == 20
        assert s.api == "chat" and s.body["ignore_eos"] is True
    assert len(set(urls)) == len(urls)
    again = build_requests(IMAGES, tok, num_requests=8, source=TextSource(tok, corpus=CORPUS))
    assert again == specs


def video(delivery, prompt=60):
    return VideoWorkload(
        description="v",
        prompt={"kind": "fixed", "tokens": prompt},
        output={"kind": "fixed", "tokens": 20},
        duration_s=5,
        fps=2,
        resolution=[320, 180],
        delivery=delivery,
    )


def test_video_as_timestamped_frames(tok):
    # the ten labels are text too: the question fills the rest of the 300 text tokens
    (spec,) = build_requests(
        video("frames", prompt=300), tok, num_requests=1, source=TextSource(tok, corpus=CORPUS)
    )
    parts = spec.body["messages"][0]["content"]
    assert len(parts) == 2 * 10 + 1
    labels = [p["text"] for p in parts[:-1:2]]
    assert labels == [f"t = {k / 2:.1f}s: " for k in range(10)]
    assert all(p["type"] == "image_url" for p in parts[1:-1:2])
    assert spec.video_s == 5.0 and spec.images == 0
    assert abs(spec.text_input_tokens - 300) <= 1
    assert spec.text_input_tokens == count_chat(tok, text_only(spec.body["messages"]))


def test_video_as_one_mp4(tok):
    specs = build_requests(
        video("video_url"), tok, num_requests=2, source=TextSource(tok, corpus=CORPUS)
    )
    urls = []
    for s in specs:
        (clip, question) = s.body["messages"][0]["content"]
        assert clip["type"] == "video_url"
        assert clip["video_url"]["url"].startswith("data:video/mp4;base64,")
        assert question["type"] == "text"
        urls.append(clip["video_url"]["url"])
    assert urls[0] != urls[1]
