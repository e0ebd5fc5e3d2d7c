"""The suite file: strict schema, every named workload present, user files override."""

from __future__ import annotations

import numpy as np
import pytest

from bench.errors import UserError
from bench.workloads.build import auto_scale, check_scale, max_request_tokens
from bench.workloads.lengths import sample_counts, sample_lengths, scaled, split_total
from bench.workloads.spec import FixedLength, IntRange, NormalLength, UniformLength
from bench.workloads.suite import get_workload, load_suite

NAMES = ["chat", "agent", "coding", "fixed-1k1k", "fixed-1k8k", "fixed-8k1k", "image", "video"]


def test_packaged_suite_has_every_named_workload_with_a_description():
    suite = load_suite()
    assert set(NAMES) <= set(suite)
    assert all(spec.description.strip() for spec in suite.values())
    assert suite["agent"].kind == "sessions" and suite["image"].kind == "image"
    assert suite["video"].frame_count() == 10  # 5 s at 2 frames/s
    # InferenceX's ratio 0.8: ISL 8k uniform on [0.8 * 8192, 8192]
    assert suite["fixed-8k1k"].input.bounds() == (6553, 8192)
    assert suite["coding"].input.min == 8000 and suite["coding"].input.max == 32000


def test_user_file_overrides_and_adds(tmp_path):
    f = tmp_path / "mine.yaml"
    f.write_text(
        "schema_version: 1\nworkloads:\n"
        "  chat: {kind: text, description: mine, input: {kind: fixed, tokens: 10},"
        " output: {kind: fixed, tokens: 5}}\n"
        "  sgpt: {kind: dataset, description: d, format: sharegpt, path: data/sg.json}\n"
    )
    suite = load_suite(f)
    assert suite["chat"].description == "mine"
    assert suite["agent"].kind == "sessions"  # packaged ones stay
    assert suite["sgpt"].path == (tmp_path / "data" / "sg.json").resolve()


def test_unknown_workload_names_the_known_ones():
    with pytest.raises(UserError) as err:
        get_workload("chatt")
    assert "chat" in err.value.fix and err.value.field == "--workload"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            "  w: {kind: text, description: x, input: {kind: fixed, tokens: 10}}",
            "workloads.w.text.output",
        ),
        ("  w: {kind: txt, description: x}", "workloads.w"),
        (
            "  w: {kind: text, description: x, input: {kind: fixed, tokens: 0},"
            " output: {kind: fixed, tokens: 1}}",
            "workloads.w.text.input.fixed.tokens",
        ),
        (
            "  w: {kind: text, description: x, inptu: 3, input: {kind: fixed, tokens: 5},"
            " output: {kind: fixed, tokens: 1}}",
            "workloads.w.text.inptu",
        ),
    ],
)
def test_bad_suite_files_name_the_field(tmp_path, body, field):
    f = tmp_path / "bad.yaml"
    f.write_text("schema_version: 1\nworkloads:\n" + body + "\n")
    with pytest.raises(UserError) as err:
        load_suite(f)
    assert err.value.file == str(f)
    assert err.value.field == field


def test_agent_context_must_hold_its_turns():
    from pydantic import ValidationError

    from bench.workloads.spec import SessionsWorkload

    with pytest.raises(ValidationError, match="final context"):
        SessionsWorkload(
            description="x",
            system_tokens=1000,
            task={"kind": "fixed", "tokens": 500},
            turns={"min": 2, "max": 10},
            output={"kind": "fixed", "tokens": 300},
            final_context={"kind": "fixed", "tokens": 2000},
        )


def test_range_conventions():
    # vLLM: [L(1-r), L(1+r)]; SGLang/InferenceX: [L r, L]
    assert FixedLength(tokens=1000, range_ratio=0.5).bounds() == (500, 1500)
    assert FixedLength(tokens=1024, range_ratio=0.8, range_convention="sglang").bounds() == (
        819,
        1024,
    )
    assert FixedLength(tokens=1024, range_ratio=1.0, range_convention="sglang").bounds() == (
        1024,
        1024,
    )
    assert FixedLength(tokens=7).bounds() == (7, 7)
    with pytest.raises(ValueError):
        FixedLength(tokens=10, range_ratio=1.0)


def test_lengths_are_deterministic_per_seed_and_within_bounds():
    dists = [
        FixedLength(tokens=1024, range_ratio=0.8, range_convention="sglang"),
        UniformLength(min=5000, max=15000),
        NormalLength(mean=300, std=100, min=100, max=500),
    ]
    for dist in dists:
        a = sample_lengths(dist, 500, np.random.default_rng(7))
        b = sample_lengths(dist, 500, np.random.default_rng(7))
        c = sample_lengths(dist, 500, np.random.default_rng(8))
        assert a.tolist() == b.tolist()
        assert a.tolist() != c.tolist()
        low, high = dist.bounds() if isinstance(dist, FixedLength) else (dist.min, dist.max)
        assert a.min() >= low and a.max() <= high
    normal = sample_lengths(dists[2], 4000, np.random.default_rng(1))
    assert 290 < normal.mean() < 310


def test_scale_multiplies_and_rounds_to_at_least_one():
    assert scaled(1000, 0.25) == 250 and scaled(3, 0.1) == 1
    got = sample_lengths(FixedLength(tokens=8000), 3, np.random.default_rng(0), scale=0.5)
    assert got.tolist() == [4000, 4000, 4000]
    with pytest.raises(UserError):
        check_scale(1.5)


def test_auto_scale_fits_the_longest_request():
    coding = get_workload("coding")
    assert max_request_tokens(coding) == 32000 + 1500
    # 0.95 * 16384 / 33500 = 0.4646... -> 0.464
    assert auto_scale(coding, 16384) == 0.464
    assert auto_scale(get_workload("chat"), 16384) == 1.0


def test_split_total_is_exact_and_respects_the_minimum():
    parts = split_total(1000, 7, 16, np.random.default_rng(3))
    assert sum(parts) == 1000 and len(parts) == 7 and min(parts) >= 16
    assert split_total(48, 3, 16, np.random.default_rng(0)) == [16, 16, 16]
    with pytest.raises(ValueError):
        split_total(10, 3, 16, np.random.default_rng(0))
    counts = sample_counts(IntRange(min=4, max=10), 200, np.random.default_rng(0))
    assert counts.min() >= 4 and counts.max() <= 10 and len(set(counts.tolist())) == 7
