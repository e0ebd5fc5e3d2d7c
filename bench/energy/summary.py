"""From an `EnergyTrace` and a run's window to an `EnergySummary`: per device, per scope, per token.

Per channel the energy comes from the cumulative counter when the meter has one (NVML total
energy, RAPL), else from the trapezoid integral of power samples; the other, when present,
is kept as a cross-check. Any problem (read error, lost device, gap, reset, window not
covered) makes the figure invalid with the reason — it is never 0 and never clamped.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bench.energy import integrate as ig
from bench.energy.config import DEFAULT_GAP_FACTOR
from bench.energy.records import (
    SCOPE_OF_DOMAIN,
    ChannelTrace,
    DeviceEnergy,
    EnergySummary,
    EnergyTotal,
    EnergyTrace,
    GpuStateSummary,
    IdleBaseline,
    TotalScope,
)
from bench.units import J_PER_KWH, NS_PER_S

PRIMARY_ORDER: tuple[TotalScope, ...] = ("gpu", "node", "cpu")


# --- derived figures (pure, formulas in docstrings) -------------------------------------------


def average_power_w(energy_j: float, duration_s: float) -> float:
    """P_avg = E / t. Example: 3000 J over 10 s → 300 W."""
    return energy_j / duration_s


def energy_above_idle_j(energy_j: float, idle_power_w: float, duration_s: float) -> float:
    """E_above = E − P_idle · t (not clamped: negative means the run drew less than idle).

    Example: 3000 J over 10 s with 100 W idle → 2000 J.
    """
    return energy_j - idle_power_w * duration_s


def joules_per_token(energy_j: float, tokens: float) -> float | None:
    """J/token = E / n; None when there are no tokens. Example: 3000 J / 1500 tokens → 2 J."""
    return energy_j / tokens if tokens > 0 else None


def tokens_per_kwh(tokens: float, energy_j: float) -> float | None:
    """tokens/kWh = n / (E / 3.6e6); None when E ≤ 0. Example: 1500 tokens / 3000 J → 1.8e6."""
    return tokens / (energy_j / J_PER_KWH) if energy_j > 0 else None


def energy_cost(energy_j: float, price_per_kwh: float, pue: float) -> float:
    """Cost = E / 3.6e6 · PUE · price. Example: 3.6e6 J at 0.10 per kWh, PUE 1.5 → 0.15."""
    return energy_j / J_PER_KWH * pue * price_per_kwh


def percent_difference(value: float, reference: float) -> float | None:
    """100 · (value − reference) / reference; None when reference is 0."""
    return 100.0 * (value - reference) / reference if reference else None


# --- one channel -------------------------------------------------------------------------------


def _power_series(ch: ChannelTrace) -> tuple[list[int], list[float]]:
    """Power over time: the samples, or the counter's interval averages when there are none."""
    if ch.sample_ns:
        return list(ch.sample_ns), list(ch.power_w)
    unwrapped = ig.unwrap_counter(ch.counter_ns, ch.counter_j, ch.counter_wrap_j, 0)
    n = len(unwrapped.energy_j)
    return ig.counter_power_series(ch.counter_ns[:n], unwrapped.energy_j)


def _counter_window(
    ch: ChannelTrace, start_ns: int, end_ns: int, limit_s: float
) -> tuple[float | None, str | None, float]:
    """(energy J, problem, max gap s) from the counter readings."""
    problem = ig.coverage_problem(ch.counter_ns, start_ns, end_ns, "energy counter")
    if problem:
        return None, problem, 0.0
    i0, i1 = ig.bracket(ch.counter_ns, start_ns, end_ns)
    times, raw = ch.counter_ns[i0 : i1 + 1], ch.counter_j[i0 : i1 + 1]
    unwrapped = ig.unwrap_counter(times, raw, ch.counter_wrap_j, start_ns)
    # A counter's delta is exact across a gap; only the edges are interpolated. But a
    # wrapping counter can wrap more than once inside a long gap, so then every gap counts.
    gap, gap_msg = ig.gap_problem(
        times, start_ns, end_ns, limit_s, "energy counter", edges_only=ch.counter_wrap_j is None
    )
    if unwrapped.problem or gap_msg:
        return None, unwrapped.problem or gap_msg, gap
    return ig.counter_delta_j(times, unwrapped.energy_j, start_ns, end_ns), None, gap


def _samples_window(
    ch: ChannelTrace, start_ns: int, end_ns: int, limit_s: float
) -> tuple[float | None, str | None, float]:
    """(energy J, problem, max gap s) from the power samples (trapezoid)."""
    problem = ig.coverage_problem(ch.sample_ns, start_ns, end_ns, "power samples")
    if problem:
        return None, problem, 0.0
    gap, gap_msg = ig.gap_problem(ch.sample_ns, start_ns, end_ns, limit_s, "power samples")
    if gap_msg:
        return None, gap_msg, gap
    return ig.trapezoid_j(ch.sample_ns, ch.power_w, start_ns, end_ns), None, gap


def _gpu_state(ch: ChannelTrace, start_ns: int, end_ns: int) -> GpuStateSummary | None:
    if ch.domain != "gpu":
        return None
    inside = [s for s in ch.gpu_state if start_ns <= s.t_ns <= end_ns]
    clocks = [s.sm_clock_mhz for s in inside if s.sm_clock_mhz is not None]
    temps = [s.temperature_c for s in inside if s.temperature_c is not None]
    limits = [s.power_limit_w for s in inside if s.power_limit_w is not None]
    return GpuStateSummary(
        samples=len(inside),
        power_limit_w=limits[-1] if limits else None,
        sm_clock_mhz_mean=sum(clocks) / len(clocks) if clocks else None,
        sm_clock_mhz_min=min(clocks) if clocks else None,
        temperature_c_max=max(temps) if temps else None,
        throttle_reasons=sorted({r for s in inside for r in s.throttle_reasons}),
    )


def _source(ch: ChannelTrace) -> str:
    return f"{ch.meter} (replayed)" if ch.replayed else ch.meter


def channel_energy(
    ch: ChannelTrace,
    start_ns: int,
    end_ns: int,
    gap_factor: float = DEFAULT_GAP_FACTOR,
    idle: IdleBaseline | None = None,
) -> DeviceEnergy:
    """Energy of one channel over [start, end], with validity, peak, cross-check and idle."""
    window_s = (end_ns - start_ns) / NS_PER_S
    limit_s = gap_factor * ch.nominal_period_s
    method = "counter" if ch.counter_ns else "samples" if ch.sample_ns else None
    counter_j = counter_problem = samples_j = samples_problem = None
    gap = 0.0
    if ch.counter_ns:
        counter_j, counter_problem, gap = _counter_window(ch, start_ns, end_ns, limit_s)
    if ch.sample_ns:
        samples_j, samples_problem, sample_gap = _samples_window(ch, start_ns, end_ns, limit_s)
        gap = gap if method == "counter" else sample_gap
    energy = counter_j if method == "counter" else samples_j
    problem = ig.error_problem(ch.errors, start_ns, end_ns) or (
        counter_problem if method == "counter" else samples_problem
    )
    if method is None:
        problem = "no power samples and no energy counter readings"
    series_t, series_p = _power_series(ch)
    common = dict(
        channel=ch.channel,
        domain=ch.domain,
        source=_source(ch),
        device_name=ch.device_name,
        gpu_index=ch.gpu_index,
        gpu_uuid=ch.gpu_uuid,
        method=method,
        samples_in_window=sum(start_ns <= t <= end_ns for t in (ch.counter_ns or ch.sample_ns)),
        max_gap_s=gap,
        gpu_state=_gpu_state(ch, start_ns, end_ns),
        idle_power_w=idle.power_w if idle else None,
        idle_problem=(idle.problem if idle else None),
    )
    if problem or energy is None:
        return DeviceEnergy(valid=False, problem=problem, **common)  # type: ignore[arg-type]
    cross = samples_j if method == "counter" and samples_problem is None else None
    return DeviceEnergy(
        valid=True,
        energy_j=energy,
        avg_power_w=average_power_w(energy, window_s),
        peak_power_w=ig.peak_in_window(series_t, series_p, start_ns, end_ns),
        energy_above_idle_j=(
            energy_above_idle_j(energy, idle.power_w, window_s)
            if idle and idle.power_w is not None
            else None
        ),
        samples_energy_j=cross,
        counter_vs_samples_pct=percent_difference(cross, energy) if cross is not None else None,
        **common,  # type: ignore[arg-type]
    )


def idle_baseline(ch: ChannelTrace, gap_factor: float = DEFAULT_GAP_FACTOR) -> IdleBaseline:
    """Average idle power of one channel over the whole span its readings cover.

    P_idle = E(span) / span, E by the same method (and checks) as the run's energy.
    """
    times = ch.counter_ns or ch.sample_ns
    if len(times) < 2 or times[-1] <= times[0]:
        return IdleBaseline(
            channel=ch.channel,
            duration_s=0.0,
            power_w=None,
            method=None,
            problem=f"idle trace has {len(times)} reading(s); need at least 2",
        )
    start, end = times[0], times[-1]
    if ch.counter_ns and ch.sample_ns:  # both must cover the span for the cross-check
        start, end = max(start, ch.sample_ns[0]), min(end, ch.sample_ns[-1])
    if end <= start:
        return IdleBaseline(
            channel=ch.channel,
            duration_s=0.0,
            power_w=None,
            method=None,
            problem="idle counter and power samples do not overlap in time",
        )
    result = channel_energy(ch, start, end, gap_factor)
    duration = (end - start) / NS_PER_S
    return IdleBaseline(
        channel=ch.channel,
        duration_s=duration,
        power_w=result.avg_power_w,
        method=result.method,
        problem=None if result.valid else f"idle baseline invalid: {result.problem}",
    )


# --- totals ------------------------------------------------------------------------------------


def _total_peak_w(channels: Sequence[ChannelTrace], start_ns: int, end_ns: int) -> float | None:
    """Peak of the summed power: every channel interpolated on the union of sample times."""
    series = [_power_series(ch) for ch in channels]
    if any(not t for t, _ in series):
        return None
    grid = sorted(
        {start_ns, end_ns} | {t for ts, _ in series for t in ts if start_ns <= t <= end_ns}
    )
    total = np.zeros(len(grid))
    for ts, ps in series:
        total += np.interp(np.asarray(grid, dtype=float), np.asarray(ts, dtype=float), ps)
    return float(total.max())


def scope_total(
    scope: TotalScope,
    devices: Sequence[DeviceEnergy],
    channels: Sequence[ChannelTrace],
    window_s: float,
    start_ns: int,
    end_ns: int,
    output_tokens: float,
    total_tokens: float,
    price_usd_per_kwh: float | None,
    pue: float,
) -> EnergyTotal:
    """Sum the channels of one scope and derive the per-token figures from the sum."""
    names = [d.channel for d in devices]
    sources = sorted({d.source for d in devices})
    bad = [d for d in devices if not d.valid]
    if bad:
        problem = "; ".join(f"{d.channel}: {d.problem}" for d in bad)
        return EnergyTotal(
            scope=scope, channels=names, sources=sources, valid=False, problem=problem
        )
    energy = sum(d.energy_j or 0.0 for d in devices)
    idles = [d.idle_power_w for d in devices]
    idle = sum(p for p in idles if p is not None) if all(p is not None for p in idles) else None
    above = energy_above_idle_j(energy, idle, window_s) if idle is not None else None
    return EnergyTotal(
        scope=scope,
        channels=names,
        sources=sources,
        valid=True,
        energy_j=energy,
        avg_power_w=average_power_w(energy, window_s),
        peak_power_w=_total_peak_w(channels, start_ns, end_ns),
        idle_power_w=idle,
        energy_above_idle_j=above,
        j_per_output_token=joules_per_token(energy, output_tokens),
        j_per_total_token=joules_per_token(energy, total_tokens),
        j_per_output_token_above_idle=(
            joules_per_token(above, output_tokens) if above is not None else None
        ),
        output_tokens_per_kwh=tokens_per_kwh(output_tokens, energy),
        total_tokens_per_kwh=tokens_per_kwh(total_tokens, energy),
        energy_cost_usd=(
            energy_cost(energy, price_usd_per_kwh, pue) if price_usd_per_kwh is not None else None
        ),
        energy_cost_usd_per_m_output_tokens=(
            energy_cost(energy, price_usd_per_kwh, pue) / output_tokens * 1e6
            if price_usd_per_kwh is not None and output_tokens > 0
            else None
        ),
    )


def summarize_energy(
    trace: EnergyTrace,
    window_start_ns: int,
    window_end_ns: int,
    output_tokens: float,
    total_tokens: float,
    price_usd_per_kwh: float | None = None,
    pue: float | None = None,
    *,
    gap_factor: float = DEFAULT_GAP_FACTOR,
) -> EnergySummary:
    """Energy figures of the run window [window_start_ns, window_end_ns] (perf_counter_ns).

    `output_tokens`/`total_tokens` are the tokens counted in the same window. Energy cost is
    given (in USD) only with `price_usd_per_kwh` (PUE 1.0 when `pue` is None, said in `notes`).

    Raises:
        ValueError: the window is empty or reversed (a caller bug, not a measurement problem).
    """
    if window_end_ns <= window_start_ns:
        raise ValueError("energy window must have end > start")
    window_s = (window_end_ns - window_start_ns) / NS_PER_S
    notes: list[str] = []
    base = dict(
        window_start_ns=window_start_ns,
        window_end_ns=window_end_ns,
        window_s=window_s,
        output_tokens=output_tokens,
        total_tokens=total_tokens,
        price_usd_per_kwh=price_usd_per_kwh,
        pue=pue,
        gap_factor=gap_factor,
        selection=trace.selection,
        meters=trace.meters,
        skipped=trace.skipped,
    )
    if not trace.channels:
        reason = trace.not_measured_reason or "no meter produced readings"
        return EnergySummary(measured=False, not_measured_reason=reason, **base)  # type: ignore[arg-type]
    idle_by_channel = {b.channel: b for b in trace.idle}
    if trace.idle_note:
        notes.append(trace.idle_note)
    devices = [
        channel_energy(
            ch, window_start_ns, window_end_ns, gap_factor, idle_by_channel.get(ch.channel)
        )
        for ch in trace.channels
    ]
    for d in devices:
        if d.idle_problem:
            notes.append(f"{d.channel}: {d.idle_problem}")
        if d.energy_above_idle_j is not None and d.energy_above_idle_j < 0:
            notes.append(
                f"{d.channel}: energy above idle is negative: the run drew less than the idle "
                f"baseline ({d.idle_power_w:.1f} W) — was the system busy while idle was measured?"
            )
    if price_usd_per_kwh is not None and pue is None:
        notes.append("PUE not given: energy cost uses PUE 1.0 (meter energy only, no facility)")
    if output_tokens <= 0:
        notes.append("no output tokens in the window: per-token figures are not given")
    totals = []
    for scope in PRIMARY_ORDER:
        members = [d for d in devices if SCOPE_OF_DOMAIN[d.domain] == scope]
        if not members:
            continue
        chans = [ch for ch in trace.channels if SCOPE_OF_DOMAIN[ch.domain] == scope]
        totals.append(
            scope_total(
                scope,
                members,
                chans,
                window_s,
                window_start_ns,
                window_end_ns,
                output_tokens,
                total_tokens,
                price_usd_per_kwh,
                pue if pue is not None else 1.0,
            )
        )
    primary = next((t.scope for t in totals if t.valid), None)
    return EnergySummary(
        measured=True,
        primary=primary,
        devices=devices,
        totals=totals,
        notes=notes,
        **base,  # type: ignore[arg-type]
    )
