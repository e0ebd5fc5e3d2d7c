"""Bounded projections: a SKU without runs, projected from the runs of a measured SKU.

Roofline rates per GPU (tensor parallelism divides the work and adds the capacity alike, so
they do not depend on the number of GPUs):

    prefill   Rpre = F × 1e12 / (2 × P)                  tok/s  F: dense TFLOPS of the run's
                                                                dtype, P: active parameters
    decode    Rdec = B × BW / (W + B × L × k)            tok/s  BW: memory bandwidth (B/s),
                                                                W: weight bytes, k: KV bytes
                                                                per token, B: decode batch,
                                                                L: mean context while decoding

A measured point of SKU A spends φ_pre = I / Rpre_A of its time prefilling at the roofline
and φ_dec = O / Rdec_A decoding (I, O: its input and output tok/s per GPU); η = φ_pre + φ_dec
is its roofline efficiency and 1 − η the rest (scheduling, attention, kernels below peak).
On SKU B, with c = F_B / F_A (compute) and r = BW_B / BW_A (bandwidth), throughput scales by

    high   s = 1 / (φ_pre/c + φ_dec/r + (1 − η) / max(c, r))   the rest scales with the
                                                                faster resource
    mid    s = η / (φ_pre/c + φ_dec/r)                          … like the useful work
    low    s = 1 / (φ_pre/c + φ_dec/r + (1 − η) / min(c, r))   … with the slower one

and TPOT and E2E by 1 / s, TTFT by 1 / min(s, c) (a prompt cannot prefill faster than B's
compute allows). By construction s·φ_pre/c ≤ 1 and s·φ_dec/r ≤ 1: no estimate exceeds B's
compute-bound prefill rate or its bandwidth-bound decode rate. The projection also checks
that the weights plus the KV cache of each point (concurrency × (input + output) tokens)
fit in 90 % of B's memory on the run's GPU count, and says how many GPUs it needs if not.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

from bench.catalog import ModelEntry
from bench.errors import UserError
from bench.hardware.schema import HardwareProfile
from bench.records import Distribution, Record
from bench.sweep.curve import CurvePoint

USABLE_MEMORY = 0.9
"""Share of device memory vLLM gives to weights and KV cache (its gpu_memory_utilization
default); activations and the CUDA context live in the rest."""

ComputeField = Literal["bf16_dense_tflops", "fp8_dense_tflops", "int8_dense_tops"]
_DTYPES: dict[str, tuple[float, ComputeField]] = {
    "bfloat16": (2.0, "bf16_dense_tflops"),
    "float16": (2.0, "bf16_dense_tflops"),
    "half": (2.0, "bf16_dense_tflops"),
    "fp8": (1.0, "fp8_dense_tflops"),
    "int8": (1.0, "int8_dense_tops"),
}
Estimate = Literal["low", "mid", "high"]
ESTIMATES: tuple[Estimate, ...] = ("low", "mid", "high")


class ModelFacts(Record):
    """What the roofline needs about the served model, and where each fact came from."""

    model: str
    active_params: float
    total_params: float
    dtype: str
    dtype_source: str
    weight_bytes_per_param: float
    kv_bytes_per_token: float | None
    compute_field: ComputeField

    @property
    def weight_bytes(self) -> float:
        return self.total_params * self.weight_bytes_per_param


class PointScale(Record):
    """One measured point's roofline shares on the reference SKU and its scale factors."""

    load: float
    decode_batch: float
    phi_prefill: float
    phi_decode: float
    efficiency: float
    low: float
    mid: float
    high: float
    kv_fits: bool
    note: str | None = None


class Projection(Record):
    """A projected SKU: ratios, fit, per-point scales and the three projected curves."""

    target_sku: str
    reference_sku: str
    facts: ModelFacts
    compute_ratio: float
    bandwidth_ratio: float
    gpus: int
    fits: bool
    gpus_needed: int | None
    points: list[PointScale]
    curves: dict[Estimate, list[CurvePoint]]
    notes: list[str]


def prefill_roofline(tflops: float, active_params: float) -> float:
    """Compute-bound prefill tok/s per GPU = TFLOPS × 1e12 / (2 × active parameters)."""
    return tflops * 1e12 / (2.0 * active_params)


def decode_roofline(
    bandwidth_gbps: float, weight_bytes: float, kv_bytes: float, batch: float, context: float
) -> float:
    """Bandwidth-bound decode tok/s per GPU = B × BW / (W + B × L × k) (see module doc)."""
    return batch * bandwidth_gbps * 1e9 / (weight_bytes + batch * context * kv_bytes)


def scales(phi_pre: float, phi_dec: float, c: float, r: float) -> tuple[float, float, float]:
    """(low, mid, high) throughput scale factors from A's roofline shares (module doc)."""
    useful = phi_pre / c + phi_dec / r
    rest = max(0.0, 1.0 - phi_pre - phi_dec)
    low = 1.0 / (useful + rest / min(c, r))
    high = 1.0 / (useful + rest / max(c, r))
    return low, (phi_pre + phi_dec) / useful, high


def gpus_needed(need_gb: float, memory_gb: float) -> int:
    """Smallest power of two of GPUs whose usable memory holds `need_gb`."""
    n = max(1, math.ceil(need_gb / (memory_gb * USABLE_MEMORY)))
    return 1 << (n - 1).bit_length()


def _flags(args: Sequence[str]) -> dict[str, str]:
    """`--flag value` and `--flag=value` pairs of a vLLM argument list."""
    out: dict[str, str] = {}
    items = list(args)
    for i, item in enumerate(items):
        flag, eq, value = item.partition("=")
        if not flag.startswith("--"):
            continue
        if eq:
            out[flag] = value
        elif i + 1 < len(items):
            out[flag] = items[i + 1]
    return out


def model_facts(entry: ModelEntry, extra_args: Sequence[str], ref: HardwareProfile) -> ModelFacts:
    """Roofline facts of a catalog model as served on `ref`: parameters, dtype, KV size.

    The dtype is the run's `--quantization`/`--dtype` argument, else the catalog's engine
    defaults for `ref`'s device class, else bfloat16 (vLLM's `auto` for these models).

    Raises:
        UserError: a dtype with no dense TFLOPS figure (float32, 4-bit formats).
    """
    given = _flags(extra_args)
    dtype, where = given.get("--quantization") or given.get("--dtype"), "the run's engine args"
    kv_dtype = given.get("--kv-cache-dtype")
    if dtype is None:
        try:
            _, defaults = entry.engine_for(ref.kind, ref.memory_gb.value)
            dtype, where = defaults.quantization or defaults.dtype, "models.yaml engine defaults"
            kv_dtype = kv_dtype or defaults.kv_cache_dtype
        except UserError:
            dtype = None
    if dtype in (None, "auto"):
        dtype, where = "bfloat16", "assumed: vLLM auto dtype of a BF16 checkpoint"
    assert dtype is not None
    if dtype not in _DTYPES:
        raise UserError(
            f"cannot project a {dtype} run: no dense TFLOPS figure for that dtype",
            field="--project",
            fix=f"project runs served in one of: {', '.join(_DTYPES)}",
        )
    bytes_per, field = _DTYPES[dtype]
    arch = entry.architecture
    kv = None
    if arch.layers and arch.kv_heads and arch.head_dim:
        kv_bytes = 1.0 if kv_dtype and kv_dtype.startswith("fp8") else 2.0
        kv = 2.0 * arch.layers * arch.kv_heads * arch.head_dim * kv_bytes  # K and V
    return ModelFacts(
        model=entry.id,
        active_params=arch.active_params_b * 1e9,
        total_params=arch.total_params_b * 1e9,
        dtype=dtype,
        dtype_source=where,
        weight_bytes_per_param=bytes_per,
        kv_bytes_per_token=kv,
        compute_field=field,
    )


def _compute(profile: HardwareProfile, field: ComputeField) -> float:
    figure = getattr(profile, field)
    if figure is None:
        raise UserError(
            f"{profile.sku} has no {field} figure, so the run's dtype cannot be projected on it",
            field=f"{profile.sku}.{field}",
            fix="project a SKU with that figure, or add it (sourced) to the profile",
        )
    return float(figure.value)


def _per_request(p: CurvePoint) -> tuple[float, float]:
    """Mean (input, output) tokens per request of a curve point."""
    if p.request_per_s <= 0:
        return 0.0, 0.0
    return (
        p.input_tok_per_s_per_gpu * p.gpus / p.request_per_s,
        p.output_tok_per_s_per_gpu * p.gpus / p.request_per_s,
    )


def _batch(p: CurvePoint) -> float:
    """Requests in flight: the concurrency, or rate × mean E2E (Little's law) for rates."""
    if p.load_kind == "concurrency":
        return p.load
    return max(1.0, p.request_per_s * (p.e2e_s.mean or 0.0))


def _scaled(d: Distribution, factor: float) -> Distribution:
    fields = ("mean", "min", "max", "p50", "p90", "p95", "p99")
    return d.model_copy(
        update={k: getattr(d, k) * factor for k in fields if getattr(d, k) is not None}
    )


def _project_point(p: CurvePoint, s: float, c: float) -> CurvePoint:
    return p.model_copy(
        update={
            "total_tok_per_s_per_gpu": p.total_tok_per_s_per_gpu * s,
            "input_tok_per_s_per_gpu": p.input_tok_per_s_per_gpu * s,
            "output_tok_per_s_per_gpu": p.output_tok_per_s_per_gpu * s,
            "request_per_s": p.request_per_s * s,
            "interactivity_tok_per_s": None
            if p.interactivity_tok_per_s is None
            else p.interactivity_tok_per_s * s,
            "tpot_s": _scaled(p.tpot_s, 1 / s),
            "e2e_s": _scaled(p.e2e_s, 1 / s),
            "ttft_s": _scaled(p.ttft_s, 1 / min(s, c)),
            "run_dir": None,
        }
    )


def project(
    points: Sequence[CurvePoint],
    facts: ModelFacts,
    ref: HardwareProfile,
    target: HardwareProfile,
) -> Projection:
    """Project `ref`'s measured curve onto `target` (module docstring), three estimates."""
    f_ref, f_tgt = _compute(ref, facts.compute_field), _compute(target, facts.compute_field)
    c = f_tgt / f_ref
    r = target.memory_bandwidth_gbps.value / ref.memory_bandwidth_gbps.value
    gpus = max((p.gpus for p in points), default=1)
    mem_gb = target.memory_gb.value * USABLE_MEMORY * gpus
    weights_gb = facts.weight_bytes / 1e9
    notes = [
        f"projected from {ref.sku}: compute ratio {c:.3g} ({facts.compute_field}, "
        f"{facts.dtype}: {facts.dtype_source}), bandwidth ratio {r:.3g}; roofline bounds, "
        "range low–high (docs/cost-model.md)"
    ]
    kv = facts.kv_bytes_per_token
    if kv is None:
        notes.append(f"KV cache size of {facts.model} unknown: decode roofline and fit use weights")
    need_all = weights_gb
    out_points: list[PointScale] = []
    curves: dict[Estimate, list[CurvePoint]] = {e: [] for e in ESTIMATES}
    for p in points:
        inp, out = _per_request(p)
        batch = _batch(p)
        kv_gb = batch * (inp + out) * (kv or 0.0) / 1e9
        need_all = max(need_all, weights_gb + kv_gb)
        fits = weights_gb + kv_gb <= mem_gb
        r_pre = prefill_roofline(f_ref, facts.active_params)
        r_dec = decode_roofline(
            ref.memory_bandwidth_gbps.value, facts.weight_bytes, kv or 0.0, batch, inp + out / 2
        )
        phi_pre = p.input_tok_per_s_per_gpu / r_pre
        phi_dec = p.output_tok_per_s_per_gpu / r_dec
        eta = phi_pre + phi_dec
        note = None
        if eta > 1:
            note = (
                f"load {p.load:g} measured above {ref.sku}'s roofline (η = {eta:.2f}): model "
                "facts or dtype do not describe this run; not projected"
            )
        elif not fits:
            note = (
                f"load {p.load:g}: weights {weights_gb:.1f} GB + KV {kv_gb:.1f} GB do not fit "
                f"in {mem_gb:.0f} GB usable on {gpus} × {target.sku}; not projected"
            )
        low, mid, high = scales(phi_pre, phi_dec, c, r) if eta <= 1 else (0.0, 0.0, 0.0)
        out_points.append(
            PointScale(load=p.load, decode_batch=batch, phi_prefill=phi_pre, phi_decode=phi_dec,
                       efficiency=eta, low=low, mid=mid, high=high, kv_fits=fits, note=note)
        )  # fmt: skip
        if note is None:
            for est, s in zip(ESTIMATES, (low, mid, high), strict=True):
                curves[est].append(_project_point(p, s, c))
        else:
            notes.append(note)
    weights_fit = weights_gb <= mem_gb
    needed = None if weights_fit else gpus_needed(need_all, target.memory_gb.value)
    if not weights_fit:
        notes.append(
            f"{facts.model} does not fit on {gpus} × {target.sku}: weights {weights_gb:.1f} GB "
            f"> {mem_gb:.0f} GB usable; needs at least "
            f"{gpus_needed(weights_gb, target.memory_gb.value)} GPUs for the weights and "
            f"{needed} (tensor parallel {needed}) for the KV cache of every measured load too"
        )
        curves = {e: [] for e in ESTIMATES}
    return Projection(
        target_sku=target.sku,
        reference_sku=ref.sku,
        facts=facts,
        compute_ratio=c,
        bandwidth_ratio=r,
        gpus=gpus,
        fits=weights_fit,
        gpus_needed=needed,
        points=out_points,
        curves=curves,
        notes=notes,
    )


def choose_reference(
    target: HardwareProfile, measured: Sequence[HardwareProfile], *, cross_vendor: bool
) -> tuple[HardwareProfile, str | None]:
    """The measured SKU to project from: same kind, same vendor unless `cross_vendor`,
    closest memory bandwidth. Returns it and a warning when it is another vendor's.

    Raises:
        UserError: no measured SKU of the target's kind, or only other vendors' without
            `cross_vendor`.
    """
    same_kind = [m for m in measured if m.kind == target.kind]
    if not same_kind:
        raise UserError(
            f"cannot project {target.sku}: no measured {target.kind} SKU to calibrate on",
            field="--project",
            fix="add runs of a SKU of the same kind",
        )
    same_vendor = [m for m in same_kind if m.vendor == target.vendor]
    if not same_vendor and not cross_vendor:
        vendors = ", ".join(sorted({m.vendor for m in same_kind}))
        raise UserError(
            f"cannot project {target.sku} ({target.vendor}) from {vendors} runs without asking",
            field="--project",
            fix="add runs of a "
            f"{target.vendor} SKU, or pass --cross-vendor to accept a projection across vendors",
        )
    pool = same_vendor or same_kind
    bw = target.memory_bandwidth_gbps.value
    ref = min(pool, key=lambda m: abs(m.memory_bandwidth_gbps.value - bw))
    warning = None
    if ref.vendor != target.vendor:
        warning = (
            f"{target.sku} projected across vendors ({ref.vendor} → {target.vendor}): another "
            "software stack, assumed to reach the same roofline efficiency; treat as indicative"
        )
    return ref, warning
