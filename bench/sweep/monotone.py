"""Monotone piecewise-cubic interpolation (PCHIP, Fritsch–Carlson), small and pure.

The interpolant passes through every knot, is monotone wherever the data are monotone and
never overshoots: between two knots it stays within their two values. It is used to read
the operating point between measured sweep points; it never extrapolates.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def _sign(v: float) -> int:
    return (v > 0) - (v < 0)


def _edge_slope(h0: float, h1: float, d0: float, d1: float) -> float:
    """One-sided three-point slope at an end knot, limited so it keeps the data's shape.

    s = ((2·h0 + h1)·δ0 − h0·δ1) / (h0 + h1); s = 0 when its sign differs from δ0;
    s = 3·δ0 when δ0 and δ1 differ in sign and |s| > 3·|δ0| (Fritsch–Carlson limit).
    """
    s = ((2.0 * h0 + h1) * d0 - h0 * d1) / (h0 + h1)
    if _sign(s) != _sign(d0):
        return 0.0
    if _sign(d0) != _sign(d1) and abs(s) > abs(3.0 * d0):
        return 3.0 * d0
    return s


def pchip_slopes(xs: Sequence[float], ys: Sequence[float]) -> list[float]:
    """Knot derivatives of the PCHIP interpolant.

    With h_k = x_{k+1} − x_k and δ_k = (y_{k+1} − y_k) / h_k, an interior slope is 0 when
    δ_{k−1}·δ_k ≤ 0 (a local extremum stays flat), else the weighted harmonic mean
    (w1 + w2) / d_k = w1 / δ_{k−1} + w2 / δ_k with w1 = 2·h_k + h_{k−1}, w2 = h_k + 2·h_{k−1}.
    Two knots give the straight line.

    Raises:
        ValueError: fewer than two knots, lengths differ, or xs not strictly increasing.
    """
    n = len(xs)
    if n < 2 or len(ys) != n:
        raise ValueError("need at least two knots and as many ys as xs")
    h = [xs[k + 1] - xs[k] for k in range(n - 1)]
    if any(not hk > 0 for hk in h):
        raise ValueError("xs must be strictly increasing")
    delta = [(ys[k + 1] - ys[k]) / h[k] for k in range(n - 1)]
    if n == 2:
        return [delta[0], delta[0]]
    d = [0.0] * n
    for k in range(1, n - 1):
        if delta[k - 1] * delta[k] > 0:
            w1 = 2.0 * h[k] + h[k - 1]
            w2 = h[k] + 2.0 * h[k - 1]
            d[k] = (w1 + w2) / (w1 / delta[k - 1] + w2 / delta[k])
    d[0] = _edge_slope(h[0], h[1], delta[0], delta[1])
    d[-1] = _edge_slope(h[-1], h[-2], delta[-1], delta[-2])
    return d


def pchip(xs: Sequence[float], ys: Sequence[float], x: float) -> float:
    """Value of the PCHIP interpolant through (xs, ys) at `x`, for xs[0] ≤ x ≤ xs[-1].

    Cubic Hermite on [x_k, x_{k+1}] with t = (x − x_k)/h:
    y = (2t³ − 3t² + 1)·y_k + (t³ − 2t² + t)·h·d_k + (−2t³ + 3t²)·y_{k+1} + (t³ − t²)·h·d_{k+1}.

    Raises:
        ValueError: `x` outside [xs[0], xs[-1]] (no extrapolation), or bad knots.
    """
    if len(xs) == 1 and len(ys) == 1 and x == xs[0]:
        return float(ys[0])
    if not xs[0] <= x <= xs[-1] or math.isnan(x):
        raise ValueError(f"x={x} is outside the knots [{xs[0]}, {xs[-1]}]; no extrapolation")
    d = pchip_slopes(xs, ys)
    k = max(i for i in range(len(xs) - 1) if xs[i] <= x)
    h = xs[k + 1] - xs[k]
    t = (x - xs[k]) / h
    t2, t3 = t * t, t * t * t
    return (
        (2 * t3 - 3 * t2 + 1) * ys[k]
        + (t3 - 2 * t2 + t) * h * d[k]
        + (-2 * t3 + 3 * t2) * ys[k + 1]
        + (t3 - t2) * h * d[k + 1]
    )
