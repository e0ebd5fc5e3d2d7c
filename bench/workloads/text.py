"""Text workloads: independent prompts (`text`) and multi-turn agent tasks (`sessions`).

Every request gets its own generator, `default_rng([seed, stream, index])`, so request i
is the same whatever `num_requests` is, and warm-up requests (stream 1) never repeat
measured ones (stream 0). Bodies force the output length: `max_tokens` = the requested
output with `ignore_eos`, greedy sampling.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from bench.records import RequestSpec
from bench.workloads.lengths import sample_counts, sample_lengths, scaled, split_total
from bench.workloads.spec import MIN_OBSERVATION_TOKENS, SessionsWorkload, TextWorkload
from bench.workloads.tokens import (
    Messages,
    TextSource,
    count_chat,
    count_completion,
    render_chat,
)

MEASURED, WARMUP, SHARED = 0, 1, 2


def request_rng(seed: int, stream: int, index: int) -> np.random.Generator:
    """The generator of one request (or session): independent of how many are built."""
    return np.random.default_rng([seed, stream, index])


def body_for(api: str, content: str | Messages, max_tokens: int) -> dict[str, Any]:
    """A completions or chat body that forces exactly `max_tokens` output tokens."""
    body: dict[str, Any] = {"messages": content} if api == "chat" else {"prompt": content}
    body.update(max_tokens=max_tokens, ignore_eos=True, temperature=0.0)
    return body


def request_id(index: int, warmup: bool) -> str:
    return f"{'w' if warmup else 'r'}{index:06d}"


def shared_text(source: TextSource, tokens: int, seed: int) -> str:
    """The workload's common prefix (system prompt): `tokens` raw tokens, same every request."""
    if tokens <= 0:
        return ""
    tok = source.tokenizer
    text, _ = source.fit(
        tokens,
        lambda t: len(tok.encode(t, add_special_tokens=False)),
        request_rng(seed, SHARED, 0),
        tag=False,
    )
    return text


def iter_text(
    workload: TextWorkload,
    source: TextSource,
    *,
    seed: int,
    scale: float,
    warmup: bool,
) -> Iterator[RequestSpec]:
    """Endless stream of `text` requests (take as many as needed)."""
    tok = source.tokenizer
    prefix = shared_text(source, scaled(workload.shared_prefix_tokens, scale), seed)
    index = 0
    while True:
        rng = request_rng(seed, WARMUP if warmup else MEASURED, index)
        n_in = int(sample_lengths(workload.input, 1, rng, scale)[0])
        n_out = int(sample_lengths(workload.output, 1, rng, scale)[0])
        count: Callable[[str], int]
        if workload.api == "chat":
            head: Messages = [{"role": "system", "content": prefix}] if prefix else []

            def count(t: str, head: Messages = head) -> int:
                return count_chat(tok, [*head, {"role": "user", "content": t}])

            text, actual = source.fit(n_in, count, rng)
            content: str | Messages = [*head, {"role": "user", "content": text}]
        else:

            def count(t: str) -> int:
                return count_completion(tok, prefix + t)

            text, actual = source.fit(n_in, count, rng)
            content = prefix + text
        yield RequestSpec(
            request_id=request_id(index, warmup),
            api=workload.api,
            body=body_for(workload.api, content, n_out),
            requested_input_tokens=n_in,
            requested_output_tokens=n_out,
            warmup=warmup,
            text_input_tokens=actual,
        )
        index += 1


class ChatCounter:
    """Counts a rendered chat prompt fast by splitting it at special tokens.

    Fast tokenizers split text at added (special) tokens before anything else, so a
    prompt's count is the sum of its segments' counts plus one per special token; segments
    of earlier turns are memoised. `exact` encodes the whole prompt; the session builder
    checks every turn with it, so the fast count is only ever a first guess.
    """

    def __init__(self, tokenizer: Any, specials: list[str]) -> None:
        self.tok = tokenizer
        self.split = (
            re.compile("(" + "|".join(map(re.escape, specials)) + ")") if specials else None
        )
        self.memo: dict[str, int] = {}

    def estimate(self, messages: Messages) -> int:
        text = render_chat(self.tok, messages)
        if self.split is None:
            return self.exact(messages)
        total = 0
        for i, part in enumerate(self.split.split(text)):
            if i % 2:
                total += 1
            elif part:
                if part not in self.memo:
                    self.memo[part] = len(self.tok.encode(part, add_special_tokens=False))
                total += self.memo[part]
        return total

    def exact(self, messages: Messages) -> int:
        return count_chat(self.tok, messages)


def _fit_turn(
    source: TextSource,
    counter: ChatCounter,
    before: Messages,
    role: str,
    target: int,
    rng: np.random.Generator,
) -> tuple[Messages, int, int]:
    """`before` + one tagged message of `role` making the prompt `target` tokens long.

    Returns (messages, requested, actual). requested = max(target, floor), the floor being
    the prompt with the message's tag alone: at small scales the template and tag may not
    fit in a drawn length, and the turn is then planned at that minimum.
    """
    tag = source.tag(rng)
    floor = counter.exact([*before, {"role": role, "content": tag}])
    goal = max(target, floor)
    offset = 0
    messages: Messages = before
    actual = 0
    for _ in range(3):
        text, _ = source.fit(
            goal - offset,
            lambda t: counter.estimate([*before, {"role": role, "content": tag + t}]),
            rng,
            tag=False,
        )
        messages = [*before, {"role": role, "content": tag + text}]
        actual = counter.exact(messages)
        if actual == goal:
            break
        offset += actual - goal
    return messages, goal, actual


def iter_sessions(
    workload: SessionsWorkload,
    source: TextSource,
    *,
    seed: int,
    scale: float,
    warmup: bool,
) -> Iterator[RequestSpec]:
    """Endless stream of agent tasks; each task's turns come together, in order.

    Turn 1 = [system, task]; turn t > 1 re-sends turn t−1's messages plus the assistant
    reply of turn t−1 (synthesised at its requested output length) and a tool result, so
    turn t's prompt begins with turn t−1's prompt token for token (prefix caching).
    Turn t's planned length = turn t−1's + its output + the tool result's share, so the last
    turn lands on the drawn final context (unless a turn hit its floor, see `_fit_turn`).
    """
    tok = source.tokenizer
    system = shared_text(source, scaled(workload.system_tokens, scale), seed)
    specials = [s for s in source.specials if s]
    stream = WARMUP if warmup else MEASURED
    index = 0
    while True:
        rng = request_rng(seed, stream, index)
        counter = ChatCounter(tok, specials)
        turns = int(sample_counts(workload.turns, 1, rng)[0])
        outs = [int(x) for x in sample_lengths(workload.output, turns, rng, scale)]
        task = int(sample_lengths(workload.task, 1, rng, scale)[0])
        final = int(sample_lengths(workload.final_context, 1, rng, scale)[0])
        head: Messages = [{"role": "system", "content": system}] if system else []
        first_target = scaled(workload.system_tokens, scale) + task
        minimum = max(1, scaled(MIN_OBSERVATION_TOKENS, scale))
        spare = final - first_target - sum(outs[:-1])
        tools = split_total(max(spare, minimum * (turns - 1)), turns - 1, minimum, rng)
        sid = f"{'w' if warmup else 's'}{index:05d}"
        messages, requested, actual = _fit_turn(source, counter, head, "user", first_target, rng)
        for t in range(turns):
            if t > 0:
                reply, _ = source.fit(
                    outs[t - 1],
                    lambda x: len(tok.encode(x, add_special_tokens=False)),
                    rng,
                    tag=False,
                )
                with_reply = [*messages, {"role": "assistant", "content": reply}]
                target = requested + outs[t - 1] + tools[t - 1]
                messages, requested, actual = _fit_turn(
                    source, counter, with_reply, "user", target, rng
                )
            yield RequestSpec(
                request_id=f"{sid}-t{t + 1:02d}",
                api="chat",
                body=body_for("chat", list(messages), outs[t]),
                requested_input_tokens=requested,
                requested_output_tokens=outs[t],
                warmup=warmup,
                session_id=sid,
                turn=t + 1,
                text_input_tokens=actual,
            )
        index += 1
