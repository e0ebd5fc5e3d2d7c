"""Performance checks: microbenchmarks vs bands, per-GPU outliers, inference and soak.

A band missing from the SKU's profile means the measurement is shown but not gated (`warn`,
not required). A measurement that errored is `error`, required whenever its band exists.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from bench.accept.bands import BandMin, Bands
from bench.accept.checklib import (
    fmt,
    gpu_list,
    not_applicable,
    outliers,
    same_model,
    sibling_ratios,
)
from bench.accept.micro_records import MicroMetric, MicroReport, MicroResult
from bench.accept.records import (
    Check,
    InferenceOutcome,
    NodeSample,
    Severity,
    SoakReport,
    Status,
)

SOAK_SETTLE_RISE_C = 3.0
"""Temperature has settled when the peak of the soak's last third is at most this many °C
above the peak of its middle third."""


@dataclass(frozen=True)
class Gauge:
    """How one microbenchmark metric is judged and shown."""

    band_field: str | None
    unit: str
    scale: float  # SI value / scale = display value
    severity: Severity
    gpu: bool  # a GPU metric (not applicable on a CPU SKU)


GAUGES: dict[MicroMetric, Gauge] = {
    "gemm_bf16": Gauge("gemm_bf16_tflops_min", "TFLOP/s", 1e12, "major", True),
    "gemm_fp8": Gauge("gemm_fp8_tflops_min", "TFLOP/s", 1e12, "major", True),
    "memory_bandwidth": Gauge("memory_bandwidth_gbps_min", "GB/s", 1e9, "major", True),
    "h2d_bandwidth": Gauge("h2d_gbps_min", "GB/s", 1e9, "major", True),
    "d2h_bandwidth": Gauge(None, "GB/s", 1e9, "minor", True),
    "allreduce_busbw": Gauge("allreduce_busbw_gbps_min", "GB/s", 1e9, "major", True),
    "cpu_gemm_fp32": Gauge(None, "GFLOP/s", 1e9, "minor", False),
    "cpu_memory_bandwidth": Gauge("memory_bandwidth_gbps_min", "GB/s", 1e9, "major", False),
}
# Concurrent host copies share PCIe switches and CPU root ports by design: reported, not gated.
_UNGATED_CONCURRENT = {"h2d_bandwidth", "d2h_bandwidth"}
_OUTLIER_METRICS: tuple[MicroMetric, ...] = (
    "gemm_bf16",
    "gemm_fp8",
    "memory_bandwidth",
    "h2d_bandwidth",
)


def micro_checks(micro: MicroReport | None, bands: Bands) -> list[Check]:
    """One check per (metric, scope): the worst GPU against the band."""
    gpu_sku = bands.expected_gpus > 0
    checks: list[Check] = []
    for metric, gauge in GAUGES.items():
        if gauge.gpu != gpu_sku:
            if gauge.gpu:  # GPU metric on a CPU SKU: shown as not applicable
                why = f"{bands.sku} is a CPU SKU"
                checks.append(not_applicable(metric, gauge.severity, required=False, why=why))
            continue
        band = getattr(bands, gauge.band_field) if gauge.band_field else None
        scopes = ["node"] if metric == "allreduce_busbw" else ["single", "concurrent"]
        for scope in scopes:
            name = metric if scope in ("single", "node") else f"{metric}:all_at_once"
            results = (
                [r for r in micro.results if r.metric == metric and r.scope == scope]
                if micro
                else []
            )
            gated = band is not None and not (
                scope == "concurrent" and metric in _UNGATED_CONCURRENT
            )
            if not results:
                if scope == "concurrent" and bands.expected_gpus <= 1:
                    continue  # one GPU: the single runs are the whole node
                why = _why_missing(micro, metric)
                checks.append(not_applicable(name, gauge.severity, required=gated, why=why))
                continue
            checks.append(_band_check(name, results, gauge, band, bands, gated=gated))
    return checks


def _band_check(
    name: str,
    results: list[MicroResult],
    gauge: Gauge,
    band: BandMin | None,
    bands: Bands,
    *,
    gated: bool,
) -> Check:
    """The worst result against the band. Not gated (no band, or concurrent host copies that
    share PCIe switches by design): shown, `warn` when below, never required."""
    errored = [r for r in results if r.error or r.value is None]
    if band is None:
        expected = f"no band in {bands.source}"
    else:
        expected = f"≥ {fmt(band.value)} {gauge.unit} per GPU ({band.basis})"
        if not gated:
            expected += "; reported, not gated (concurrent copies share PCIe switches)"
    if errored:
        return Check(
            name=name,
            target=gpu_list(r.gpu_index for r in errored if r.gpu_index is not None),
            required=gated,
            status="error",
            severity=gauge.severity,
            measured_text=f"error: {errored[0].error}",
            expected=expected,
            gpus=[r.gpu_index for r in errored if r.gpu_index is not None],
            action="rerun; if it fails again, run `dcgmi diag -r 2` on the GPU",
        )
    shown = {
        r.gpu_index if r.gpu_index is not None else -1: (r.value or 0) / gauge.scale
        for r in results
    }
    worst = min(shown, key=lambda i: shown[i])
    low = [i for i, v in shown.items() if band is not None and v < band.value and i >= 0]
    below = band is not None and shown[worst] < band.value
    failed = below and gated
    status: Status = "fail" if failed else ("warn" if below or band is None else "pass")
    where = f" (gpu{worst})" if worst >= 0 and len(shown) > 1 else ""
    return Check(
        name=name,
        target=results[0].device
        if worst < 0
        else ("all GPUs at once" if ":" in name else "each GPU"),
        required=gated,
        status=status,
        severity=gauge.severity,
        measured=shown[worst],
        unit=gauge.unit,
        measured_text=f"{'min ' if len(shown) > 1 else ''}{fmt(shown[worst])} {gauge.unit}{where}",
        expected=expected,
        expected_min=band.value if band else None,
        gpus=low,
        action=_perf_action(name) if failed else None,
        note=None if band else "measured but not gated: add the band to the SKU's acceptance",
    )


def outlier_checks(micro: MicroReport | None, bands: Bands) -> list[Check]:
    """Per metric and scope: GPUs more than X below the median of their siblings."""
    if bands.expected_gpus < 2 or micro is None or micro.backend != "cuda":
        return []
    checks = []
    for metric in _OUTLIER_METRICS:
        for scope in ("single", "concurrent"):
            values = {
                r.gpu_index: r.value
                for r in micro.results
                if r.metric == metric and r.scope == scope and r.value and r.gpu_index is not None
            }
            if len(values) >= 2:
                suffix = ":all_at_once" if scope == "concurrent" else ""
                checks.append(_outlier_check(f"outlier:{metric}{suffix}", values, bands))
    return checks


def _outlier_check(name: str, values: dict[int, float], bands: Bands) -> Check:
    margin = bands.outlier_margin_fraction
    ratios = sibling_ratios(values)
    bad = outliers(values, margin)
    worst = min(ratios, key=lambda i: ratios[i])
    return Check(
        name=name,
        target=gpu_list(bad) if bad else "each GPU",
        required=True,
        status="fail" if bad else "pass",
        severity="major",
        measured=ratios[worst],
        unit="× siblings' median",
        measured_text=", ".join(f"gpu{i}: {r:.2f}×" for i, r in sorted(bad.items()))
        or f"lowest: gpu{worst} at {ratios[worst]:.2f}×",
        expected=f"≥ {1 - margin:.2f}× the median of the other GPUs ({bands.outlier_basis})",
        expected_min=1 - margin,
        gpus=sorted(bad),
        action="compare that GPU's clocks, power and throttle reasons (`nvidia-smi -q -i <gpu>`); "
        "run `dcgmi diag -r 3 -i <gpu>`; reseat or replace"
        if bad
        else None,
    )


def inference_checks(outcome: InferenceOutcome | None, bands: Bands) -> list[Check]:
    """inference_functional: the engine served the model and produced tokens (always required);
    inference_throughput: output tok/s against the SKU's reference band."""
    if outcome is None:
        why = "no inference check was run"
        return [
            not_applicable("inference_functional", "critical", required=True, why=why),
            not_applicable(
                "inference_throughput",
                "major",
                required=bands.inference_output_tok_per_s_min is not None,
                why=why,
            ),
        ]
    rate = outcome.output_tok_per_s
    works = outcome.error is None and rate is not None and math.isfinite(rate) and rate > 0
    failed_requests = outcome.requests_failed or 0
    functional = Check(
        name="inference_functional",
        required=True,
        status="pass" if works and not failed_requests else ("error" if outcome.error else "fail"),
        severity="critical",
        measured=rate,
        unit="tok/s",
        measured_text=f"error: {outcome.error}"
        if outcome.error
        else f"{fmt(rate)} output tok/s, "
        f"{outcome.requests_ok} ok / {failed_requests} failed requests",
        expected="completes with output tokens and no failed request",
        action=None
        if works and not failed_requests
        else "read the run's server log; fix and rerun",
        note=f"model {outcome.model}, workload {outcome.workload}, run {outcome.run_dir}",
    )
    band = bands.inference_output_tok_per_s_min
    if band is None:
        throughput = Check(
            name="inference_throughput",
            required=False,
            status="warn" if works else "error",
            severity="major",
            measured=rate,
            unit="tok/s",
            measured_text=f"{fmt(rate)} output tok/s",
            expected=f"no inference band in {bands.source}",
            note="measured but not gated: add inference_output_tok_per_s_min to the SKU",
        )
        return [functional, throughput]
    mismatch = bool(
        bands.inference_model
        and outcome.model
        and not same_model(outcome.model, bands.inference_model)
    )
    ok = works and not mismatch and (rate or 0) >= band.value
    throughput = Check(
        name="inference_throughput",
        required=True,
        status="error" if mismatch or not works else ("pass" if ok else "fail"),
        severity="major",
        measured=rate,
        unit="tok/s",
        measured_text=f"{fmt(rate)} output tok/s",
        expected=f"≥ {fmt(band.value)} tok/s on {bands.inference_model} / "
        f"{bands.inference_workload} ({band.basis})",
        expected_min=band.value,
        action=None if ok else "compare GEMM/bandwidth checks and throttling; rerun the benchmark",
        note=f"ran model {outcome.model}, but the band is for {bands.inference_model}"
        if mismatch
        else None,
    )
    return [functional, throughput]


def soak_checks(soak: SoakReport | None, samples: list[NodeSample], bands: Bands) -> list[Check]:
    """Throughput stable over the soak; on GPUs, temperature settled by its end."""
    if soak is None:
        return [not_applicable("soak", "major", required=False, why="no soak requested")]
    margin = bands.outlier_margin_fraction
    rates = [r.output_tok_per_s for r in soak.runs]
    failed = [r for r in soak.runs if r.error or r.output_tok_per_s is None]
    checks: list[Check] = []
    if len(rates) < 2:
        why = f"only {len(rates)} inference run in {soak.duration_s:.0f} s; need ≥ 2 (longer soak)"
        checks.append(not_applicable("soak_throughput_stable", "major", required=True, why=why))
    else:
        good = [r for r in rates if r is not None]
        median = statistics.median(good) if good else 0.0
        low = min(good) / median if good and median > 0 else 0.0
        ok = not failed and low >= 1 - margin
        checks.append(
            Check(
                name="soak_throughput_stable",
                required=True,
                status="pass" if ok else "fail",
                severity="major",
                measured=low,
                unit="× median",
                measured_text=f"{len(failed)} failed runs"
                if failed
                else f"slowest run {low:.2f}× the median of {len(good)} runs",
                expected=f"every run ≥ {1 - margin:.2f}× the median, none failed",
                expected_min=1 - margin,
                action=None if ok else "look for throttling or errors at the time of the slow run",
            )
        )
    if bands.expected_gpus > 0:
        checks.append(_settled(samples))
    return checks


def _settled(samples: list[NodeSample]) -> Check:
    soak = [s for s in samples if s.phase == "soak"]
    if len(soak) < 3:
        why = f"{len(soak)} NVML samples during the soak; need ≥ 3"
        return not_applicable("soak_temperature_settled", "minor", required=False, why=why)
    third = len(soak) // 3
    middle, last = soak[third : 2 * third], soak[2 * third :]
    rise = {}
    for index in {g.index for s in soak for g in s.gpus}:
        mid_peak = _peak(middle, index)
        last_peak = _peak(last, index)
        if mid_peak is not None and last_peak is not None:
            rise[index] = last_peak - mid_peak
    if not rise:
        return not_applicable("soak_temperature_settled", "minor", required=False, why="no temps")
    rising = [i for i, r in rise.items() if r > SOAK_SETTLE_RISE_C]
    worst = max(rise, key=lambda i: rise[i])
    return Check(
        name="soak_temperature_settled",
        required=True,
        status="fail" if rising else "pass",
        severity="minor",
        measured=rise[worst],
        unit="°C",
        measured_text=f"gpu{worst} rose {rise[worst]:+.0f} °C over the last third",
        expected=f"peak rises ≤ {SOAK_SETTLE_RISE_C:.0f} °C from the middle to the last third",
        gpus=sorted(rising),
        action="soak longer; if it keeps rising, check cooling" if rising else None,
    )


def _peak(samples: list[NodeSample], index: int) -> float | None:
    temps = [g.temperature_c for s in samples for g in s.gpus if g.index == index]
    known = [t for t in temps if t is not None]
    return max(known) if known else None


def _why_missing(micro: MicroReport | None, metric: str) -> str:
    if micro is None:
        return "microbenchmarks were not run"
    if micro.backend == "cpu":
        return micro.skipped[0] if micro.skipped else "only the CPU microbenchmarks ran"
    reasons = [s for s in micro.skipped if s.startswith(metric)]
    return reasons[0] if reasons else f"not measured ({micro.backend} run)"


def _perf_action(name: str) -> str:
    if name.startswith("h2d"):
        return "check the PCIe link (pcie_link check), NUMA placement and IOMMU settings"
    if name.startswith("allreduce"):
        return "check NVLink / fabric manager; run nccl-tests all_reduce_perf to confirm"
    return "check throttling, power limit and clocks; run `dcgmi diag -r 3`"
