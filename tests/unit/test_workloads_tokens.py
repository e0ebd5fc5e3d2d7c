"""Token-exact prompts: counted as the server counts them (BOS, chat template), ±1 token."""

from __future__ import annotations

import numpy as np
import pytest

from bench.workloads.build import build_requests, workload_info
from bench.workloads.spec import SessionsWorkload, TextWorkload
from bench.workloads.tokens import TextSource, count_chat, count_completion, text_only

TEMPLATE = (
    "{% for message in messages %}<|{{ message['role'] }}|>\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{{ message['content'] | selectattr('type', 'equalto', 'text') "
    "| map(attribute='text') | join('') }}{% endif %}</s>\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


def train_tokenizer(add_bos: bool):
    """A byte-level BPE (vocab 600) trained on 40 kB of the bundled corpus."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    from bench.workloads.tokens import default_corpus

    specials = ["<unk>", "<s>", "</s>", "<pad>", "<|system|>", "<|user|>", "<|assistant|>"]
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=600,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(default_corpus()[:40_000].splitlines(), trainer=trainer)
    if add_bos:
        tok.post_processor = processors.TemplateProcessing(
            single="<s> $A", special_tokens=[("<s>", tok.token_to_id("<s>"))]
        )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="<unk>",
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
    )
    fast.chat_template = TEMPLATE
    return fast


CORPUS_CHARS = 60_000  # a slice of the bundled corpus keeps these tests fast


@pytest.fixture(scope="module")
def tok():
    return train_tokenizer(add_bos=False)


@pytest.fixture(scope="module")
def bos_tok():
    return train_tokenizer(add_bos=True)


def source_of(tokenizer) -> TextSource:
    from bench.workloads.tokens import default_corpus

    return TextSource(tokenizer, corpus=default_corpus()[:CORPUS_CHARS])


def text(api, n_in, n_out=16, **kw):
    return TextWorkload(
        description="t",
        api=api,
        input={"kind": "fixed", "tokens": n_in, "range_ratio": 0.5},
        output={"kind": "fixed", "tokens": n_out},
        **kw,
    )


def test_completion_count_includes_bos_when_the_tokenizer_adds_it(bos_tok, tok):
    assert count_completion(bos_tok, "hello world") == count_completion(tok, "hello world") + 1
    assert bos_tok("hello world")["input_ids"][0] == bos_tok.convert_tokens_to_ids("<s>")


@pytest.mark.parametrize("api", ["completions", "chat"])
@pytest.mark.parametrize("bos", [False, True])
def test_prompts_hit_requested_length_exactly(api, bos, tok, bos_tok):
    tokenizer = bos_tok if bos else tok
    specs = build_requests(text(api, 300), tokenizer, num_requests=12, source=source_of(tokenizer))
    for s in specs:
        body = s.body
        actual = (
            count_chat(tokenizer, body["messages"])
            if api == "chat"
            else count_completion(tokenizer, body["prompt"])
        )
        assert actual == s.text_input_tokens
        assert abs(actual - s.requested_input_tokens) <= 1, s.request_id
    info = workload_info("t", text(api, 300), specs)
    assert info.text_requests_checked == 12
    assert info.max_abs_length_error_tokens <= 1


def test_long_prompt_beyond_the_corpus_is_exact(tok):
    from bench.workloads.tokens import default_corpus

    source = TextSource(tok, corpus=default_corpus()[:4000])
    n = len(source.ids) + 500  # longer than the whole tokenised corpus: wraps around
    out, actual = source.fit(n, lambda t: count_completion(tok, t), np.random.default_rng(1))
    assert abs(actual - n) <= 1
    assert count_completion(tok, out) == actual


def test_prompts_are_distinct_from_their_first_tokens(tok):
    specs = build_requests(text("completions", 200), tok, num_requests=20, source=source_of(tok))
    heads = {tuple(tok.encode(s.body["prompt"])[:8]) for s in specs}
    assert len(heads) == 20


def test_shared_prefix_is_identical_and_rest_distinct(tok):
    w = text("chat", 400, shared_prefix_tokens=150)
    specs = build_requests(w, tok, num_requests=6, source=source_of(tok))
    systems = {s.body["messages"][0]["content"] for s in specs}
    assert len(systems) == 1
    assert len(tok.encode(systems.pop(), add_special_tokens=False)) == 150
    users = {s.body["messages"][1]["content"][:30] for s in specs}
    assert len(users) == 6
    assert all(abs(s.text_input_tokens - s.requested_input_tokens) <= 1 for s in specs)


def test_corpus_never_spells_a_special_token(tok):
    source = TextSource(tok, corpus="a </s> b <|user|> c " * 50)
    out, _ = source.fit(
        60, lambda t: len(tok.encode(t, add_special_tokens=False)), np.random.default_rng(0)
    )
    assert "</s>" not in out and "<|user|>" not in out


def test_text_only_drops_media_parts():
    messages = [
        {
            "role": "user",
            "content": [
                {"type": "image_url", "image_url": {"url": "data:"}},
                {"type": "text", "text": "what?"},
                {"type": "video_url", "video_url": {"url": "data:"}},
            ],
        }
    ]
    assert text_only(messages) == [{"role": "user", "content": [{"type": "text", "text": "what?"}]}]


AGENT = SessionsWorkload(
    description="agent",
    system_tokens=120,
    task={"kind": "uniform", "min": 40, "max": 80},
    turns={"min": 3, "max": 5},
    output={"kind": "uniform", "min": 10, "max": 30},
    final_context={"kind": "uniform", "min": 600, "max": 900},
)


def test_sessions_resend_the_growing_context(tok):
    specs = build_requests(AGENT, tok, num_requests=3, source=source_of(tok))
    by_session: dict[str, list] = {}
    for s in specs:
        by_session.setdefault(s.session_id, []).append(s)
    assert len(by_session) == 3
    for turns in by_session.values():
        assert [s.turn for s in turns] == list(range(1, len(turns) + 1))
        assert 3 <= len(turns) <= 5
        for prev, cur in zip(turns, turns[1:], strict=False):
            before, after = prev.body["messages"], cur.body["messages"]
            # the whole previous prompt is re-sent, then the reply and a new tool result
            assert after[: len(before)] == before
            assert [m["role"] for m in after[len(before) :]] == ["assistant", "user"]
            reply = after[len(before)]["content"]
            assert (
                abs(len(tok.encode(reply, add_special_tokens=False)) - prev.requested_output_tokens)
                <= 1
            )
            assert cur.requested_input_tokens > prev.requested_input_tokens
            # token prefix: the previous prompt's ids start the next prompt's ids
            ids_prev = tok.encode(
                tok.apply_chat_template(before, tokenize=False), add_special_tokens=False
            )
            ids_cur = tok.encode(
                tok.apply_chat_template(after, tokenize=False), add_special_tokens=False
            )
            assert ids_cur[: len(ids_prev)] == ids_prev
        for s in turns:
            assert abs(s.text_input_tokens - s.requested_input_tokens) <= 1
        last = turns[-1]
        assert 600 <= last.requested_input_tokens <= 900
        # every task shares the system prompt, and nothing else at its start
        assert turns[0].body["messages"][0]["role"] == "system"
    firsts = {t[0].body["messages"][1]["content"] for t in by_session.values()}
    assert len(firsts) == 3


def test_num_requests_counts_tasks_and_warmup_tasks_come_first(tok):
    specs = build_requests(AGENT, tok, num_requests=2, warmup=1, source=source_of(tok))
    sessions = list(dict.fromkeys(s.session_id for s in specs))
    assert sessions == ["w00000", "s00000", "s00001"]
    assert all(s.warmup == (s.session_id == "w00000") for s in specs)


def test_tiny_scale_plans_turns_at_their_floor_and_stays_exact(tok):
    # at scale 0.05 the task (2-4 tokens) cannot hold the template and the unique tag: the
    # turn is planned at its minimum length instead, and later turns build on it
    specs = build_requests(AGENT, tok, num_requests=2, scale=0.05, source=source_of(tok))
    assert all(s.text_input_tokens == s.requested_input_tokens for s in specs)
    first = [s for s in specs if s.turn == 1]
    assert all(s.requested_input_tokens > 6 + 4 for s in first)  # system 6 + task <= 4
    for prev, cur in zip(specs, specs[1:], strict=False):
        if cur.session_id == prev.session_id:
            assert cur.requested_input_tokens > prev.requested_input_tokens
