"""Verdict logic on recorded records: healthy node, slow GPU, degraded PCIe, throttling, ECC…

Nodes come from the recorded 8×H100 NVML snapshot with per-GPU edits (so the NVML parsing
runs too); microbenchmark reports are literal numbers in the range an H100 SXM node shows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench.accept.bands import BandMin, Bands
from bench.accept.micro_records import MicroReport, MicroResult, MicroSizes
from bench.accept.probe import CpuProbe, NodeProbe, node_from_snapshot, node_without_gpu
from bench.accept.records import (
    Check,
    GpuSample,
    InferenceOutcome,
    NodeSample,
    SoakReport,
    SoakRun,
)
from bench.accept.verdict import evaluate, overall, summary_line
from bench.nvml.snapshot import NvmlSnapshot, ReplayNvml, XidEvent

H100 = Path(__file__).resolve().parents[1] / "fixtures" / "accept" / "nvml_h100_sxm_8x_idle.json"
CPU = CpuProbe(
    model="Intel(R) Xeon(R) Platinum 8480C",
    logical_cores=224,
    physical_cores=112,
    sockets=2,
    memory_total_bytes=2 * 1024**4,
    memory_available_bytes=2 * 1024**4,
)
BANDS = Bands(
    sku="h100-sxm",
    kind="gpu",
    expected_gpus=8,
    gpu_name="NVIDIA H100 SXM",
    gemm_bf16_tflops_min=BandMin(value=692, basis="70 % of 989"),
    gemm_fp8_tflops_min=BandMin(value=1385, basis="70 % of 1979"),
    memory_bandwidth_gbps_min=BandMin(value=2680, basis="80 % of 3350"),
    h2d_gbps_min=BandMin(value=45, basis="70 % of Gen5 x16"),
    allreduce_busbw_gbps_min=BandMin(value=315, basis="70 % of 450"),
    inference_output_tok_per_s_min=BandMin(value=7610, basis="50 % of 15,220"),
    inference_model="Llama 3.1 8B (FP8, TP1)",
    inference_workload="1000/1000 max throughput",
    outlier_margin_fraction=0.05,
    outlier_basis="5 % below the siblings",
    source="test bands",
)
# Per-GPU rates of a healthy node (SI) and a little GPU-to-GPU spread.
HEALTHY = {
    "gemm_bf16": 760e12,
    "gemm_fp8": 1450e12,
    "memory_bandwidth": 2950e9,
    "h2d_bandwidth": 55e9,
    "d2h_bandwidth": 53e9,
}
SPREAD = [1.0, 0.99, 1.01, 1.0, 0.995, 1.005, 0.99, 1.0]
INFERENCE = InferenceOutcome(
    output_tok_per_s=9100.0, model="llama-3.1-8b", requests_ok=512, requests_failed=0
)


def node(edits: dict[int, dict[str, Any]] | None = None, **snap_edits: Any) -> NodeProbe:
    """The recorded 8×H100 idle snapshot with raw NVML fields of some GPUs changed."""
    snap = ReplayNvml.from_file(H100).read()
    gpus = [g.model_copy(update=(edits or {}).get(g.index, {})) for g in snap.gpus]
    return node_from_snapshot(snap.model_copy(update={"gpus": gpus, **snap_edits}), CPU)


def loaded(edits: dict[int, dict[str, Any]] | None = None, n: int = 3) -> list[NodeSample]:
    """Samples under load: links trained to Gen5 x16, 60–70 °C, 690 W (SW power cap)."""
    samples = []
    for k in range(n):
        gpus = [
            GpuSample(
                index=i,
                temperature_c=60.0 + k * 3,
                temperature_slowdown_c=87.0,
                power_w=690.0,
                clock_sm_hz=1.755e9,
                pcie_gen=5,
                pcie_width=16,
                throttle_reasons=["sw_power_cap"],
                ecc_volatile_corrected=0,
                ecc_volatile_uncorrected=0,
            ).model_copy(update=(edits or {}).get(i, {}))
            for i in range(8)
        ]
        samples.append(NodeSample(phase="micro", elapsed_s=1.0 + k, gpus=gpus))
    return samples


def micro(
    overrides: dict[tuple[str, str, int], float] | None = None,
    errors: dict[tuple[str, str, int], str] | None = None,
    allreduce_busbw: float = 380e9,
) -> MicroReport:
    """A recorded-style CUDA report: every metric per GPU alone and all at once."""
    results = []
    for metric, rate in HEALTHY.items():
        unit = "flop_per_s" if metric.startswith("gemm") else "byte_per_s"
        for scope in ("single", "concurrent"):
            for i in range(8):
                key = (metric, scope, i)
                value = (overrides or {}).get(key, rate * SPREAD[i])
                error = (errors or {}).get(key)
                results.append(
                    MicroResult(
                        metric=metric,  # type: ignore[arg-type]
                        device=f"cuda:{i}",
                        gpu_index=i,
                        scope=scope,  # type: ignore[arg-type]
                        value=None if error else value,
                        unit=unit,  # type: ignore[arg-type]
                        median_s=1e-3,
                        times_s=[1e-3] * 5,
                        work=value * 1e-3,
                        timer="cuda_event",
                        error=error,
                    )
                )
    results.append(
        MicroResult(
            metric="allreduce_busbw",
            device="node",
            scope="node",
            value=allreduce_busbw,
            unit="byte_per_s",
            work=512 * 2**20,
            timer="cuda_event",
        )
    )
    return MicroReport(
        backend="cuda",
        torch_version="2.13.0",
        devices=[f"cuda:{i} NVIDIA H100 80GB HBM3" for i in range(8)],
        sizes=MicroSizes(),
        results=results,
        duration_s=95.0,
    )


def judge(probe: NodeProbe, **kwargs: Any) -> tuple[dict[str, Check], str, int]:
    kwargs.setdefault("samples", loaded())
    kwargs.setdefault("micro", micro())
    kwargs.setdefault("inference", INFERENCE)
    checks = evaluate(probe, kwargs.pop("bands", BANDS), **kwargs)
    result, code = overall(checks)
    return {c.name: c for c in checks}, result, code


def failing(checks: dict[str, Check]) -> list[str]:
    return sorted(n for n, c in checks.items() if c.required and c.status != "pass")


# ---------------------------------------------------------------------- scenarios


def test_healthy_node_passes_with_exit_0() -> None:
    checks, result, code = judge(node())
    assert (result, code) == ("pass", 0)
    assert failing(checks) == []
    assert checks["gpu_count"].measured == 8
    assert checks["gemm_bf16"].measured == pytest.approx(760 * 0.99)  # the slowest GPU
    assert checks["gemm_bf16"].expected_min == 692
    assert checks["allreduce_busbw"].measured == pytest.approx(380)
    assert checks["inference_throughput"].status == "pass"
    # idle Gen1 links are fine: under load they reached Gen5 x16
    assert checks["pcie_link"].status == "pass"
    # n/a and warnings are shown, never counted: no soak asked for, D2D has no band
    assert checks["soak"].status == "not_applicable" and not checks["soak"].required
    assert checks["d2h_bandwidth"].status == "warn" and not checks["d2h_bandwidth"].required
    assert checks["throttling"].status == "pass"  # the SW power cap under load is only a note
    assert checks["throttling"].note.startswith("software power cap reached under load on gpu0,")


def test_one_slow_gpu_is_an_outlier_even_above_the_band() -> None:
    # gpu3 at 720 TFLOP/s: above the 692 band, but 0.95x below the ~760 of its siblings
    checks, result, code = judge(node(), micro=micro({("gemm_bf16", "single", 3): 720e12}))
    assert (result, code) == ("fail", 1)
    assert failing(checks) == ["outlier:gemm_bf16"]
    out = checks["outlier:gemm_bf16"]
    assert out.gpus == [3] and out.severity == "major"
    assert out.measured == pytest.approx(720 / 760)  # siblings' median is exactly 760
    assert checks["gemm_bf16"].status == "pass"


def test_slow_gpu_below_band_fails_band_and_outlier() -> None:
    checks, result, _ = judge(node(), micro=micro({("memory_bandwidth", "concurrent", 6): 2100e9}))
    assert result == "fail"
    assert failing(checks) == [
        "memory_bandwidth:all_at_once",
        "outlier:memory_bandwidth:all_at_once",
    ]
    band = checks["memory_bandwidth:all_at_once"]
    assert band.gpus == [6] and band.measured == pytest.approx(2100)
    assert band.measured_text == "min 2,100 GB/s (gpu6)"


def test_degraded_pcie_width_in_the_slot() -> None:
    checks, result, _ = judge(node({5: {"pcie_width_max": 8, "pcie_width_current": 8}}))
    assert result == "fail"
    pcie = checks["pcie_link"]
    assert (pcie.status, pcie.gpus, pcie.severity) == ("fail", [5], "major")
    assert pcie.measured_text == "gpu5: max x8 < siblings' x16"


def test_pcie_gen_capped_by_the_slot() -> None:
    checks, _, _ = judge(node({0: {"pcie_gen_max": 4}}))
    assert checks["pcie_link"].measured_text == "gpu0: slot Gen4 < GPU Gen5"


def test_pcie_link_that_never_trains_up_under_load() -> None:
    checks, _, _ = judge(node(), samples=loaded({2: {"pcie_gen": 3}}))
    assert checks["pcie_link"].gpus == [2]
    assert checks["pcie_link"].measured_text == "gpu2: under load Gen3 x16 < Gen5 x16"


def test_idle_only_pcie_is_judged_on_slot_maximums_and_says_so() -> None:
    checks, _, _ = judge(node(), samples=[])
    assert checks["pcie_link"].status == "pass"
    assert checks["pcie_link"].note == (
        "link state not observed during host copies; only the slot maximums judged"
    )


def test_thermal_throttling_under_load_is_critical() -> None:
    hot = {1: {"throttle_reasons": ["sw_power_cap", "hw_thermal_slowdown"], "temperature_c": 88.0}}
    checks, result, _ = judge(node(), samples=loaded(hot))
    assert result == "fail"
    assert failing(checks) == ["temperature", "throttling"]
    assert checks["throttling"].gpus == [1] and checks["throttling"].severity == "critical"
    assert checks["throttling"].measured_text == "gpu1: hw_thermal_slowdown"
    assert checks["temperature"].measured_text == "peak 88 °C on gpu1 (slowdown 87 °C)"


def test_power_brake_at_idle_fails() -> None:
    checks, _, _ = judge(node({7: {"clocks_event_reasons": 0x80 | 0x1}}))
    assert checks["throttling"].gpus == [7]
    assert checks["throttling"].measured_text == "gpu7: hw_power_brake_slowdown"


def test_uncorrectable_ecc_errors_fail_corrected_ones_only_warn() -> None:
    probe = node({6: {"ecc_volatile_uncorrected": 2, "ecc_aggregate_uncorrected": 2},
                  0: {"ecc_aggregate_corrected": 5}})  # fmt: skip
    checks, result, _ = judge(probe)
    assert result == "fail"
    assert failing(checks) == ["ecc_uncorrected"]
    ecc = checks["ecc_uncorrected"]
    assert (ecc.measured, ecc.gpus, ecc.severity) == (2.0, [6], "critical")
    corrected = checks["ecc_corrected"]
    assert (corrected.status, corrected.required, corrected.gpus) == ("warn", False, [0])


def test_corrected_ecc_alone_still_passes() -> None:
    _, result, code = judge(node({0: {"ecc_volatile_corrected": 3}}))
    assert (result, code) == ("pass", 0)


def test_ecc_errors_appearing_under_load_are_caught() -> None:
    checks, _, _ = judge(node(), samples=loaded({4: {"ecc_volatile_uncorrected": 1}}))
    assert checks["ecc_uncorrected"].gpus == [4]


def test_row_remap_pending_is_major_and_failure_critical() -> None:
    pending, _, _ = judge(node({4: {"remapped_rows": (0, 1, 1, 0)}}))
    assert (pending["memory_remap"].status, pending["memory_remap"].severity) == ("fail", "major")
    assert pending["memory_remap"].note == (
        "rows remapped / pages retired for uncorrectable errors: gpu4: 1"
    )
    failed, _, _ = judge(node({4: {"remapped_rows": (0, 512, 0, 1)}}))
    assert failed["memory_remap"].severity == "critical"
    assert failed["memory_remap"].action == "RMA the GPU: row remapping failed (no spare rows left)"


def test_inactive_nvlink_links() -> None:
    checks, _, _ = judge(node({2: {"nvlink_state": [1] * 16 + [0, 0]}}))
    link = checks["nvlink"]
    assert (link.status, link.measured, link.gpus) == ("fail", 2.0, [2])
    assert link.measured_text == "gpu2: 2 of 18 down"


def test_lowered_power_limit() -> None:
    checks, _, _ = judge(node({7: {"power_limit_enforced_mw": 500_000}}))
    assert checks["power_limit"].gpus == [7]
    assert checks["power_limit"].measured == 500.0


def test_missing_gpu() -> None:
    snap = ReplayNvml.from_file(H100).read()
    probe = node_from_snapshot(snap.model_copy(update={"gpus": snap.gpus[:7]}), CPU)
    checks, result, _ = judge(probe)
    assert result == "fail"
    assert (checks["gpu_count"].measured, checks["gpu_count"].expected) == (7.0, "= 8 (h100-sxm)")


def test_xid_event_during_the_run() -> None:
    samples = loaded()
    samples[1] = samples[1].model_copy(
        update={"xid_events": [XidEvent(gpu_index=3, xid=79, monotonic_ns=5)]}
    )
    checks, _, _ = judge(node(), samples=samples)
    assert checks["xid_errors"].measured_text == "gpu3: Xid 79"


def test_nvml_error_is_an_error_not_a_silent_pass() -> None:
    checks, result, _ = judge(node({1: {"errors": {"power_usage_mw": "GPU is lost"}}}))
    assert checks["nvml_queries"].status == "error" and result == "fail"


def test_microbenchmark_error_with_a_band_fails() -> None:
    report = micro(errors={("gemm_fp8", "single", 0): "RuntimeError: CUDA out of memory"})
    checks, result, _ = judge(node(), micro=report)
    assert result == "fail"
    assert checks["gemm_fp8"].status == "error"
    assert checks["gemm_fp8"].measured_text == "error: RuntimeError: CUDA out of memory"


def test_missing_bands_are_shown_but_not_gated() -> None:
    bare = Bands(sku="h100-sxm", kind="gpu", expected_gpus=8, source="hardware/x.yaml")
    checks, result, code = judge(node(), bands=bare)
    assert (result, code) == ("pass", 0)
    gemm = checks["gemm_bf16"]
    assert (gemm.status, gemm.required) == ("warn", False)
    assert gemm.expected == "no band in hardware/x.yaml"
    assert checks["inference_throughput"].status == "warn"


def test_inference_below_band_and_wrong_model() -> None:
    slow = INFERENCE.model_copy(update={"output_tok_per_s": 6000.0})
    checks, result, _ = judge(node(), inference=slow)
    assert checks["inference_throughput"].status == "fail" and result == "fail"
    tiny = INFERENCE.model_copy(update={"model": "tiny-llama"})
    checks, _, _ = judge(node(), inference=tiny)
    assert checks["inference_throughput"].status == "error"
    assert checks["inference_throughput"].note == (
        "ran model tiny-llama, but the band is for Llama 3.1 8B (FP8, TP1)"
    )


def test_inference_that_crashed_or_lost_requests() -> None:
    crashed = InferenceOutcome(output_tok_per_s=None, error="RunFailed: server died")
    checks, _, _ = judge(node(), inference=crashed)
    assert checks["inference_functional"].status == "error"
    lossy = INFERENCE.model_copy(update={"requests_failed": 3})
    checks, _, _ = judge(node(), inference=lossy)
    assert checks["inference_functional"].status == "fail"


def test_no_inference_leaves_the_verdict_incomplete() -> None:
    checks, result, code = judge(node(), inference=None)
    assert (result, code) == ("incomplete", 3)
    assert failing(checks) == ["inference_functional", "inference_throughput"]
    assert checks["inference_functional"].status == "not_applicable"


# ---------------------------------------------------------------------- soak


def soak(rates: list[float | None]) -> SoakReport:
    runs = [SoakRun(elapsed_s=10.0 * (i + 1), output_tok_per_s=r) for i, r in enumerate(rates)]
    return SoakReport(requested_s=60, duration_s=10.0 * len(rates), runs=runs)


def soak_samples(peaks: list[float]) -> list[NodeSample]:
    return [
        NodeSample(phase="soak", elapsed_s=float(i), gpus=[GpuSample(index=0, temperature_c=t)])
        for i, t in enumerate(peaks)
    ]


def test_stable_soak_passes_and_a_dip_fails() -> None:
    samples = loaded() + soak_samples([60, 70, 74, 75, 75, 76])
    checks, result, _ = judge(node(), soak=soak([9100, 9050, 9120, 9080]), samples=samples)
    assert result == "pass"
    assert checks["soak_throughput_stable"].measured == pytest.approx(9050 / 9090)
    # thirds of 6 samples: middle [74, 75], last [75, 76] → the peak rose 76 - 75 = 1 °C
    assert checks["soak_temperature_settled"].measured == 1.0
    checks, result, _ = judge(node(), soak=soak([9100, 8000, 9120, 9080]), samples=samples)
    assert checks["soak_throughput_stable"].status == "fail" and result == "fail"


def test_soak_still_heating_up_fails_settling() -> None:
    samples = loaded() + soak_samples([50, 55, 60, 65, 75, 80])
    checks, _, _ = judge(node(), soak=soak([9100, 9100]), samples=samples)
    assert checks["soak_temperature_settled"].status == "fail"
    assert checks["soak_temperature_settled"].measured == 15.0  # 80 - 65


def test_soak_with_one_run_cannot_judge_stability() -> None:
    checks, result, _ = judge(node(), soak=soak([9100]))
    assert checks["soak_throughput_stable"].status == "not_applicable"
    assert result == "incomplete"


def test_soak_with_a_failed_run_fails() -> None:
    checks, _, _ = judge(node(), soak=soak([9100, None, 9100]))
    assert checks["soak_throughput_stable"].measured_text == "1 failed runs"


# ---------------------------------------------------------------------- CPU SKU and no GPU


CPU_BANDS = Bands(sku="cpu-local", kind="cpu", expected_gpus=0, source="hardware/cpu-local.yaml")


def cpu_micro() -> MicroReport:
    def result(metric: str, value: float, unit: str) -> MicroResult:
        return MicroResult(
            metric=metric,  # type: ignore[arg-type]
            device="cpu",
            scope="single",
            value=value,
            unit=unit,  # type: ignore[arg-type]
            work=value * 0.05,
            timer="perf_counter_ns",
        )

    return MicroReport(
        backend="cpu",
        torch_version="2.13.0+cpu",
        devices=["cpu"],
        sizes=MicroSizes(),
        results=[
            result("cpu_gemm_fp32", 37e9, "flop_per_s"),
            result("cpu_memory_bandwidth", 9.2e9, "byte_per_s"),
        ],
        duration_s=2.2,
    )


def test_cpu_sku_gpu_checks_are_not_applicable_never_pass() -> None:
    probe = node_without_gpu("NVML library not found", CPU)
    tiny = InferenceOutcome(
        output_tok_per_s=140.0, model="tiny-llama", requests_ok=32, requests_failed=0
    )
    checks, result, code = judge(
        probe, bands=CPU_BANDS, samples=[], micro=cpu_micro(), inference=tiny
    )
    assert (result, code) == ("pass", 0)
    gpu_checks = ["gpu_count", "ecc_uncorrected", "pcie_link", "nvlink", "throttling", "gemm_bf16",
                  "memory_bandwidth", "h2d_bandwidth", "allreduce_busbw"]  # fmt: skip
    for name in gpu_checks:
        assert (checks[name].status, checks[name].required) == ("not_applicable", False), name
    assert checks["inference_functional"].status == "pass"
    assert checks["cpu_memory_bandwidth"].measured == pytest.approx(9.2)
    assert checks["cpu_memory_bandwidth"].status == "warn"  # cpu-local has no band for it
    text = summary_line(list(checks.values()), result)
    assert text.startswith("PASS: 1/1 required checks passed; ")
    assert "not applicable" in text


def test_cpu_sku_memory_band_applies_to_host_memory() -> None:
    bands = CPU_BANDS.model_copy(update={"memory_bandwidth_gbps_min": BandMin(value=15, basis="x")})
    checks, result, _ = judge(node_without_gpu("n/a", CPU), bands=bands, samples=[],
                              micro=cpu_micro(), inference=INFERENCE)  # fmt: skip
    assert checks["cpu_memory_bandwidth"].status == "fail" and result == "fail"


def test_gpu_sku_on_a_host_without_gpus_fails() -> None:
    probe = node_without_gpu("NVML library not found", CPU)
    checks, result, _ = judge(probe, samples=[], micro=cpu_micro())
    assert result == "fail"
    assert checks["gpu_count"].measured_text == "0 (no NVIDIA GPU (NVML library not found))"
    assert checks["ecc_uncorrected"].status == "not_applicable"
    assert checks["ecc_uncorrected"].required  # still blocks a pass
    assert checks["gemm_bf16"].status == "not_applicable" and checks["gemm_bf16"].required


def test_snapshot_note_marks_replayed_probes() -> None:
    bare = NvmlSnapshot(captured_monotonic_ns=0, gpus=[])
    assert node_from_snapshot(bare, CPU).source == "nvml"


def test_the_idle_reading_after_the_work_is_not_a_load_sample() -> None:
    idle_after = loaded(n=1)[0].model_copy(update={"phase": "final"})
    idle_gpus = [g.model_copy(update={"pcie_gen": 1}) for g in idle_after.gpus]
    checks, _, _ = judge(node(), samples=[idle_after.model_copy(update={"gpus": idle_gpus})])
    assert checks["pcie_link"].status == "pass"
    assert checks["pcie_link"].note == (
        "link state not observed during host copies; only the slot maximums judged"
    )


def test_concurrent_host_copies_below_band_only_warn() -> None:
    # 8 GPUs copying at once through shared PCIe switches: 30 GB/s each is below the 45 band
    shared = {("h2d_bandwidth", "concurrent", i): 30e9 for i in range(8)}
    checks, result, code = judge(node(), micro=micro(shared))
    h2d = checks["h2d_bandwidth:all_at_once"]
    assert (h2d.status, h2d.required, h2d.measured) == ("warn", False, pytest.approx(30))
    assert h2d.expected.endswith("reported, not gated (concurrent copies share PCIe switches)")
    assert (result, code) == ("pass", 0)
    assert checks["h2d_bandwidth"].status == "pass"  # each GPU alone still meets the band
