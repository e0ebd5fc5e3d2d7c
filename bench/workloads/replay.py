"""Requests from a dataset file: one per conversation, or whole conversations as sessions.

Output length: the recorded reply's token count, clipped to [min_output_tokens,
max_output_tokens] (the JSONL format gives `max_tokens` directly), then scaled. Input
length is the prompt as it is, counted with the model's tokenizer and recorded as both
requested and actual; `scale` < 1 truncates each user/system message to
round(tokens·scale) tokens. Rows are shuffled by the seed and reused in order when more
requests than rows are asked for; with `unique_prefix`, every request's first user
message starts with a unique tag so reused rows never become prefix-cache hits.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from bench.records import RequestSpec
from bench.workloads.datasets import Conversation, Dataset
from bench.workloads.lengths import scaled
from bench.workloads.spec import DatasetWorkload
from bench.workloads.text import MEASURED, WARMUP, body_for, request_id, request_rng
from bench.workloads.tokens import Messages, TextSource, count_chat, count_completion


def _shrink(tok: Any, text: str, scale: float) -> str:
    if scale >= 1.0:
        return text
    ids = tok.encode(text, add_special_tokens=False)
    return str(tok.decode(ids[: scaled(len(ids), scale)]))


def _output_len(
    tok: Any, workload: DatasetWorkload, reply: str | None, given: int | None, scale: float
) -> int:
    if given is not None:
        n = given
    else:
        n = len(tok.encode(reply or "", add_special_tokens=False))
        n = min(max(n, workload.min_output_tokens), workload.max_output_tokens)
    return scaled(n, scale)


def iter_dataset(
    workload: DatasetWorkload,
    dataset: Dataset,
    source: TextSource,
    *,
    seed: int,
    scale: float,
    warmup: bool,
) -> Iterator[RequestSpec]:
    """Endless stream of dataset requests (sessions when `turns: all`)."""
    tok = source.tokenizer
    order = np.arange(len(dataset.conversations))
    if workload.shuffle:
        order = np.random.default_rng([seed, 3]).permutation(order)
    stream = WARMUP if warmup else MEASURED
    index = 0
    while True:
        conv: Conversation = dataset.conversations[int(order[index % len(order)])]
        rng = request_rng(seed, stream, index)
        tag = source.tag(rng) if workload.unique_prefix else ""
        head: Messages = []
        if conv.system:
            head = [{"role": "system", "content": _shrink(tok, conv.system, scale)}]
        exchanges = conv.exchanges if workload.turns == "all" else conv.exchanges[:1]
        sid = f"{'w' if warmup else 's'}{index:05d}" if workload.turns == "all" else None
        messages: Messages = list(head)
        for t, exchange in enumerate(exchanges):
            user = _shrink(tok, exchange.user, scale)
            if t == 0:
                user = tag + user
            messages = [*messages, {"role": "user", "content": user}]
            n_out = _output_len(tok, workload, exchange.reply, exchange.max_tokens, scale)
            if workload.api == "chat":
                content: str | Messages = list(messages)
                n_in = count_chat(tok, messages)
            else:
                content = "\n\n".join(m["content"] for m in messages)
                n_in = count_completion(tok, content)
            yield RequestSpec(
                request_id=f"{sid}-t{t + 1:02d}" if sid else request_id(index, warmup),
                api=workload.api,
                body=body_for(workload.api, content, n_out),
                requested_input_tokens=n_in,
                requested_output_tokens=n_out,
                warmup=warmup,
                session_id=sid,
                turn=t + 1 if sid else None,
                text_input_tokens=n_in,
            )
            reply = _shrink(tok, exchange.reply or "", scale)
            messages = [*messages, {"role": "assistant", "content": reply}]
        index += 1
