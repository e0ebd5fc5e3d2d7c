"""Builders of small, valid run records for the cost tests (not a test module itself).

`make_summary` gives a `RunSummary` whose steady-state throughput is exactly what the test
says; `make_report` wraps it in a valid `Report`. Latency distributions are filled from a
TPOT and a TTFT so quote tests can place points on an interactivity curve.
"""

from __future__ import annotations

from typing import Any

from bench.records import Distribution, Provenance, Report, RunSummary, Throughput


def dist(value: float, count: int = 10, spread: float = 0.0) -> Distribution:
    """A distribution centred on `value`; p90/p99 are `value × (1 + spread)`."""
    hi = value * (1 + spread)
    return Distribution(
        count=count, mean=value, min=value, max=hi, p50=value, p90=hi, p95=hi, p99=hi
    )


def make_summary(
    *,
    input_tok_per_s: float,
    output_tok_per_s: float,
    request_per_s: float,
    duration_s: float = 100.0,
    tpot_s: float = 0.05,
    ttft_s: float = 0.2,
    requests: int = 100,
    steady: bool = True,
) -> RunSummary:
    window = Throughput(
        label="steady_state" if steady else "whole_run",
        start_ns=0,
        end_ns=int(duration_s * 1e9),
        duration_s=duration_s,
        requests_completed=int(request_per_s * duration_s),
        input_tokens=input_tok_per_s * duration_s,
        output_tokens=output_tok_per_s * duration_s,
        request_per_s=request_per_s,
        input_tok_per_s=input_tok_per_s,
        output_tok_per_s=output_tok_per_s,
        total_tok_per_s=input_tok_per_s + output_tok_per_s,
    )
    whole = window.model_copy(update={"label": "whole_run"})
    in_per_req = input_tok_per_s / request_per_s
    out_per_req = output_tok_per_s / request_per_s
    return RunSummary(
        requests_total=requests,
        requests_ok=requests,
        requests_failed=0,
        ttft_s=dist(ttft_s, requests, 0.5),
        tpot_s=dist(tpot_s, requests, 0.2),
        itl_s=dist(tpot_s, requests, 0.2),
        e2e_s=dist(ttft_s + tpot_s * (out_per_req - 1), requests, 0.2),
        interactivity_tok_per_s=dist(1.0 / tpot_s, requests),
        tokens_per_chunk=dist(1.0, requests),
        input_tokens=dist(in_per_req, requests),
        output_tokens=dist(out_per_req, requests),
        steady_state=window if steady else None,
        whole_run=whole,
    )


def make_report(
    summary: RunSummary,
    *,
    run_id: str,
    config: dict[str, Any],
    gpus: list[str] | None = None,
    cost: Any = None,
) -> Report:
    return Report(
        run_id=run_id,
        status="complete",
        created_utc="2026-11-28T06:00:00Z",
        finished_utc="2026-11-28T06:05:00Z",
        config=config,
        provenance=Provenance(
            tokenbench_version="0.1.0",
            host="fixture",
            platform="synthetic fixture (tests/unit/cost_testkit.py)",
            python="3.11",
            gpus=gpus or [],
        ),
        summary=summary,
        cost=cost,
    )
