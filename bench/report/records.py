"""The Report: everything about one run, typed end to end, re-renderable from disk.

It sits above the config layer because it embeds the resolved `RunConfig` (the layer order
is in bench/records.py's docstring). `schema_version` is checked on every read
(bench.report.io): a newer report is refused, an older one migrated (bench.report.migrate).

Schema history:
    1  config and workload as untyped JSON objects; money in the report's currency
    2  config is the RunConfig, workload a WorkloadSection; money in USD (`*_usd*`), with
       the display currency and its FX rate in `cost.display`
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from bench.catalog import gpus_from_engine_args
from bench.config.run import RunConfig
from bench.energy.records import EnergySummary
from bench.records import CostBreakdown, Provenance, Record, RunStatus, RunSummary
from bench.workloads.records import WorkloadSection

REPORT_SCHEMA_VERSION = 2
"""The `schema_version` this code writes (the `Literal` on `Report.schema_version`)."""


class Report(Record):
    """The product: everything about one run, re-renderable from disk with no GPU."""

    schema_version: Literal[2] = 2
    kind: Literal["run"] = "run"
    run_id: str
    status: RunStatus
    failure: str | None = None
    created_utc: str
    finished_utc: str | None = None
    config: RunConfig
    provenance: Provenance
    summary: RunSummary | None
    cost: CostBreakdown | None = None
    cost_note: str | None = None
    energy: EnergySummary | None = None
    workload: WorkloadSection | None = None
    notes: list[str] = Field(
        default_factory=list,
        description="what a side channel (/metrics, /v1/models, meters) could not give",
    )

    def gpus_used(self) -> int:
        """GPUs the run used: its cost's count, else `config.gpus`, else the managed engine's
        parallel sizes (tensor × pipeline × data parallel from its extra args, 1 without).

        Raises:
            UserError: a parallel size in the engine's extra args is not a positive integer.
        """
        if self.cost is not None:
            return self.cost.gpus
        if self.config.gpus is not None:
            return self.config.gpus
        return gpus_from_engine_args(self.config.engine_extra_args)
