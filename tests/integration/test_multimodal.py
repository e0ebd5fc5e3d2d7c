"""Image, video and agent workloads end to end on the real CPU server, with the embedded
tiny VLMs: Idefics3 (images; video as timestamped frames) and Ovis2.5 (native mp4 video).
Vision tokens come from the server's own usage counts."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest

from bench.records import RequestRecord, RequestSpec

pytestmark = pytest.mark.slow

SERVED = "tiny-vlm"
ENGINE_ARGS = [
    "--dtype", "float32", "--max-model-len", "8192", "--max-num-seqs", "8",
    "--limit-mm-per-prompt", json.dumps({"image": 16}), "--enable-prompt-tokens-details",
]  # fmt: skip


@pytest.fixture(scope="module")
def vlm(tmp_path_factory):
    """(server, tokenizer) for the tiny VLM, built into the tokenbench cache on first use."""
    from transformers import AutoTokenizer

    from bench.engines.managed import ManagedServer
    from bench.models.tiny import default_cache_dir
    from bench.models.vlm import build_tiny_vlm

    path = build_tiny_vlm(default_cache_dir() / "models" / "tiny-vlm")
    server = ManagedServer(
        str(path), SERVED, engine_args=ENGINE_ARGS,
        log_path=tmp_path_factory.mktemp("vlm") / "server.log",
    )  # fmt: skip
    server.start()
    yield server, AutoTokenizer.from_pretrained(str(path))
    server.stop()


def send(base_url: str, spec: RequestSpec, index: int, served: str = SERVED) -> RequestRecord:
    """One streaming chat request, timed like the load generator (perf_counter_ns)."""
    body = dict(spec.body, model=served, stream=True, stream_options={"include_usage": True})
    request = urllib.request.Request(
        base_url + "/v1/chat/completions", data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    chunks: list[int] = []
    usage: dict = {}
    sent = time.perf_counter_ns()
    with urllib.request.urlopen(request, timeout=600) as resp:
        for raw in resp:
            line = raw.strip()
            if not line.startswith(b"data: ") or line == b"data: [DONE]":
                continue
            event = json.loads(line[6:])
            usage = event.get("usage") or usage
            if event.get("choices"):
                chunks.append(time.perf_counter_ns())
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens")
    return RequestRecord(
        request_id=spec.request_id, index=index, status="ok", sent_ns=sent,
        first_chunk_ns=chunks[0], last_chunk_ns=chunks[-1], done_ns=time.perf_counter_ns(),
        input_tokens=usage["prompt_tokens"], output_tokens=usage["completion_tokens"],
        cached_input_tokens=cached, requested_input_tokens=spec.requested_input_tokens,
        requested_output_tokens=spec.requested_output_tokens, session_id=spec.session_id,
        turn=spec.turn, images=spec.images, video_s=spec.video_s,
        text_input_tokens=spec.text_input_tokens,
    )  # fmt: skip


def run(server, specs, served: str = SERVED):
    """Requests one after another (concurrency 1: the prefill share is exact bookkeeping)."""
    records = [send(server.base_url, s, i, served) for i, s in enumerate(specs)]
    return records, (records[0].sent_ns, records[-1].done_ns)


def test_image_workload_vision_tokens_and_device_seconds(vlm):
    from bench.workloads.accounting import vision_summary
    from bench.workloads.build import build_requests
    from bench.workloads.suite import get_workload

    server, tok = vlm
    specs = build_requests(get_workload("image"), tok, num_requests=3, scale=0.25)
    records, window = run(server, specs)
    for r in records:
        assert r.output_tokens == r.requested_output_tokens
        # 1920x1080 and 3840x2160 both resize to 512x288: 4x3 tiles of 128 px + 1 global
        # = 13 tiles x 16 tokens, plus 31 row/col/wrapper tokens = 239 per screenshot
        assert r.input_tokens - r.text_input_tokens == 239 * r.images
    v = vision_summary(records, *window)
    assert v.images == sum(s.images for s in specs) >= 3
    assert v.vision_tokens_per_image == pytest.approx(239.0)
    assert v.text_input_tokens + v.vision_input_tokens == sum(r.input_tokens for r in records)
    assert 0 < v.vision_gpu_s < v.prefill_gpu_s <= v.window_s
    assert v.gpu_s_per_image == pytest.approx(v.vision_gpu_s / v.images)


def test_video_workload_as_timestamped_frames(vlm):
    from bench.workloads.accounting import vision_summary
    from bench.workloads.build import build_requests
    from bench.workloads.suite import get_workload

    server, tok = vlm
    workload = get_workload("video")
    specs = build_requests(workload, tok, num_requests=2, scale=0.25)
    records, window = run(server, specs)
    vision = [r.input_tokens - r.text_input_tokens for r in records]
    assert all(v >= 239 * workload.frame_count() for v in vision)  # ten frames, each tiled
    assert vision[0] == vision[1]  # same clip size, same frame count: same vision tokens
    v = vision_summary(records, *window)
    assert v.video_s == 10.0 and v.images == 0
    assert v.vision_tokens_per_video_s == pytest.approx(vision[0] / 5.0)
    assert v.gpu_s_per_video_s > 0 and v.gpu_s_per_image is None


def test_our_counts_match_the_servers_tokenize(vlm):
    from bench.workloads.build import build_requests
    from bench.workloads.suite import get_workload
    from bench.workloads.verify import verify_with_server

    server, tok = vlm
    specs = []
    for name in ("chat", "fixed-1k1k", "image"):
        specs += build_requests(get_workload(name), tok, num_requests=2, scale=0.5)
    check = verify_with_server(specs, server.base_url, SERVED)
    assert check is not None and len(check.rows) == 6
    assert check.within_one == 6
    assert all(r.client_tokens > 0 for r in check.rows)


def test_agent_turns_hit_the_prefix_cache_and_total_per_task(vlm):
    from bench.workloads.accounting import input_length_check, session_summary
    from bench.workloads.build import build_requests
    from bench.workloads.suite import get_workload

    server, tok = vlm
    specs = build_requests(get_workload("agent"), tok, num_requests=1, scale=0.1)
    records, _ = run(server, specs)
    check = input_length_check(records)
    assert check.checked == len(specs) and check.within_one == len(specs)
    assert [r.input_tokens for r in records] == sorted(r.input_tokens for r in records)
    # each turn re-sends the previous prompt: the server finds it in its prefix cache
    for prev, cur in zip(records, records[1:], strict=False):
        assert cur.cached_input_tokens is not None and cur.cached_input_tokens > 0
        assert cur.cached_input_tokens <= prev.input_tokens
    summary = session_summary(records)
    assert summary.tasks == summary.complete_tasks == 1
    total = summary.totals[0]
    assert total.total_tokens == sum(r.input_tokens + r.output_tokens for r in records)
    assert total.final_context_tokens == records[-1].input_tokens + records[-1].output_tokens


VIDEO_SERVED = "tiny-video-vlm"
VIDEO_ENGINE_ARGS = [
    "--dtype", "float32", "--max-model-len", "16384", "--max-num-seqs", "4",
    "--trust-remote-code", "--load-format", "dummy", "--max-num-batched-tokens", "16384",
    "--limit-mm-per-prompt",
    json.dumps({"video": {"count": 1, "num_frames": 10, "width": 1280, "height": 720}}),
]  # fmt: skip


@pytest.fixture(scope="module")
def video_vlm(tmp_path_factory):
    """(server, tokenizer) for the native-video tiny VLM (Ovis2.5-style)."""
    from transformers import AutoTokenizer

    from bench.engines.managed import ManagedServer
    from bench.models.tiny import default_cache_dir
    from bench.models.vlm_video import build_tiny_video_vlm

    path = build_tiny_video_vlm(default_cache_dir() / "models" / "tiny-video-vlm")
    server = ManagedServer(
        str(path), VIDEO_SERVED, engine_args=VIDEO_ENGINE_ARGS,
        log_path=tmp_path_factory.mktemp("video-vlm") / "server.log",
    )  # fmt: skip
    server.start()
    yield server, AutoTokenizer.from_pretrained(str(path), trust_remote_code=True)
    server.stop()


def test_native_video_workload_mp4_through_video_url(video_vlm):
    from bench.workloads.accounting import vision_summary
    from bench.workloads.build import build_requests
    from bench.workloads.suite import get_workload

    server, tok = video_vlm
    workload = get_workload("video-native")
    (spec,) = build_requests(workload, tok, num_requests=1, scale=0.2)
    assert spec.body["messages"][0]["content"][0]["type"] == "video_url"
    records, window = run(server, [spec], VIDEO_SERVED)
    (r,) = records
    assert r.output_tokens == r.requested_output_tokens
    # OpenCV decodes the 10 frames; each 1280x720 frame resizes to 1280x704 (multiples of
    # 32) = 80x44 patches of 16 px, merged 2x2 -> 880 tokens; + video start/end = 8802
    assert r.input_tokens - r.text_input_tokens == 880 * workload.frame_count() + 2
    v = vision_summary(records, *window)
    assert v.video_s == 5.0
    assert v.vision_tokens_per_video_s == pytest.approx(8802 / 5)
    assert 0 < v.gpu_s_per_video_s * 5 <= v.prefill_gpu_s
