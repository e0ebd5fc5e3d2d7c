"""The seam between the suite and `bench run`: a workload reference in the run config,
the requests it builds, and the workload section of the report.

    RunConfig.workload = WorkloadRef(name="agent", scale=0.5)
      └─ requests_for_run(ref, tokenizer, ...) → (RequestSpecs, WorkloadInfo)
      └─ after the run: report_section(info, records, window, gpus) → Report.workload
"""

from __future__ import annotations

from typing import Any

from bench.records import RequestRecord, RequestSpec
from bench.workloads.records import WorkloadInfo, WorkloadSection
from bench.workloads.spec import WorkloadRef

__all__ = ["WorkloadRef", "report_section", "requests_for_run", "resolve_scale"]


def resolve_scale(ref: WorkloadRef, workload: Any, max_model_len: int | None) -> float:
    """The scale to build with: the given one, or `auto_scale` for "auto" (1 if unknown)."""
    from bench.workloads.build import auto_scale, check_scale

    if ref.scale == "auto":
        return auto_scale(workload, max_model_len) if max_model_len else 1.0
    return check_scale(float(ref.scale))


def requests_for_run(
    ref: WorkloadRef,
    tokenizer: Any,
    *,
    num_requests: int,
    warmup: int = 0,
    max_model_len: int | None = None,
) -> tuple[list[RequestSpec], WorkloadInfo]:
    """Build the run's requests (warm-up first) and what the report says about them."""
    from bench.workloads.build import build_requests, workload_info
    from bench.workloads.suite import get_workload

    workload = get_workload(ref.name, ref.suite_file)
    scale = resolve_scale(ref, workload, max_model_len)
    specs = build_requests(
        workload, tokenizer, num_requests=num_requests, seed=ref.seed, scale=scale, warmup=warmup
    )
    return specs, workload_info(ref.name, workload, specs, seed=ref.seed, scale=scale)


def report_section(
    info: WorkloadInfo,
    records: list[RequestRecord],
    window: tuple[int, int],
    gpus: int = 1,
) -> WorkloadSection:
    """`Report.workload`: what was asked (`info`) and what came of it (`outcome`).

    `window` is the throughput window (steady state, else whole run) in perf_counter ns.
    """
    from bench.workloads.accounting import workload_outcome

    outcome = workload_outcome(records, window[0], window[1], gpus)
    return WorkloadSection(info=info, outcome=outcome)
