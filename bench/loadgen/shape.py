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
from bench.workloads.lengths import sample_lengths
from bench.workloads.spec import FixedLength
from bench.workloads.tokens import TextSource, count_chat, count_completion


def shape_requests(
    workload: ShapeWorkload, tokenizer: Any, n: int, *, warmup: int = 0
) -> list[RequestSpec]:
    """`warmup` + `n` requests (warm-up first, flagged) of the workload's shape."""
    rng = np.random.default_rng(workload.seed)
    total = warmup + n
    # lengths uniform on [L·(1−r), L·(1+r)] (vLLM's range-ratio convention), as the suite draws them
    in_lens = sample_lengths(
        FixedLength(tokens=workload.input_tokens, range_ratio=workload.range_ratio), total, rng
    )
    out_lens = sample_lengths(
        FixedLength(tokens=workload.output_tokens, range_ratio=workload.range_ratio), total, rng
    )
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
