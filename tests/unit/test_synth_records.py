"""Synthetic-server config and records: lateness summary from literal timestamps."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.config.loading import validate_data
from bench.errors import UserError
from bench.synth.records import (
    SynthConfig,
    SynthRequestRecord,
    lateness_summary,
    percentile,
    read_records,
    write_records,
)


def _record(seq: int, due: list[int], sent: list[int], tokens: list[int]) -> SynthRequestRecord:
    return SynthRequestRecord(
        request_id=f"cmpl-{seq}", seq=seq, endpoint="completions", stream=True,
        prompt_tokens=3, max_tokens=sum(tokens), completion_tokens=sum(tokens), outcome="ok",
        received_ns=0, chunk_due_ns=due, chunk_sent_ns=sent, chunk_tokens=tokens,
    )  # fmt: skip


def test_percentile_nearest_rank():
    assert percentile([1, 2, 3, 4], 50) == 2.0
    assert percentile([1, 2, 3, 4], 99) == 4.0
    assert percentile([7], 1) == 7.0
    with pytest.raises(ValueError):
        percentile([], 50)


def test_lateness_summary_by_hand():
    # lateness (sent - due): a = 100, 300 ns; b = 200, 0, 1000 ns -> sorted 0,100,200,300,1000
    a = _record(0, [1000, 2000], [1100, 2300], [1, 1])
    b = _record(1, [1500, 2500, 3500], [1700, 2500, 4500], [2, 2, 1])
    s = lateness_summary([a, b])
    assert (s.requests, s.chunks, s.tokens) == (2, 5, 7)
    assert s.lateness_p50_s == pytest.approx(200e-9)
    assert s.lateness_p99_s == pytest.approx(1000e-9)
    assert s.lateness_max_s == pytest.approx(1000e-9)
    assert (s.first_sent_ns, s.last_sent_ns) == (1100, 4500)


def test_lateness_summary_window_counts_chunks_sent_inside():
    a = _record(0, [1000, 2000], [1100, 2300], [1, 1])
    b = _record(1, [1500, 2500, 3500], [1700, 2500, 4500], [2, 2, 1])
    s = lateness_summary([a, b], since_ns=1500, until_ns=2300)  # only b's 1700 (end exclusive)
    assert (s.requests, s.chunks, s.tokens) == (1, 1, 2)
    assert s.lateness_max_s == pytest.approx(200e-9)
    s = lateness_summary([a, b], since_ns=1500, until_ns=2301)  # and a's 2300
    assert (s.requests, s.chunks, s.tokens) == (2, 2, 3)
    assert s.lateness_max_s == pytest.approx(300e-9)
    empty = lateness_summary([a], since_ns=5000)
    assert empty.chunks == 0 and empty.lateness_p50_s is None


def test_record_lateness_and_jsonl_roundtrip(tmp_path: Path):
    a = _record(0, [10, 20], [15, 26], [1, 1])
    assert a.lateness_ns() == [5, 6]
    path = tmp_path / "r.jsonl"
    assert write_records([a, a], path) == 2
    assert read_records(path) == [a, a]


def test_read_records_errors_name_file_and_fix(tmp_path: Path):
    with pytest.raises(UserError, match="not found"):
        read_records(tmp_path / "missing.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"request_id": "x"}\n')
    with pytest.raises(UserError) as info:
        read_records(bad)
    assert "line 1" in info.value.message and info.value.file == str(bad)


def test_config_is_strict():
    assert SynthConfig().tokens_per_chunk == 1
    with pytest.raises(UserError) as info:
        validate_data(SynthConfig, {"ttft_s": -1}, "cfg")
    assert info.value.field == "ttft_s"
    with pytest.raises(UserError, match="unknown field"):
        validate_data(SynthConfig, {"tftt_s": 1}, "cfg")
    with pytest.raises(UserError):
        validate_data(SynthConfig, {"fail_mode": "sometimes"}, "cfg")


def test_server_cpu_share_between_samples_by_hand():
    from bench.synth.records import cpu_fraction

    ms = 1_000_000
    times, cpu = [0, 100 * ms, 200 * ms], [0, 40 * ms, 130 * ms]
    # window [50, 200] ms: samples at 100 and 200 ms -> (130 - 40) / (200 - 100) = 0.9
    assert cpu_fraction(times, cpu, 50 * ms, 200 * ms) == pytest.approx(0.9)
    assert cpu_fraction(times, cpu, None, None) == pytest.approx(0.65)
    assert cpu_fraction(times, cpu, 150 * ms, 199 * ms) is None  # no two samples inside
