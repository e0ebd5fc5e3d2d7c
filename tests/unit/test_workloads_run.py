"""The seam to `bench run`: a workload reference, the requests it builds, the report section."""

from __future__ import annotations

import pytest

from bench.errors import UserError
from bench.records import RequestRecord
from bench.workloads.run import WorkloadRef, report_section, requests_for_run, resolve_scale
from bench.workloads.suite import get_workload

SUITE = """schema_version: 1
workloads:
  tiny:
    kind: text
    description: tiny prompts
    seed: 9
    api: completions
    input: {kind: fixed, tokens: 40}
    output: {kind: fixed, tokens: 8}
"""


@pytest.fixture(scope="module")
def tok():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    t = Tokenizer(models.BPE(unk_token="<unk>"))
    t.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    t.decoder = decoders.ByteLevel()
    t.train_from_iterator(
        ["the quick brown fox jumps over the lazy dog"] * 50,
        trainers.BpeTrainer(
            vocab_size=280,
            special_tokens=["<unk>"],
            show_progress=False,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        ),
    )
    return PreTrainedTokenizerFast(tokenizer_object=t, unk_token="<unk>")


def test_scale_auto_fits_the_context_and_fixed_scale_is_checked(tmp_path):
    coding = get_workload("coding")
    assert resolve_scale(WorkloadRef(name="coding", scale="auto"), coding, 16384) == 0.464
    assert resolve_scale(WorkloadRef(name="coding", scale="auto"), coding, None) == 1.0
    assert resolve_scale(WorkloadRef(name="coding", scale=0.5), coding, 16384) == 0.5
    with pytest.raises(ValueError, match="scale must be in"):
        WorkloadRef(name="coding", scale=2.0)


def test_requests_and_report_section(tmp_path, tok):
    suite = tmp_path / "suite.yaml"
    suite.write_text(SUITE)
    ref = WorkloadRef(name="tiny", suite_file=suite, scale=0.5)
    specs, info = requests_for_run(ref, tok, num_requests=3, warmup=1)
    assert [s.request_id for s in specs] == ["w000000", "r000000", "r000001", "r000002"]
    assert {s.requested_input_tokens for s in specs} == {20}  # 40 tokens x scale 0.5
    assert {s.requested_output_tokens for s in specs} == {4}
    assert info.scale == 0.5 and info.seed == 9 and info.requests == 3
    assert info.text_requests_checked == 3
    S = 1_000_000_000
    records = [
        RequestRecord(
            request_id=s.request_id,
            index=i,
            status="ok",
            sent_ns=i * S,
            first_chunk_ns=i * S + S // 2,
            last_chunk_ns=(i + 1) * S,
            done_ns=(i + 1) * S,
            input_tokens=s.requested_input_tokens,
            output_tokens=4,
            requested_input_tokens=s.requested_input_tokens,
            warmup=s.warmup,
        )
        for i, s in enumerate(specs)
    ]
    section = report_section(info, records, (0, 4 * S))
    assert section.info.name == "tiny"
    assert section.outcome.input_lengths.checked == 3
    assert section.outcome.input_lengths.exact == 3
    assert section.outcome.vision is None and section.outcome.sessions is None


def test_unknown_name_in_a_user_suite(tmp_path, tok):
    suite = tmp_path / "suite.yaml"
    suite.write_text(SUITE)
    with pytest.raises(UserError, match="unknown workload"):
        requests_for_run(WorkloadRef(name="nope", suite_file=suite), tok, num_requests=1)
