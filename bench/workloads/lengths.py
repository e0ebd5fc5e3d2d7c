"""Sampling token lengths and counts from a workload's distributions (pure, seeded).

Every draw takes a `numpy.random.Generator`, so a workload's seed fixes every length.
`scale` multiplies token lengths (for models whose context is too short); a scaled
length is round(L·scale), at least 1.
"""

from __future__ import annotations

import numpy as np

from bench.workloads.spec import FixedLength, IntRange, NormalLength, UniformLength

LengthDist = FixedLength | UniformLength | NormalLength


def scaled(tokens: int, scale: float) -> int:
    """round(tokens · scale), at least 1 (and tokens itself when scale = 1)."""
    return max(1, round(tokens * scale))


def sample_lengths(
    dist: LengthDist, n: int, rng: np.random.Generator, scale: float = 1.0
) -> np.ndarray:
    """`n` integer lengths from `dist`, each then scaled by `scale` (>= 1 token).

    fixed: uniform on `FixedLength.bounds()`; uniform: on [min, max];
    normal: round(N(mean, std)) clipped to [min, max].
    """
    if isinstance(dist, FixedLength):
        low, high = dist.bounds()
        raw = (
            np.full(n, low, dtype=np.int64) if low == high else rng.integers(low, high + 1, size=n)
        )
    elif isinstance(dist, UniformLength):
        raw = rng.integers(dist.min, dist.max + 1, size=n)
    else:
        raw = np.clip(np.rint(rng.normal(dist.mean, dist.std, size=n)), dist.min, dist.max)
    raw = raw.astype(np.int64)
    if scale == 1.0:
        return raw
    return np.maximum(1, np.rint(raw * scale)).astype(np.int64)


def sample_counts(spec: IntRange, n: int, rng: np.random.Generator) -> np.ndarray:
    """`n` integers uniform on [min, max] (turns, images per request; never scaled)."""
    return rng.integers(spec.min, spec.max + 1, size=n).astype(np.int64)


def split_total(total: int, parts: int, minimum: int, rng: np.random.Generator) -> list[int]:
    """Split `total` into `parts` random integers, each >= `minimum`, summing to `total`.

    Each part = minimum + a share of (total − parts·minimum) by Dirichlet(1, …, 1) weights,
    rounded so that the sum is exact. Raises ValueError when total < parts·minimum.
    """
    if parts <= 0:
        return []
    spare = total - parts * minimum
    if spare < 0:
        raise ValueError(f"cannot split {total} into {parts} parts of at least {minimum}")
    weights = rng.dirichlet(np.ones(parts))
    shares = np.floor(weights * spare).astype(np.int64)
    # hand the rounding remainder to the parts with the largest fractional shares
    remainder = spare - int(shares.sum())
    order = np.argsort(-(weights * spare - shares), kind="stable")
    shares[order[:remainder]] += 1
    return [int(minimum + s) for s in shares]
