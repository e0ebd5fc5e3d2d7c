"""Synthetic requests of exact token lengths (the `shape` workload of `bench run`).

Prompt text comes from `bench.workloads.tokens.TextSource` (windows of the bundled corpus,
fitted until the server-side count — the tokenizer with its special tokens, or the chat
template — is exactly the requested length). Each prompt starts with a unique tag, so
prefix caching cannot turn requests into cache hits.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.config.run import ShapeWorkload
from bench.records import RequestSpec
from bench.workloads.tokens import TextSource, count_chat, count_completion


def lengths(mean: int, range_ratio: float, n: int, rng: np.random.Generator) -> np.ndarray:
    """n lengths uniform on [mean·(1−r), mean·(1+r)] (integers, ≥ 1); all = mean when r = 0."""
    if range_ratio == 0:
        return np.full(n, mean, dtype=int)
    low = max(1, int(np.floor(mean * (1 - range_ratio))))
    high = max(low, int(np.ceil(mean * (1 + range_ratio))))
    return rng.integers(low, high + 1, size=n)


def shape_requests(
    workload: ShapeWorkload, tokenizer: Any, n: int, *, warmup: int = 0
) -> list[RequestSpec]:
    """`warmup` + `n` requests (warm-up first, flagged) of the workload's shape."""
    rng = np.random.default_rng(workload.seed)
    total = warmup + n
    in_lens = lengths(workload.input_tokens, workload.range_ratio, total, rng)
    out_lens = lengths(workload.output_tokens, workload.range_ratio, total, rng)
    specs = []
    source = TextSource.of(tokenizer)
    for i in range(total):
        target = int(in_lens[i])
        if workload.api == "chat":
            text, actual = source.fit(
                target,
                lambda t: count_chat(tokenizer, [{"role": "user", "content": t}]),
                rng,
            )
        else:
            text, actual = source.fit(target, lambda t: count_completion(tokenizer, t), rng)
        max_tokens = int(out_lens[i])
        body: dict[str, Any]
        if workload.api == "chat":
            body = {"messages": [{"role": "user", "content": text}]}
        else:
            body = {"prompt": text}
        body.update(max_tokens=max_tokens, ignore_eos=True, temperature=0.0)
        specs.append(
            RequestSpec(
                request_id=f"{'w' if i < warmup else 'r'}{i:06d}",
                api=workload.api,
                body=body,
                requested_input_tokens=int(in_lens[i]),
                requested_output_tokens=max_tokens,
                warmup=i < warmup,
                text_input_tokens=actual,
            )
        )
    return specs
