"""Client stream parsing, arrival schedules and session grouping, without a server."""

import numpy as np
import pytest

from bench.engines.prometheus import counter_at, parse_exposition
from bench.loadgen.arrivals import arrival_offsets_s
from bench.loadgen.client import _parse_events, _split_events
from bench.loadgen.drive import group_units
from bench.records import RequestSpec


def test_split_events_keeps_partial_event_in_buffer():
    buf = bytearray(b'data: {"a": 1}\n\ndata: {"b"')
    out = []
    _split_events(buf, 7, out)
    assert out == [(7, b'data: {"a": 1}')]
    assert bytes(buf) == b'data: {"b"'


def test_parse_events_completions_with_token_ids_and_usage():
    events = [
        (100, b'data: {"choices":[{"text":"he","token_ids":[5]}]}'),
        (200, b'data: {"choices":[{"text":"llo wor","token_ids":[6,7]}]}'),
        (
            300,
            b'data: {"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":3,'
            b'"prompt_tokens_details":{"cached_tokens":4}}}',
        ),
        (300, b"data: [DONE]"),
    ]
    parsed = _parse_events(events)
    assert parsed["chunk_ns"] == [100, 200]
    assert parsed["chunk_tokens"] == [1, 2]
    assert parsed["usage"]["completion_tokens"] == 3
    assert parsed["usage"]["prompt_tokens_details"]["cached_tokens"] == 4


def test_parse_events_chat_deltas_without_token_ids_count_one_per_chunk():
    events = [
        (1, b'data: {"choices":[{"delta":{"role":"assistant","content":""}}]}'),
        (2, b'data: {"choices":[{"delta":{"content":"Hi"}}]}'),
        (3, b'data: {"choices":[{"delta":{"content":" there"}}]}'),
    ]
    parsed = _parse_events(events)
    assert parsed["chunk_ns"] == [2, 3]  # the empty role chunk is not content
    assert parsed["chunk_tokens"] == [1, 1]


def test_parse_events_error_payload():
    parsed = _parse_events([(1, b'data: {"error": {"message": "boom", "code": 500}}')])
    assert parsed["error"] == "boom"


def test_arrivals_constant_and_seeded_poisson():
    assert arrival_offsets_s(4, 2.0, "constant") == pytest.approx([0, 0.5, 1.0, 1.5])
    a = arrival_offsets_s(2000, 10.0, "poisson", seed=1)
    b = arrival_offsets_s(2000, 10.0, "poisson", seed=1)
    assert np.array_equal(a, b)
    assert np.mean(np.diff(a)) == pytest.approx(0.1, rel=0.08)


def test_gamma_burstiness_raises_variation():
    g = np.diff(arrival_offsets_s(4000, 10.0, "gamma", burstiness=0.25, seed=3))
    # mean 1/rate; coefficient of variation 1/sqrt(0.25) = 2
    assert np.mean(g) == pytest.approx(0.1, rel=0.1)
    assert np.std(g) / np.mean(g) == pytest.approx(2.0, rel=0.15)


def test_sessions_grouped_with_turns_in_order():
    def spec(rid, session=None, turn=None):
        return RequestSpec(
            request_id=rid,
            body={"prompt": "x"},
            requested_output_tokens=1,
            session_id=session,
            turn=turn,
        )

    units = group_units([spec("a", "s1", 1), spec("b"), spec("c", "s1", 0), spec("d", "s2", 0)])
    assert [[s.request_id for s in u] for u in units] == [["c", "a"], ["b"], ["d"]]


def test_prometheus_exposition_sums_label_sets_and_interpolates():
    text = """# HELP vllm:generation_tokens_total Number of generation tokens processed.
# TYPE vllm:generation_tokens_total counter
vllm:generation_tokens_total{engine="0",model_name="m"} 100.0
vllm:generation_tokens_total{engine="1",model_name="m"} 50.0
vllm:request_success_total{finished_reason="length"} 3.0
vllm:request_success_total{finished_reason="stop"} 1.0
vllm:gpu_cache_usage_perc{engine="0"} 0.5
"""
    values = parse_exposition(text)
    assert values["vllm:generation_tokens_total"] == 150.0
    assert values["vllm:request_success_total"] == 4.0
    assert "vllm:gpu_cache_usage_perc" not in values
    scrapes = [(0, {"c": 0.0}), (10, {"c": 100.0}), (20, {"c": 100.0})]
    assert counter_at(scrapes, "c", 5) == 50.0
    assert counter_at(scrapes, "c", 15) == 100.0
    assert counter_at(scrapes, "c", 25) is None
