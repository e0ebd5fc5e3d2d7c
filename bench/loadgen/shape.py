"""Synthetic requests of exact token lengths (the `shape` workload of `bench run`).

A prompt of N tokens: random non-special token ids, decoded to text, re-encoded and
trimmed/extended until the tokenizer gives exactly N (byte-level BPE can merge across
the joins, so this converges in a few rounds). Each prompt starts with distinct random
tokens, so prefix caching cannot turn requests into cache hits.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.config.run import ShapeWorkload
from bench.records import RequestSpec


def _encode(tokenizer: Any, text: str) -> list[int]:
    return list(tokenizer.encode(text, add_special_tokens=False))


def token_exact_text(tokenizer: Any, n_tokens: int, rng: np.random.Generator) -> tuple[str, int]:
    """Text that encodes to `n_tokens` tokens (without special tokens); returns (text, actual).

    `actual` differs from `n_tokens` only if 20 rounds of adjustment did not converge.
    """
    special = set(getattr(tokenizer, "all_special_ids", []) or [])
    vocab = np.array([i for i in range(len(tokenizer)) if i not in special])
    ids = list(rng.choice(vocab, size=n_tokens))
    text = tokenizer.decode(ids)
    for _ in range(20):
        current = _encode(tokenizer, text)
        if len(current) == n_tokens:
            return text, n_tokens
        if len(current) > n_tokens:
            current = current[:n_tokens]
        else:
            current = current + list(rng.choice(vocab, size=n_tokens - len(current)))
        text = tokenizer.decode(current)
    return text, len(_encode(tokenizer, text))


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
    for i in range(total):
        text, actual = token_exact_text(tokenizer, int(in_lens[i]), rng)
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
