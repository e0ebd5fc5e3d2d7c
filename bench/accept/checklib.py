"""Small pure helpers shared by the health and performance checks."""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterable

from bench.accept.records import Check, Severity


def not_applicable(
    name: str, severity: Severity, *, required: bool, why: str, expected: str = "-"
) -> Check:
    """A check that could not be judged here; never a pass (`required` keeps it blocking)."""
    return Check(
        name=name,
        required=required,
        status="not_applicable",
        severity=severity,
        measured_text=why,
        expected=expected,
    )


def gpu_list(indices: Iterable[int]) -> str:
    """[0, 3] → "gpu0,gpu3"; [] → "all GPUs"."""
    items = sorted(set(indices))
    return ",".join(f"gpu{i}" for i in items) if items else "all GPUs"


def sibling_ratios(values: dict[int, float]) -> dict[int, float]:
    """Each GPU's value divided by the median of the *other* GPUs' values.

    Example: {0: 100, 1: 100, 2: 100, 3: 85} → gpu3: 85 / median(100, 100, 100) = 0.85;
    gpu0: 100 / median(100, 100, 85) = 1.0. Needs at least 2 GPUs (else {}).
    """
    if len(values) < 2:
        return {}
    ratios = {}
    for index, value in values.items():
        siblings = [v for i, v in values.items() if i != index]
        median = statistics.median(siblings)
        ratios[index] = value / median if median > 0 else float("inf")
    return ratios


def outliers(values: dict[int, float], margin_fraction: float) -> dict[int, float]:
    """GPUs more than `margin_fraction` below their siblings' median: {gpu: ratio}.

    A GPU is an outlier when value < (1 − margin) × median(siblings), i.e. ratio < 1 − margin.
    Example: margin 0.10, {0: 100, 1: 100, 2: 100, 3: 85} → {3: 0.85}.
    """
    return {i: r for i, r in sibling_ratios(values).items() if r < 1.0 - margin_fraction}


def fmt(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def same_model(ran: str, band_model: str) -> bool:
    """True when the model that ran is the one a band names, comparing letters and digits:
    "llama-3.1-8b" matches "Llama 3.1 8B (FP8, TP1)"; "tiny-llama" does not."""
    a, b = squash(ran), squash(band_model)
    return bool(a) and bool(b) and (a in b or b in a)


def squash(text: str) -> str:
    """Lower-case letters and digits only: "Llama 3.1 8B" → "llama318b"."""
    return re.sub(r"[^a-z0-9]", "", text.lower())
