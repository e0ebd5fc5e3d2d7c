"""Additive token prices: GPU-seconds per input, output and cached-input token, fitted on runs.

Each run gives one sample: GPU-seconds per request = GPUs / request rate over the throughput
window, against the mean uncached input, cached input and output tokens per request. A
non-negative least-squares fit, relative (each run weighs the same), gives

    gpu_s ≈ a·input + b·output + c·cached            (a, b, c ≥ 0, GPU-seconds per token)

and prices p_k = coefficient_k × effective cost per GPU-second × 1e6 per million tokens, so
that in·p_in + out·p_out + cached·p_cached reproduces a run's measured cost. Charging the
whole GPU-hour to input and again to output is the mistake this avoids. The fit needs runs
whose input/output ratios differ (a prefill-heavy and a decode-heavy probe at least) at the
same load; its error and a held-out run's error are reported.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np

from bench.errors import UserError
from bench.records import Record, RequestRecord
from bench.report.records import Report


class FitSample(Record):
    """One run reduced to GPU-seconds per request and mean tokens per request (window)."""

    run_id: str
    gpus: int
    gpu_s_per_request: float
    input_tokens: float
    cached_input_tokens: float
    output_tokens: float


class FitResidual(Record):
    run_id: str
    measured_gpu_s: float
    predicted_gpu_s: float
    rel_error: float


class AdditiveFit(Record):
    """GPU-seconds per token of each kind, with the fit's per-run errors.

    `gpu_s_per_cached_input_token` is None when no run had cached input tokens (not
    identifiable, so not priced).
    """

    gpu_s_per_input_token: float
    gpu_s_per_output_token: float
    gpu_s_per_cached_input_token: float | None
    residuals: list[FitResidual]
    rms_rel_error: float
    max_abs_rel_error: float


class AdditivePrices(Record):
    """Prices per million tokens (USD) that add up to the measured cost."""

    effective_gpu_hour_cost_usd: float
    usd_per_m_input: float
    usd_per_m_output: float
    usd_per_m_cached_input: float | None
    note: str


class HoldoutCheck(Record):
    """A run left out of the fit: its measured cost per request against the additive one."""

    run_id: str
    measured_cost_usd_per_request: float
    additive_cost_usd_per_request: float
    rel_error: float


def cached_fraction(requests: Sequence[RequestRecord]) -> float:
    """Share of input tokens served from the prefix cache over ok, non-warm-up requests."""
    ok = [r for r in requests if r.status == "ok" and not r.warmup and r.input_tokens]
    total = sum(r.input_tokens or 0 for r in ok)
    cached = sum(r.cached_input_tokens or 0 for r in ok)
    return cached / total if total else 0.0


def sample_from_run(
    report: Report, requests: Sequence[RequestRecord] | None, *, gpus: int
) -> FitSample:
    """Reduce a stored run to a fit sample.

    gpu_s_per_request = gpus / request_per_s; tokens per request = window token rate /
    request rate; the cached share of input comes from requests.jsonl when given.

    Raises:
        UserError: the run has no summary or completed no requests in its window.
    """
    summary = report.summary
    window = None if summary is None else (summary.steady_state or summary.whole_run)
    if window is None or window.request_per_s <= 0:
        raise UserError(
            f"run {report.run_id} has no completed requests to fit",
            field="summary",
            fix="leave this run out of the fit or rerun it",
        )
    inputs = window.input_tok_per_s / window.request_per_s
    cached = inputs * cached_fraction(requests) if requests else 0.0
    return FitSample(
        run_id=report.run_id,
        gpus=gpus,
        gpu_s_per_request=gpus / window.request_per_s,
        input_tokens=inputs - cached,
        cached_input_tokens=cached,
        output_tokens=window.output_tok_per_s / window.request_per_s,
    )


def nnls_small(a: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Non-negative least squares min ‖a·x − y‖², x ≥ 0, for a few columns (≤ 4).

    Exact by enumeration: the optimum is the unconstrained least-squares solution on some
    subset of columns (the others 0); the best feasible subset wins.
    """
    n = a.shape[1]
    best = np.zeros(n)
    best_cost = float(np.sum(y**2))
    for size in range(1, n + 1):
        for cols in itertools.combinations(range(n), size):
            sub = a[:, cols]
            x_sub, *_ = np.linalg.lstsq(sub, y, rcond=None)
            if np.any(x_sub < 0):
                continue
            cost = float(np.sum((sub @ x_sub - y) ** 2))
            if cost < best_cost - 1e-15:
                best = np.zeros(n)
                best[list(cols)] = x_sub
                best_cost = cost
    return best


def fit_additive(samples: Sequence[FitSample]) -> AdditiveFit:
    """Fit GPU-seconds per request against input, output and cached tokens (relative NNLS).

    Rows are divided by the measured GPU-seconds so each run's relative error counts the
    same. The cached column is fitted only when some run has cached tokens.

    Raises:
        UserError: fewer than 2 runs, or the runs do not vary the input/output ratio (the
            split between input and output cannot be identified).
    """
    if len(samples) < 2:
        raise UserError(
            f"the additive fit needs at least 2 runs, got {len(samples)}",
            field="--probe",
            fix="give a prefill-heavy and a decode-heavy run (e.g. 2048/16 and 64/512 tokens)",
        )
    has_cached = any(s.cached_input_tokens > 0 for s in samples)
    cols = [[s.input_tokens, s.output_tokens] for s in samples]
    if has_cached:
        cols = [c + [s.cached_input_tokens] for c, s in zip(cols, samples, strict=True)]
    a = np.array(cols, dtype=float)
    y = np.array([s.gpu_s_per_request for s in samples], dtype=float)
    if np.linalg.matrix_rank(a / np.linalg.norm(a, axis=0, keepdims=True), tol=1e-6) < a.shape[1]:
        raise UserError(
            "the runs do not vary the token mix enough to tell input from output cost",
            field="--probe",
            fix="add runs with different input/output ratios (prefill-heavy, decode-heavy"
            + (", prefix-cached" if has_cached else "")
            + ")",
        )
    coef = nnls_small(a / y[:, None], np.ones_like(y))
    predicted = a @ coef
    rel = (predicted - y) / y
    residuals = [
        FitResidual(
            run_id=s.run_id, measured_gpu_s=float(m), predicted_gpu_s=float(p), rel_error=float(r)
        )
        for s, m, p, r in zip(samples, y, predicted, rel, strict=True)
    ]
    return AdditiveFit(
        gpu_s_per_input_token=float(coef[0]),
        gpu_s_per_output_token=float(coef[1]),
        gpu_s_per_cached_input_token=float(coef[2]) if has_cached else None,
        residuals=residuals,
        rms_rel_error=float(math.sqrt(np.mean(rel**2))),
        max_abs_rel_error=float(np.max(np.abs(rel))),
    )


def prices_from_fit(
    fit: AdditiveFit, effective_gpu_hour_cost_usd: float, scale: float = 1.0
) -> AdditivePrices:
    """p_k per M tokens = GPU-s per token_k × scale × effective cost per GPU-hour / 3600 × 1e6.

    `scale` re-levels the fit to another operating point (see `scale_to_point`); 1 keeps the
    fit's own load.
    """
    per_gpu_s = effective_gpu_hour_cost_usd / 3600.0 * scale * 1e6
    cached = fit.gpu_s_per_cached_input_token
    return AdditivePrices(
        effective_gpu_hour_cost_usd=effective_gpu_hour_cost_usd,
        usd_per_m_input=fit.gpu_s_per_input_token * per_gpu_s,
        usd_per_m_output=fit.gpu_s_per_output_token * per_gpu_s,
        usd_per_m_cached_input=None if cached is None else cached * per_gpu_s,
        note=f"additive split from a fit over {len(fit.residuals)} runs "
        f"(rms error {fit.rms_rel_error:.1%})" + ("" if scale == 1.0 else f", scaled ×{scale:.3f}"),
    )


def scale_to_point(
    fit: AdditiveFit, input_tok_per_s: float, output_tok_per_s: float, cached_tok_per_s: float = 0
) -> float:
    """Factor that makes the fit's prices add up to the cost at another operating point.

    At the point one GPU-second processes the given token rates (per GPU); the fit predicts
    a·in + b·out + c·cached GPU-seconds for them, so scale = 1 / that. The input/output
    ratio of prices stays the fit's; their level becomes the operating point's.
    """
    c = fit.gpu_s_per_cached_input_token or 0.0
    predicted = (
        fit.gpu_s_per_input_token * input_tok_per_s
        + fit.gpu_s_per_output_token * output_tok_per_s
        + c * cached_tok_per_s
    )
    if predicted <= 0:
        raise UserError("the fit predicts no GPU time at this operating point", field="--probe")
    return 1.0 / predicted


def check_holdout(prices: AdditivePrices, sample: FitSample) -> HoldoutCheck:
    """Compare a held-out run's measured cost per request with the additive prices' sum.

    measured = effective cost per GPU-hour × gpu_s_per_request / 3600;
    additive = (in·p_in + out·p_out + cached·p_cached) / 1e6.
    """
    measured = prices.effective_gpu_hour_cost_usd * sample.gpu_s_per_request / 3600.0
    cached_price = prices.usd_per_m_cached_input
    if cached_price is None:  # not identifiable: cached tokens priced as uncached input
        cached_price = prices.usd_per_m_input
    additive = (
        sample.input_tokens * prices.usd_per_m_input
        + sample.output_tokens * prices.usd_per_m_output
        + sample.cached_input_tokens * cached_price
    ) / 1e6
    return HoldoutCheck(
        run_id=sample.run_id,
        measured_cost_usd_per_request=measured,
        additive_cost_usd_per_request=additive,
        rel_error=(additive - measured) / measured,
    )


def vision_tokens(requests: Sequence[RequestRecord]) -> tuple[float | None, float | None]:
    """Mean vision tokens per image and per video-second, from requests with one media kind.

    Vision tokens = input_tokens − text_input_tokens. Requests mixing images and video are
    skipped (their tokens cannot be split). None where no such request exists.
    """
    per_image: list[tuple[float, float]] = []
    per_video: list[tuple[float, float]] = []
    for r in requests:
        if r.status != "ok" or r.warmup or r.input_tokens is None or r.text_input_tokens is None:
            continue
        vision = r.input_tokens - r.text_input_tokens
        if r.images and not r.video_s:
            per_image.append((vision, r.images))
        elif r.video_s and not r.images:
            per_video.append((vision, r.video_s))

    def ratio(pairs: list[tuple[float, float]]) -> float | None:
        return sum(v for v, _ in pairs) / sum(n for _, n in pairs) if pairs else None

    return ratio(per_image), ratio(per_video)
