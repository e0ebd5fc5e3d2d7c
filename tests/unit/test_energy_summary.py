"""summarize_energy on hand-made traces: counter vs samples, idle, totals, per token, invalidity."""

from __future__ import annotations

import pytest

from bench.energy.records import (
    ChannelTrace,
    EnergyTrace,
    GpuStateSample,
    IdleBaseline,
    MeterError,
)
from bench.energy.summary import (
    energy_above_idle_j,
    energy_cost,
    idle_baseline,
    joules_per_token,
    summarize_energy,
    tokens_per_kwh,
)
from bench.energy.text import energy_markdown

S = 1_000_000_000
T0 = 9_000 * S
TICK = S // 10  # 10 Hz


def ticks(n: int, start: int = T0, step: int = TICK) -> list[int]:
    return [start + i * step for i in range(n)]


def gpu(
    name: str = "gpu0",
    watts: float = 300.0,
    n: int = 201,
    counter: bool = True,
    samples: bool = True,
    **extra: object,
) -> ChannelTrace:
    """A GPU at constant `watts` for (n − 1) / 10 s, with a counter (J) and/or samples."""
    t = ticks(n)
    fields: dict[str, object] = dict(
        channel=name, domain="gpu", meter="nvml", nominal_period_s=0.1, gpu_index=int(name[3:])
    )
    if samples:
        fields.update(sample_ns=t, power_w=[watts] * n)
    if counter:
        fields.update(counter_ns=t, counter_j=[5000.0 + watts * 0.1 * i for i in range(n)])
    fields.update(extra)
    return ChannelTrace(**fields)  # type: ignore[arg-type]


W5, W15 = T0 + 5 * S, T0 + 15 * S  # a 10 s window inside a 20 s trace


def test_figures_by_hand() -> None:
    assert energy_above_idle_j(3000.0, 100.0, 10.0) == 2000.0
    assert joules_per_token(3000.0, 1500) == 2.0
    assert joules_per_token(3000.0, 0) is None
    assert tokens_per_kwh(1500, 3000.0) == pytest.approx(1.8e6)
    assert energy_cost(3.6e6, 0.10, 1.5) == pytest.approx(0.15)


def test_counter_based_300w_window_is_3000j_with_samples_cross_check() -> None:
    trace = EnergyTrace(channels=[gpu()])
    s = summarize_energy(trace, W5, W15, output_tokens=1500, total_tokens=2000)
    d = s.devices[0]
    assert (d.valid, d.method, d.source) == (True, "counter", "nvml")
    assert d.energy_j == pytest.approx(3000.0)
    assert d.avg_power_w == pytest.approx(300.0)
    assert d.peak_power_w == pytest.approx(300.0)
    assert d.samples_energy_j == pytest.approx(3000.0)
    assert d.counter_vs_samples_pct == pytest.approx(0.0, abs=1e-9)
    assert d.samples_in_window == 101
    total = s.total("gpu")
    assert total is not None and s.primary == "gpu"
    assert total.j_per_output_token == pytest.approx(2.0)
    assert total.j_per_total_token == pytest.approx(1.5)
    assert total.output_tokens_per_kwh == pytest.approx(1.8e6)
    assert total.energy_cost_usd is None  # no price given


def test_sample_based_when_gpu_has_no_counter() -> None:
    s = summarize_energy(EnergyTrace(channels=[gpu(counter=False)]), W5, W15, 1000, 1000)
    d = s.devices[0]
    assert (d.valid, d.method) == (True, "samples")
    assert d.energy_j == pytest.approx(3000.0)
    assert d.samples_energy_j is None  # no cross-check without a counter


def test_counter_and_samples_disagree_and_the_difference_is_reported() -> None:
    # Samples say 330 W while the counter says 300 W: +10 %.
    ch = gpu()
    ch = ch.model_copy(update={"power_w": [330.0] * len(ch.power_w)})
    d = summarize_energy(EnergyTrace(channels=[ch]), W5, W15, 1, 1).devices[0]
    assert d.energy_j == pytest.approx(3000.0)
    assert d.samples_energy_j == pytest.approx(3300.0)
    assert d.counter_vs_samples_pct == pytest.approx(10.0)


def test_partial_window_at_trace_edge_of_a_ramp() -> None:
    # Power ramps 0 → 200 W over 20 s (10 W/s); window 5 .. 15 s: mean 100 W × 10 s = 1000 J.
    t = ticks(201)
    ch = ChannelTrace(
        channel="gpu0",
        domain="gpu",
        meter="nvml",
        nominal_period_s=0.1,
        sample_ns=t,
        power_w=[i * 1.0 for i in range(201)],
    )
    d = summarize_energy(EnergyTrace(channels=[ch]), W5, W15, 1, 1).devices[0]
    assert d.energy_j == pytest.approx(1000.0)
    assert d.peak_power_w == pytest.approx(150.0)


def test_idle_subtraction_and_energy_cost() -> None:
    idle_ch = gpu(watts=100.0, n=51)  # 5 s at 100 W
    base = idle_baseline(idle_ch)
    assert base.power_w == pytest.approx(100.0)
    assert base.duration_s == pytest.approx(5.0)
    assert base.method == "counter"
    trace = EnergyTrace(channels=[gpu()], idle=[base])
    s = summarize_energy(trace, W5, W15, 1500, 2000, price_usd_per_kwh=0.20, pue=1.5)
    d, total = s.devices[0], s.total("gpu")
    assert d.idle_power_w == pytest.approx(100.0)
    assert d.energy_above_idle_j == pytest.approx(2000.0)  # 3000 − 100 W × 10 s
    assert total is not None
    assert total.energy_above_idle_j == pytest.approx(2000.0)
    assert total.j_per_output_token_above_idle == pytest.approx(2000.0 / 1500)
    assert total.energy_cost_usd == pytest.approx(3000.0 / 3.6e6 * 1.5 * 0.20)
    assert total.energy_cost_usd_per_m_output_tokens == pytest.approx(
        3000.0 / 3.6e6 * 0.3 / 1500 * 1e6
    )
    assert s.notes == []


def test_price_without_pue_uses_1_and_says_so() -> None:
    s = summarize_energy(EnergyTrace(channels=[gpu()]), W5, W15, 10, 10, price_usd_per_kwh=0.36)
    total = s.total("gpu")
    assert total is not None and total.energy_cost_usd == pytest.approx(3000.0 / 3.6e6 * 0.36)
    assert any("PUE not given" in n for n in s.notes)


def test_negative_above_idle_is_kept_and_flagged_not_clamped() -> None:
    idle = IdleBaseline(channel="gpu0", duration_s=5.0, power_w=350.0, method="counter")
    s = summarize_energy(EnergyTrace(channels=[gpu()], idle=[idle]), W5, W15, 10, 10)
    assert s.devices[0].energy_above_idle_j == pytest.approx(-500.0)
    assert any("negative" in n for n in s.notes)


def test_sampling_gap_invalidates_sample_based_energy() -> None:
    t = ticks(201)
    keep = [i for i in range(201) if not 80 <= i < 95]  # 1.5 s hole from 7.9 s to 9.5 s
    ch = gpu(counter=False)
    ch = ch.model_copy(update={"sample_ns": [t[i] for i in keep], "power_w": [300.0] * len(keep)})
    d = summarize_energy(EnergyTrace(channels=[ch]), W5, W15, 1, 1).devices[0]
    assert not d.valid and d.energy_j is None and d.avg_power_w is None
    assert d.problem == (
        "sampling gap of 1.60 s in power samples at +2.90 s into the window (limit 0.50 s)"
    )


def test_gap_inside_window_does_not_invalidate_counter_but_drops_cross_check() -> None:
    t = ticks(201)
    keep = [i for i in range(201) if not 80 <= i < 95]
    ch = gpu()
    ch = ch.model_copy(
        update={
            "sample_ns": [t[i] for i in keep],
            "power_w": [300.0] * len(keep),
            "counter_ns": [t[i] for i in keep],
            "counter_j": [5000.0 + 30.0 * i for i in keep],
        }
    )
    d = summarize_energy(EnergyTrace(channels=[ch]), W5, W15, 1, 1).devices[0]
    assert d.valid and d.energy_j == pytest.approx(3000.0)
    assert d.samples_energy_j is None


def test_counter_reset_invalidates() -> None:
    ch = gpu(samples=False)
    counter = list(ch.counter_j)
    counter[100:] = [c - 5000.0 for c in counter[100:]]  # driver reload at 10 s: back near 0
    ch = ch.model_copy(update={"counter_j": counter})
    d = summarize_energy(EnergyTrace(channels=[ch]), W5, W15, 1, 1).devices[0]
    assert not d.valid and d.energy_j is None
    assert d.problem is not None and d.problem.startswith("energy counter reset at +5.00 s")


def test_counter_wrap_with_known_range_is_undone() -> None:
    # RAPL-style package counter, range 1000 J, 50 W: starts at 900 J, wraps at 2 s.
    t = ticks(201)
    raw = [(900.0 + 5.0 * i) % 1000.0 for i in range(201)]
    ch = ChannelTrace(
        channel="cpu0-package",
        domain="cpu_package",
        meter="rapl",
        nominal_period_s=0.1,
        counter_ns=t,
        counter_j=raw,
        counter_wrap_j=1000.0,
    )
    s = summarize_energy(EnergyTrace(channels=[ch]), T0 + S, T0 + 11 * S, 100, 100)
    d = s.devices[0]
    assert d.valid and d.energy_j == pytest.approx(500.0)  # 50 W × 10 s across the wrap
    assert d.peak_power_w == pytest.approx(50.0)
    assert s.primary == "cpu"


def test_missing_gpu_invalidates_device_and_gpu_total() -> None:
    lost_at = T0 + 8 * S
    ch = gpu(name="gpu1", n=81)  # readings stop at 8 s ...
    ch = ch.model_copy(
        update={
            "errors": [
                MeterError(
                    first_ns=lost_at,
                    last_ns=T0 + 20 * S,
                    count=120,
                    message="NVML: GPU is lost",
                    device_lost=True,
                )
            ]
        }
    )
    s = summarize_energy(EnergyTrace(channels=[gpu(), ch]), W5, W15, 100, 100)
    assert s.devices[0].valid
    bad = s.devices[1]
    assert not bad.valid and bad.energy_j is None
    assert bad.problem == "device lost at +3.00 s into the window (120 times): NVML: GPU is lost"
    total = s.total("gpu")
    assert total is not None and not total.valid and total.energy_j is None
    assert total.problem is not None and total.problem.startswith("gpu1: device lost")
    assert s.primary is None
    assert s.headline().startswith("energy: invalid (gpu1: device lost")


def test_window_not_covered_invalidates() -> None:
    d = summarize_energy(EnergyTrace(channels=[gpu(n=101)]), W5, W15, 1, 1).devices[0]
    assert not d.valid
    assert d.problem == (
        "window not covered by energy counter: readings span -5.00 s to +5.00 s, "
        "window is 0 to 10.00 s"
    )


def test_totals_add_gpus_and_peak_is_of_the_sum() -> None:
    # gpu0 constant 300 W; gpu1 ramps 100 → 300 W over 20 s (10 W/s).
    t = ticks(201)
    ramp = ChannelTrace(
        channel="gpu1",
        domain="gpu",
        meter="nvml",
        nominal_period_s=0.1,
        sample_ns=t,
        power_w=[100.0 + i for i in range(201)],
    )
    s = summarize_energy(EnergyTrace(channels=[gpu(), ramp]), W5, W15, 2000, 4000)
    total = s.total("gpu")
    assert total is not None and total.valid
    # gpu1 over 5 .. 15 s: 150 → 250 W, mean 200 W → 2000 J; with gpu0's 3000 J → 5000 J.
    assert total.energy_j == pytest.approx(5000.0)
    assert total.avg_power_w == pytest.approx(500.0)
    assert total.peak_power_w == pytest.approx(550.0)  # 300 + 250 at the window's end
    assert total.j_per_output_token == pytest.approx(2.5)
    assert total.channels == ["gpu0", "gpu1"]


def test_primary_falls_back_to_node_when_gpu_total_invalid() -> None:
    node = ChannelTrace(
        channel="node",
        domain="node",
        meter="ipmi",
        nominal_period_s=1.0,
        sample_ns=ticks(21, step=S),
        power_w=[1200.0] * 21,
    )
    bad_gpu = gpu(n=101)  # does not cover the window
    s = summarize_energy(EnergyTrace(channels=[bad_gpu, node]), W5, W15, 600, 600)
    assert s.primary == "node"
    node_total = s.total("node")
    assert node_total is not None and node_total.energy_j == pytest.approx(12000.0)
    assert s.headline().startswith("energy (node, ipmi, measured): 12000.0 J over 10.00 s")


def test_gpu_state_summary_over_the_window() -> None:
    states = [
        GpuStateSample(
            t_ns=T0 + k * S,
            power_limit_w=700.0,
            sm_clock_mhz=1980.0 - 10 * k,
            temperature_c=50.0 + k,
            throttle_reasons=["sw_power_cap"] if k == 9 else [],
        )
        for k in range(21)
    ]
    s = summarize_energy(EnergyTrace(channels=[gpu(gpu_state=states)]), W5, W15, 1, 1)
    st = s.devices[0].gpu_state
    assert st is not None
    assert st.samples == 11  # 5 .. 15 s inclusive
    assert st.power_limit_w == 700.0
    assert st.sm_clock_mhz_min == pytest.approx(1830.0)
    assert st.sm_clock_mhz_mean == pytest.approx(1880.0)
    assert st.temperature_c_max == 65.0
    assert st.throttle_reasons == ["sw_power_cap"]


def test_not_measured_summary_has_no_numbers_and_says_why() -> None:
    trace = EnergyTrace(
        not_measured_reason="no readable meter: rapl: /sys/class/powercap does not exist"
    )
    s = summarize_energy(trace, W5, W15, 100, 100)
    assert not s.measured and s.devices == [] and s.totals == [] and s.primary is None
    assert s.headline() == (
        "energy: not measured (no readable meter: rapl: /sys/class/powercap does not exist)"
    )
    assert "energy: not measured" in energy_markdown(s)
    assert "| gpu" not in energy_markdown(s)


def test_markdown_shows_invalid_as_dash_with_reason() -> None:
    s = summarize_energy(EnergyTrace(channels=[gpu(), gpu(name="gpu1", n=101)]), W5, W15, 10, 10)
    md = energy_markdown(s)
    assert "| gpu0 | nvml | counter | 3000.0 | 300.0 | 300.0 |" in md
    assert "| gpu1 | nvml | counter | — | — | — |" in md
    assert "no: window not covered" in md


def test_reversed_window_is_a_caller_bug() -> None:
    with pytest.raises(ValueError):
        summarize_energy(EnergyTrace(channels=[gpu()]), W15, W5, 1, 1)


def test_invalid_idle_baseline_gives_no_above_idle_figure_and_says_why() -> None:
    idle_ch = gpu(watts=100.0, n=51, counter=False)
    t = list(idle_ch.sample_ns)
    idle_ch = idle_ch.model_copy(update={"sample_ns": t[:10] + t[30:], "power_w": [100.0] * 31})
    base = idle_baseline(idle_ch)
    assert base.power_w is None
    assert base.problem == (
        "idle baseline invalid: sampling gap of 2.10 s in power samples at +0.90 s into the "
        "window (limit 0.50 s)"
    )
    s = summarize_energy(EnergyTrace(channels=[gpu()], idle=[base]), W5, W15, 10, 10)
    assert s.devices[0].valid and s.devices[0].energy_above_idle_j is None
    total = s.total("gpu")
    assert total is not None and total.energy_j == pytest.approx(3000.0)
    assert total.idle_power_w is None and total.energy_above_idle_j is None
    assert s.notes == [f"gpu0: {base.problem}"]
