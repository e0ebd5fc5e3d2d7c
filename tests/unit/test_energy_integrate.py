"""Pure window-energy functions, on traces whose integral is checked by hand."""

from __future__ import annotations

import pytest

from bench.energy import integrate as ig
from bench.energy.records import MeterError

S = 1_000_000_000  # ns per s
T0 = 7_000 * S  # an arbitrary perf_counter_ns origin


def at(*seconds: float) -> list[int]:
    return [T0 + round(s * S) for s in seconds]


def test_trapezoid_constant_300w_for_10s_is_3000j() -> None:
    t = at(*[i * 0.5 for i in range(21)])  # 0 .. 10 s every 0.5 s
    assert ig.trapezoid_j(t, [300.0] * 21, T0, T0 + 10 * S) == pytest.approx(3000.0)


def test_trapezoid_ramp_0_to_100w_over_10s_is_500j() -> None:
    t = at(*range(11))
    power = [10.0 * i for i in range(11)]  # 0, 10, ..., 100 W
    assert ig.trapezoid_j(t, power, T0, T0 + 10 * S) == pytest.approx(500.0)


def test_trapezoid_partial_window_interpolates_both_edges() -> None:
    # Ramp P(t) = 10 t W; window 2.5 s .. 7.5 s: P goes 25 → 75 W, mean 50 W × 5 s = 250 J.
    t = at(*range(11))
    power = [10.0 * i for i in range(11)]
    assert ig.trapezoid_j(t, power, T0 + int(2.5 * S), T0 + int(7.5 * S)) == pytest.approx(250.0)


def test_trapezoid_window_inside_one_interval() -> None:
    # Two samples 100 W at 0 s and 200 W at 1 s; window 0.2 .. 0.4 s: P 120 → 140 W, 0.2 s → 26 J.
    t = at(0, 1)
    assert ig.trapezoid_j(t, [100.0, 200.0], T0 + S // 5, T0 + 2 * S // 5) == pytest.approx(26.0)


def test_interp_refuses_to_extrapolate() -> None:
    with pytest.raises(ValueError):
        ig.interp_at(at(0, 1), [0.0, 1.0], T0 + 2 * S)


def test_counter_delta_interpolated_at_edges() -> None:
    # Counter 0, 100, 300 J at 0, 1, 2 s; window 0.5 .. 1.5 s → E(1.5) − E(0.5) = 200 − 50 = 150 J.
    t = at(0, 1, 2)
    assert ig.counter_delta_j(
        t, [0.0, 100.0, 300.0], T0 + S // 2, T0 + 3 * S // 2
    ) == pytest.approx(150.0)


def test_unwrap_counter_undoes_a_wrap_with_known_range() -> None:
    # Range 1000 J: 900 → 950 → (wrap) 20 → 70: steps 50, 1000 − 950 + 20 = 70, 50.
    u = ig.unwrap_counter(at(0, 1, 2, 3), [900.0, 950.0, 20.0, 70.0], 1000.0, T0)
    assert u.energy_j == [0.0, 50.0, 120.0, 170.0]
    assert u.wraps == 1
    assert u.problem is None


def test_unwrap_counter_decrease_without_range_is_a_reset() -> None:
    u = ig.unwrap_counter(at(0, 1, 2), [500.0, 600.0, 10.0], None, T0)
    assert u.problem is not None
    assert "reset at +2.00 s" in u.problem
    assert "600.000 J to 10.000 J" in u.problem


def test_unwrap_counter_implausible_wrap_is_a_reset() -> None:
    # Range 1000 J, 100 → 50: the "wrap" step would be 950 J > range / 2, so it is a reset.
    u = ig.unwrap_counter(at(0, 1), [100.0, 50.0], 1000.0, T0)
    assert u.problem is not None and "reset" in u.problem


def test_counter_power_series_is_interval_average_at_midpoints() -> None:
    times, power = ig.counter_power_series(at(0, 1, 3), [0.0, 100.0, 500.0])
    assert times == at(0.5, 2)
    assert power == [100.0, 200.0]


def test_coverage_problem_names_the_span() -> None:
    problem = ig.coverage_problem(at(2, 3, 10), T0, T0 + 10 * S, "power samples")
    assert problem == (
        "window not covered by power samples: readings span +2.00 s to +10.00 s, "
        "window is 0 to 10.00 s"
    )
    assert ig.coverage_problem(at(0, 10), T0, T0 + 10 * S, "power samples") is None


def test_gap_over_limit_is_reported_with_its_position() -> None:
    t = at(0, 0.1, 0.2, 1.2, 1.3)
    gap, problem = ig.gap_problem(t, T0, T0 + int(1.3 * S), 0.5, "power samples")
    assert gap == pytest.approx(1.0)
    assert problem is not None and "gap of 1.00 s" in problem and "+0.20 s" in problem


def test_gap_edges_only_ignores_interior_gaps() -> None:
    t = at(0, 0.1, 5.0, 5.1)
    gap, problem = ig.gap_problem(t, T0 + S // 20, T0 + 5 * S + S // 20, 0.5, "c", edges_only=True)
    assert problem is None and gap == pytest.approx(0.1)


def test_error_overlapping_window_and_lost_device_before_end() -> None:
    read_fail = MeterError(first_ns=T0 + 20 * S, last_ns=T0 + 21 * S, message="NVML: Unknown Error")
    assert ig.error_problem([read_fail], T0, T0 + 10 * S) is None  # after the window
    assert ig.error_problem([read_fail], T0, T0 + 30 * S) == (
        "read failed at +20.00 s into the window: NVML: Unknown Error"
    )
    lost = MeterError(
        first_ns=T0 - 5 * S,
        last_ns=T0 - 4 * S,
        count=3,
        message="NVML: GPU is lost",
        device_lost=True,
    )
    assert ig.error_problem([lost], T0, T0 + 10 * S) == (
        "device lost at -5.00 s into the window (3 times): NVML: GPU is lost"
    )


def test_peak_in_window_uses_inner_samples_and_edges() -> None:
    t = at(0, 1, 2, 3)
    power = [100.0, 400.0, 200.0, 500.0]
    assert ig.peak_in_window(t, power, T0 + S // 2, T0 + 5 * S // 2) == pytest.approx(400.0)
    # Window 2.0 .. 2.5 s: sample 200 W at 2 s, edge interpolates 350 W at 2.5 s.
    assert ig.peak_in_window(t, power, T0 + 2 * S, T0 + 5 * S // 2) == pytest.approx(350.0)
