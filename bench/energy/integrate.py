"""Energy over a time window from a power or counter trace, and the checks that make it valid.

All functions are pure. Times are `perf_counter_ns()` integers, power in W, energy in J.
A trace must *cover* the window (a reading at or before its start and at or after its end)
so that the edges are interpolated, never extrapolated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bench.energy.records import MeterError
from bench.units import NS_PER_S


def interp_at(t_ns: Sequence[int], y: Sequence[float], at_ns: int) -> float:
    """Value at `at_ns` by linear interpolation between the two readings around it.

    y(at) = y_i + (y_{i+1} − y_i) · (at − t_i) / (t_{i+1} − t_i), for t_i ≤ at ≤ t_{i+1}.

    Raises:
        ValueError: `at_ns` lies outside [t_0, t_last] (no extrapolation).
    """
    if not t_ns or at_ns < t_ns[0] or at_ns > t_ns[-1]:
        raise ValueError("interpolation point outside the readings")
    lo, hi = 0, len(t_ns) - 1
    while hi - lo > 1:  # bisect for t_lo ≤ at ≤ t_hi
        mid = (lo + hi) // 2
        if t_ns[mid] <= at_ns:
            lo = mid
        else:
            hi = mid
    if hi == lo or t_ns[hi] == t_ns[lo]:
        return float(y[hi] if t_ns[hi] == at_ns else y[lo])
    frac = (at_ns - t_ns[lo]) / (t_ns[hi] - t_ns[lo])
    return float(y[lo] + (y[hi] - y[lo]) * frac)


def clip_series(
    t_ns: Sequence[int], y: Sequence[float], start_ns: int, end_ns: int
) -> tuple[list[int], list[float]]:
    """The readings strictly inside (start, end) with interpolated values added at both edges."""
    inner = [(t, v) for t, v in zip(t_ns, y, strict=True) if start_ns < t < end_ns]
    times = [start_ns] + [t for t, _ in inner] + [end_ns]
    values = [interp_at(t_ns, y, start_ns)] + [v for _, v in inner] + [interp_at(t_ns, y, end_ns)]
    return times, values


def trapezoid_j(t_ns: Sequence[int], power_w: Sequence[float], start_ns: int, end_ns: int) -> float:
    """Energy of power samples over [start, end] by the trapezoid rule, edges interpolated.

    E = Σ ½ (P_i + P_{i+1}) (t_{i+1} − t_i) over the samples clipped to the window.
    Example: 300 W constant from 0 to 10 s → 3000 J; a ramp 0 → 100 W over 10 s → 500 J.
    """
    times, values = clip_series(t_ns, power_w, start_ns, end_ns)
    total = 0.0
    for i in range(len(times) - 1):
        total += 0.5 * (values[i] + values[i + 1]) * (times[i + 1] - times[i]) / NS_PER_S
    return total


@dataclass(frozen=True)
class Unwrapped:
    """A cumulative counter made monotonic: `energy_j[i]` is energy since the first reading."""

    energy_j: list[float]
    wraps: int
    problem: str | None


def unwrap_counter(
    t_ns: Sequence[int], counter_j: Sequence[float], wrap_j: float | None, origin_ns: int
) -> Unwrapped:
    """Turn raw counter readings into energy since the first reading, undoing wraps.

    A decrease is a wrap when the counter has a known range and the unwrapped step
    (range − previous + current) is at most half the range — a real wrap between two readings
    a fraction of a second apart is tiny compared with a range of minutes of full power.
    Otherwise the decrease is a reset and `problem` says where (times relative to `origin_ns`).
    """
    out = [0.0] if counter_j else []
    wraps = 0
    for i in range(1, len(counter_j)):
        step = counter_j[i] - counter_j[i - 1]
        if step < 0:
            unwrapped = (wrap_j - counter_j[i - 1] + counter_j[i]) if wrap_j else None
            if unwrapped is None or unwrapped > wrap_j / 2:  # type: ignore[operator]
                at_s = (t_ns[i] - origin_ns) / NS_PER_S
                return Unwrapped(
                    out,
                    wraps,
                    f"energy counter reset at {at_s:+.2f} s (went from {counter_j[i - 1]:.3f} J "
                    f"to {counter_j[i]:.3f} J)",
                )
            step = unwrapped
            wraps += 1
        out.append(out[-1] + step)
    return Unwrapped(out, wraps, None)


def bracket(t_ns: Sequence[int], start_ns: int, end_ns: int) -> tuple[int, int]:
    """Indices (i0, i1) of the last reading at or before start and the first at or after end.

    Requires readings that cover the window (see `coverage_problem`).
    """
    i0 = max(i for i, t in enumerate(t_ns) if t <= start_ns)
    i1 = min(i for i, t in enumerate(t_ns) if t >= end_ns)
    return i0, i1


def counter_delta_j(
    t_ns: Sequence[int], energy_j: Sequence[float], start_ns: int, end_ns: int
) -> float:
    """Energy over [start, end] from a monotonic counter: E(end) − E(start), both interpolated."""
    return interp_at(t_ns, energy_j, end_ns) - interp_at(t_ns, energy_j, start_ns)


def counter_power_series(
    t_ns: Sequence[int], energy_j: Sequence[float]
) -> tuple[list[int], list[float]]:
    """Average power between successive counter readings, placed at each interval's midpoint.

    P_i = (E_{i+1} − E_i) / (t_{i+1} − t_i); readings with equal times are skipped.
    """
    times: list[int] = []
    power: list[float] = []
    for i in range(len(t_ns) - 1):
        dt = t_ns[i + 1] - t_ns[i]
        if dt > 0:
            times.append(t_ns[i] + dt // 2)
            power.append((energy_j[i + 1] - energy_j[i]) / (dt / NS_PER_S))
    return times, power


def coverage_problem(t_ns: Sequence[int], start_ns: int, end_ns: int, what: str) -> str | None:
    """Why the readings do not cover [start, end], or None when they do."""
    if len(t_ns) < 2:
        return f"window not covered: {len(t_ns)} {what} reading(s)"
    if t_ns[0] > start_ns or t_ns[-1] < end_ns:
        first = (t_ns[0] - start_ns) / NS_PER_S
        last = (t_ns[-1] - start_ns) / NS_PER_S
        window = (end_ns - start_ns) / NS_PER_S
        return (
            f"window not covered by {what}: readings span {first:+.2f} s to {last:+.2f} s, "
            f"window is 0 to {window:.2f} s"
        )
    return None


def max_gap_s(
    t_ns: Sequence[int], start_ns: int, end_ns: int, edges_only: bool = False
) -> tuple[float, int]:
    """Longest interval between successive readings that overlaps [start, end], and its start.

    With `edges_only`, only the two intervals holding the window's edges count (the ones
    interpolated across). Returns (0.0, start_ns) when no interval overlaps.
    """
    worst, at = 0.0, start_ns
    for i in range(len(t_ns) - 1):
        a, b = t_ns[i], t_ns[i + 1]
        if b < start_ns or a > end_ns:
            continue
        if edges_only and not (a <= start_ns <= b or a <= end_ns <= b):
            continue
        if (b - a) / NS_PER_S > worst:
            worst, at = (b - a) / NS_PER_S, a
    return worst, at


def gap_problem(
    t_ns: Sequence[int],
    start_ns: int,
    end_ns: int,
    limit_s: float,
    what: str,
    edges_only: bool = False,
) -> tuple[float, str | None]:
    """(largest gap in s, problem) — a problem when the gap exceeds `limit_s`."""
    gap, at = max_gap_s(t_ns, start_ns, end_ns, edges_only)
    if gap > limit_s:
        at_s = (at - start_ns) / NS_PER_S
        return gap, (
            f"sampling gap of {gap:.2f} s in {what} at {at_s:+.2f} s into the window "
            f"(limit {limit_s:.2f} s)"
        )
    return gap, None


def error_problem(errors: Sequence[MeterError], start_ns: int, end_ns: int) -> str | None:
    """A read error during the window, or a lost device at any time up to the window's end."""
    for err in errors:
        overlaps = err.first_ns <= end_ns and err.last_ns >= start_ns
        if overlaps or (err.device_lost and err.first_ns <= end_ns):
            at_s = (err.first_ns - start_ns) / NS_PER_S
            lost = "device lost" if err.device_lost else "read failed"
            times = f" ({err.count} times)" if err.count > 1 else ""
            return f"{lost} at {at_s:+.2f} s into the window{times}: {err.message}"
    return None


def peak_in_window(
    t_ns: Sequence[int], power_w: Sequence[float], start_ns: int, end_ns: int
) -> float | None:
    """Highest power in [start, end]: readings inside the window plus the edges, interpolated
    where the readings reach them. None when nothing falls in the window."""
    values = [float(v) for t, v in zip(t_ns, power_w, strict=True) if start_ns <= t <= end_ns]
    for edge in (start_ns, end_ns):
        if t_ns and t_ns[0] <= edge <= t_ns[-1]:
            values.append(interp_at(t_ns, power_w, edge))
    return max(values) if values else None
