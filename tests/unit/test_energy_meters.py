"""Meter sets: replay and null meters, the sampling thread, open_meters, trace files, CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner
from waiting import wait_until

from bench.energy.cli import app
from bench.energy.meter import ReplayMeter, SamplingMeter, read_trace, write_trace
from bench.energy.meterset import MeterSet, open_meters
from bench.energy.records import ChannelTrace, EnergyTrace
from bench.energy.summary import summarize_energy
from bench.errors import UserError

FIXTURES = Path(__file__).parent.parent / "fixtures" / "energy"
S = 1_000_000_000


class FakeClock:
    """perf_counter_ns stand-in that only moves when the test (or `sleep`) moves it."""

    def __init__(self, start_ns: int = 50_000 * S) -> None:
        self.now = start_ns

    def __call__(self) -> int:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += round(seconds * S)


def constant_gpu(watts: float, seconds: int, t0: int = 0) -> ChannelTrace:
    n = seconds * 10 + 1
    t = [t0 + i * S // 10 for i in range(n)]
    return ChannelTrace(
        channel="gpu0",
        domain="gpu",
        meter="nvml",
        nominal_period_s=0.1,
        sample_ns=t,
        power_w=[watts] * n,
        counter_ns=t,
        counter_j=[1000.0 + watts * i / 10 for i in range(n)],
    )


def test_replay_meterset_idle_then_run_end_to_end() -> None:
    clock = FakeClock()
    replay = ReplayMeter([[constant_gpu(100.0, 5)], [constant_gpu(300.0, 30)]], clock=clock)
    meters = MeterSet([replay], clock=clock, sleep=clock.sleep)
    idle = meters.measure_idle(5.0)
    assert [b.power_w for b in idle] == [pytest.approx(100.0)]
    meters.start()
    t_start = clock()
    clock.sleep(20.0)
    trace = meters.stop()
    assert trace.started_ns == t_start and trace.stopped_ns == t_start + 20 * S
    assert len(trace.channels[0].sample_ns) == 201  # the 30 s recording cut at 20 s
    assert trace.channels[0].replayed
    s = summarize_energy(trace, t_start + 5 * S, t_start + 15 * S, 1500, 2000, 0.2, 1.5)
    d = s.devices[0]
    assert d.source == "nvml (replayed)"
    assert d.energy_j == pytest.approx(3000.0)
    assert d.energy_above_idle_j == pytest.approx(2000.0)
    total = s.total("gpu")
    assert total is not None
    assert total.j_per_output_token == pytest.approx(2.0)
    assert total.energy_cost_usd == pytest.approx(2.5e-4)


def test_replay_stopped_early_leaves_window_end_uncovered() -> None:
    clock = FakeClock()
    meters = MeterSet([ReplayMeter([[constant_gpu(300.0, 5)]], clock=clock)], clock=clock)
    meters.start()
    t0 = clock()
    clock.sleep(8.0)  # the recording holds only 5 s
    trace = meters.stop()
    d = summarize_energy(trace, t0 + S, t0 + 7 * S, 1, 1).devices[0]
    assert not d.valid and d.problem is not None and "window not covered" in d.problem


def test_replay_from_saved_trace_file(tmp_path: Path) -> None:
    recorded = read_trace(FIXTURES / "trace_gpu_constant.json")
    write_trace(recorded, tmp_path / "copy.json")
    assert read_trace(tmp_path / "copy.json") == recorded
    clock = FakeClock()
    meters = MeterSet([ReplayMeter([recorded.channels], clock=clock)], clock=clock)
    meters.start()
    t0 = clock()
    clock.sleep(10.0)
    trace = meters.stop()
    s = summarize_energy(trace, t0 + 2 * S, t0 + 8 * S, 600, 600)
    d = s.devices[0]
    assert d.energy_j == pytest.approx(1800.0)  # 300 W × 6 s
    assert d.gpu_state is not None and d.gpu_state.power_limit_w == 700.0
    assert d.gpu_state.temperature_c_max == 63.0  # 55 + 8 at the window's end


def test_read_trace_errors_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"channels": [{"channel": "gpu0"}]}', encoding="utf-8")
    with pytest.raises(UserError) as err:
        read_trace(bad)
    assert err.value.file == str(bad) and err.value.field is not None
    with pytest.raises(UserError, match="not found"):
        read_trace(tmp_path / "missing.json")


def test_none_meter_measures_nothing_and_says_so() -> None:
    meters = open_meters("none")
    assert not meters.measured
    assert meters.measure_idle(10.0) == []  # returns at once: nothing to measure
    meters.start()
    trace = meters.stop()
    assert trace.channels == []
    assert trace.not_measured_reason == "energy metering turned off (meter: none)"
    s = summarize_energy(trace, 1, 2, 10, 10)
    assert s.headline() == "energy: not measured (energy metering turned off (meter: none))"


def test_auto_on_a_bare_host_reports_every_reason(tmp_path: Path) -> None:
    env = {"PATH": str(tmp_path)}  # no ipmitool on this PATH, no Redfish URL
    meters = open_meters("auto", env=env, powercap_root=tmp_path / "powercap", nvml=_NoGpuNvml())
    assert not meters.measured
    assert set(meters.skipped) == {"nvml", "rapl", "ipmi", "redfish"}
    assert meters.skipped["nvml"] == "NVML found no NVIDIA GPU"
    assert "does not exist" in meters.skipped["rapl"]
    assert meters.skipped["redfish"] == "TOKENBENCH_REDFISH_URL is not set"
    reason = meters.not_measured_reason
    assert reason is not None and reason.startswith("no readable meter: nvml: NVML found no")


def test_named_meter_that_cannot_run_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError) as err:
        open_meters("rapl", powercap_root=tmp_path / "nothing")
    assert err.value.field == "energy.meter"
    assert "cannot run on this host" in err.value.message
    with pytest.raises(UserError, match="unknown energy meter"):
        open_meters("watts")  # type: ignore[arg-type]


class _NoGpuNvml:
    """An initialised NVML that sees no GPU (the case of a driver without devices)."""

    class NVMLError(Exception):
        pass

    def nvmlDeviceGetCount(self) -> int:  # noqa: N802 - NVML's names
        return 0

    def nvmlShutdown(self) -> None:  # noqa: N802
        self.shut = True


class _Counting(SamplingMeter):
    """A sampling meter whose reading is the read number, to test the thread itself."""

    kind = "rapl"

    def __init__(self, period_s: float) -> None:
        super().__init__(period_s)
        self.reads = 0

    def channel_info(self):  # type: ignore[no-untyped-def]
        return [("cpu0-package", "cpu_package", {})]

    def describe(self) -> str:
        return "counting"

    def read(self) -> None:
        self.reads += 1
        if self.reads == 3:
            raise RuntimeError("boom")
        self.buffers[0].counter(self.clock(), float(self.reads))


def test_sampling_thread_brackets_start_stop_and_records_crashing_reads() -> None:
    meter = _Counting(period_s=0.02)
    meters = MeterSet([meter])
    meters.start()
    wait_until(lambda: meter.reads >= 6, "six reads by the sampling thread")
    trace = meters.stop()
    ch = trace.channels[0]
    assert trace.started_ns is not None and trace.stopped_ns is not None
    assert ch.counter_ns[0] <= trace.started_ns and ch.counter_ns[-1] >= trace.stopped_ns
    # never faster than its period: one read per 20 ms, plus the two synchronous reads
    elapsed_s = (trace.stopped_ns - trace.started_ns) / 1e9
    assert 6 <= meter.reads <= elapsed_s / 0.02 + 3
    assert [e.message for e in ch.errors] == ["sampler error: RuntimeError: boom"]
    assert len(ch.counter_j) == meter.reads - 1


def test_cli_measure_with_meter_none_prints_not_measured() -> None:
    result = CliRunner().invoke(app, ["measure", "--duration-s", "0.1", "--meter", "none"])
    assert result.exit_code == 0, result.output
    assert "energy: not measured (energy metering turned off (meter: none))" in result.output


def test_cli_probe_names_every_meter() -> None:
    result = CliRunner().invoke(app, ["probe"])
    assert result.exit_code == 0, result.output
    for name in ("nvml", "rapl", "ipmi", "redfish"):
        assert name in result.output


def test_trace_json_round_trip_keeps_everything(tmp_path: Path) -> None:
    trace = EnergyTrace(started_ns=1, stopped_ns=2, channels=[constant_gpu(250.0, 1)])
    write_trace(trace, tmp_path / "t.json")
    assert read_trace(tmp_path / "t.json") == trace
