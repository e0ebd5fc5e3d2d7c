"""Dataset files from local paths: ShareGPT JSON/JSONL and prompt JSONL; errors name the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.errors import UserError
from bench.workloads.build import build_requests
from bench.workloads.datasets import read_dataset, read_prompts_jsonl, read_sharegpt
from bench.workloads.spec import DatasetWorkload
from bench.workloads.tokens import TextSource, count_chat, count_completion

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "datasets"
CORPUS = "plain words for the tag and nothing else. " * 200


@pytest.fixture(scope="module")
def tok():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    from bench.workloads.tokens import default_corpus

    t = Tokenizer(models.BPE(unk_token="<unk>"))
    t.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    t.decoder = decoders.ByteLevel()
    t.train_from_iterator(
        default_corpus()[:20_000].splitlines(),
        trainers.BpeTrainer(
            vocab_size=400,
            special_tokens=["<unk>", "</s>"],
            show_progress=False,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        ),
    )
    fast = PreTrainedTokenizerFast(tokenizer_object=t, unk_token="<unk>", eos_token="</s>")
    fast.chat_template = (
        "{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}</s>{% endfor %}"
        "{% if add_generation_prompt %}[assistant] {% endif %}"
    )
    return fast


def test_sharegpt_json_list_keeps_usable_conversations():
    data = read_sharegpt(FIXTURES / "sharegpt_small.json")
    assert [c.line for c in data.conversations] == [2, 8]
    assert data.skipped == 1 and "skipped" in data.notes[0]
    first, second = data.conversations
    assert len(first.exchanges) == 2 and first.exchanges[1].user == "And how do I write one back?"
    assert second.system == "You are a terse assistant."


def test_sharegpt_jsonl_accepts_user_assistant_roles():
    data = read_dataset(FIXTURES / "sharegpt_small.jsonl", "sharegpt")
    assert [c.exchanges[0].user for c in data.conversations] == [
        "What is a context manager?",
        "Explain list comprehensions.",
    ]


def test_prompt_jsonl_rows_and_blank_lines():
    data = read_prompts_jsonl(FIXTURES / "prompts_small.jsonl")
    assert [c.line for c in data.conversations] == [1, 2, 4]
    assert [c.exchanges[0].max_tokens for c in data.conversations] == [64, 24, 16]


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ('{"prompt": "a", "max_tokens": 3}\n{"prompt": "b", "max_tokens": 0}\n', 2, "max_tokens"),
        ('{"prompt": "a", "max_tokens": 3}\n\n{"prompt": "", "max_tokens": 3}\n', 3, "prompt"),
        ('{"prompt": "a", "max_tokens": 3}\n{"prompt": "a", "max_tokens": 3,\n', 2, "invalid JSON"),
        ('{"prompt": "a", "max_tokens": 3, "temperature": 1}\n', 1, "unknown key"),
        ('["prompt"]\n', 1, "not a JSON object"),
        ('{"prompt": "a", "max_tokens": true}\n', 1, "max_tokens"),
    ],
)
def test_malformed_prompt_rows_name_file_and_line(tmp_path, text, line, words):
    f = tmp_path / "p.jsonl"
    f.write_text(text)
    with pytest.raises(UserError) as err:
        read_prompts_jsonl(f)
    assert err.value.file == str(f)
    assert err.value.field == f"line {line}"
    assert words in err.value.message and err.value.fix


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ('[\n  {"conversations": [{"from": "human", "value": "x"}]},\n  {"convs": []}\n]', 3),
        (
            '[\n  {"conversations": [{"from": "human", "value": "x"}]},\n\n'
            '  {"conversations": [{"from": "human"}]}\n]',
            4,
        ),
        ('[\n  {"conversations": []},\n  {"conversations": [}\n]', 3),
        ('{"conversations": [{"from": "robot", "value": "x"}]}\n', 1),
    ],
)
def test_malformed_sharegpt_rows_name_the_line(tmp_path, text, line):
    f = tmp_path / "s.json"
    f.write_text(text)
    with pytest.raises(UserError) as err:
        read_sharegpt(f)
    assert err.value.field == f"line {line}"


def test_missing_file_and_empty_dataset(tmp_path):
    with pytest.raises(UserError, match="not found"):
        read_sharegpt(tmp_path / "nope.json")
    f = tmp_path / "e.json"
    f.write_text('[{"conversations": [{"from": "human", "value": "no reply"}]}]')
    with pytest.raises(UserError, match="no usable conversation"):
        read_sharegpt(f)


def dataset(**kw):
    base = dict(description="d", format="sharegpt", path=FIXTURES / "sharegpt_small.json")
    base.update(kw)
    return DatasetWorkload(**base)


def test_first_turn_requests_use_recorded_reply_lengths(tok):
    w = dataset(shuffle=False, min_output_tokens=1)
    specs = build_requests(w, tok, num_requests=4, source=TextSource(tok, corpus=CORPUS))
    assert [s.session_id for s in specs] == [None] * 4
    # rows cycle (2 usable conversations) but each request starts with its own tag
    assert len({s.body["messages"][-1]["content"][:18] for s in specs}) == 4
    reply = (
        "Use the json module: open the file and call json.load on it. It returns dicts and lists."
    )
    assert specs[0].requested_output_tokens == len(tok.encode(reply, add_special_tokens=False))
    for s in specs:
        assert (
            s.requested_input_tokens == count_chat(tok, s.body["messages"]) == s.text_input_tokens
        )


def test_all_turns_replay_conversations_as_sessions(tok):
    w = dataset(turns="all", shuffle=False, unique_prefix=False, min_output_tokens=1)
    specs = build_requests(w, tok, num_requests=1, source=TextSource(tok, corpus=CORPUS))
    assert [(s.session_id, s.turn) for s in specs] == [("s00000", 1), ("s00000", 2)]
    second = specs[1].body["messages"]
    assert [m["role"] for m in second] == ["user", "assistant", "user"]
    assert second[1]["content"].startswith("Use the json module")
    assert second[:1] == specs[0].body["messages"]


def test_jsonl_completions_use_given_max_tokens_and_scale(tok):
    w = DatasetWorkload(
        description="p",
        format="jsonl",
        api="completions",
        path=FIXTURES / "prompts_small.jsonl",
        shuffle=False,
        unique_prefix=False,
    )
    specs = build_requests(w, tok, num_requests=3, source=TextSource(tok, corpus=CORPUS))
    assert [s.requested_output_tokens for s in specs] == [64, 24, 16]
    assert specs[1].body["prompt"] == "Write a haiku about benchmarks."
    assert specs[0].requested_input_tokens == count_completion(tok, specs[0].body["prompt"])
    half = build_requests(w, tok, num_requests=1, scale=0.5, source=TextSource(tok, corpus=CORPUS))[
        0
    ]
    assert half.requested_output_tokens == 32
    full_len = len(
        tok.encode("Summarise the plot of Hamlet in two sentences.", add_special_tokens=False)
    )
    assert len(tok.encode(half.body["prompt"], add_special_tokens=False)) == round(full_len * 0.5)


def test_dataset_turns_all_needs_chat():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="api: chat"):
        dataset(turns="all", api="completions")
