"""Reference bands for one SKU: what the verdict compares measurements with.

`Bands` is this package's own input record, so the verdict logic is testable with literal
bands; `bands_for_sku` fills it from the hardware profile's `acceptance` section
(`bench.hardware.load_profile(sku).acceptance`). Units follow the profile: TFLOP/s = 1e12
flop/s, GB/s = 1e9 byte/s, per GPU (all-reduce: bus bandwidth of the node).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from bench.records import Record

DEFAULT_OUTLIER_MARGIN = 0.10


class BandMin(Record):
    """A minimum acceptable value and how it was chosen."""

    value: float = Field(gt=0)
    basis: str


class Bands(Record):
    """Everything the verdict needs to know about the SKU.

    `expected_gpus` is 0 for a CPU SKU (every GPU check is then not applicable and not
    required). A missing band means that measurement is reported but not gated.
    `outlier_margin_fraction` X: a GPU more than X below its siblings' median is an outlier;
    the soak uses the same X for throughput stability.
    """

    sku: str
    kind: Literal["gpu", "cpu"]
    expected_gpus: int = Field(ge=0)
    gpu_name: str | None = Field(default=None, description="the SKU's marketing name")
    gemm_bf16_tflops_min: BandMin | None = None
    gemm_fp8_tflops_min: BandMin | None = None
    memory_bandwidth_gbps_min: BandMin | None = Field(
        default=None, description="GPU: device copy, read + written; CPU SKU: host memory copy"
    )
    h2d_gbps_min: BandMin | None = None
    allreduce_busbw_gbps_min: BandMin | None = None
    inference_output_tok_per_s_min: BandMin | None = None
    inference_model: str | None = None
    inference_workload: str | None = None
    outlier_margin_fraction: float = Field(default=DEFAULT_OUTLIER_MARGIN, gt=0, lt=1)
    outlier_basis: str = f"default: {DEFAULT_OUTLIER_MARGIN:.0%} below the siblings' median"
    source: str = Field(description="where the bands came from")


_BAND_FIELDS = (
    "gemm_bf16_tflops_min",
    "gemm_fp8_tflops_min",
    "memory_bandwidth_gbps_min",
    "h2d_gbps_min",
    "allreduce_busbw_gbps_min",
    "inference_output_tok_per_s_min",
)


def bands_for_sku(sku: str) -> Bands:
    """Load the SKU's hardware profile and turn its `acceptance` section into `Bands`.

    Raises:
        UserError: unknown SKU or invalid profile (from `bench.hardware.load_profile`).
    """
    from bench.hardware import load_profile

    return bands_from_profile(load_profile(sku), source=f"hardware/{sku}.yaml")


def bands_from_profile(profile: Any, *, source: str) -> Bands:
    """Map a `HardwareProfile` (kind, gpus_per_node, acceptance.*) onto `Bands` (pure)."""
    acceptance = profile.acceptance
    values: dict[str, Any] = {}
    for name in _BAND_FIELDS:
        band = getattr(acceptance, name, None) if acceptance is not None else None
        if band is not None:
            values[name] = BandMin(value=band.value, basis=band.basis)
    inference = getattr(acceptance, "inference_output_tok_per_s_min", None)
    if inference is not None:
        values["inference_model"] = inference.model
        values["inference_workload"] = inference.workload
    margin = getattr(acceptance, "outlier_margin_fraction", None)
    if margin is not None:
        values["outlier_margin_fraction"] = margin.value
        values["outlier_basis"] = margin.basis
    is_gpu = profile.kind == "gpu"
    return Bands(
        sku=profile.sku,
        kind=profile.kind,
        expected_gpus=profile.gpus_per_node if is_gpu else 0,
        gpu_name=profile.name if is_gpu else None,
        source=f"{source} acceptance" if acceptance is not None else f"{source} (no acceptance)",
        **values,
    )
