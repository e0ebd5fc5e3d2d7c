"""Open-loop arrival schedules: offsets (seconds from start) of successive arrivals.

- poisson:  gaps ~ Exponential(mean 1/rate)
- gamma:    gaps ~ Gamma(shape=burstiness, scale=1/(rate·burstiness)); mean gap 1/rate,
            coefficient of variation 1/sqrt(burstiness) (burstiness 1 = Poisson, < 1 burstier)
- constant: gaps = 1/rate exactly
The first arrival is at offset 0.
"""

from __future__ import annotations

import numpy as np


def arrival_offsets_s(
    n: int, rate_per_s: float, arrival: str, *, burstiness: float = 1.0, seed: int = 0
) -> np.ndarray:
    """Return `n` non-decreasing arrival offsets in seconds, the first at 0."""
    if n <= 0:
        return np.zeros(0)
    if rate_per_s <= 0:
        raise ValueError("rate_per_s must be > 0")
    rng = np.random.default_rng(seed)
    if arrival == "constant":
        gaps = np.full(n - 1, 1.0 / rate_per_s)
    elif arrival == "poisson":
        gaps = rng.exponential(1.0 / rate_per_s, size=n - 1)
    elif arrival == "gamma":
        gaps = rng.gamma(burstiness, 1.0 / (rate_per_s * burstiness), size=n - 1)
    else:
        raise ValueError(f"unknown arrival process {arrival!r}")
    return np.concatenate([[0.0], np.cumsum(gaps)])
