"""Records of an acceptance run: load samples, inference, soak, checks and the verdict.

`Verdict` is what `bench accept` writes to verdict.json; verdict.md is rendered from it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from bench.accept.bands import Bands
from bench.accept.micro_records import MicroReport
from bench.accept.probe import NodeProbe
from bench.nvml.snapshot import XidEvent
from bench.records import Record

VERDICT_SCHEMA_VERSION = 1

Status = Literal["pass", "fail", "warn", "not_applicable", "error"]
Severity = Literal["critical", "major", "minor"]
Overall = Literal["pass", "fail", "incomplete"]


class GpuSample(Record):
    """What one GPU looked like at one moment under load (a subset of `GpuProbe`)."""

    index: int
    temperature_c: float | None = None
    temperature_slowdown_c: float | None = None
    power_w: float | None = None
    clock_sm_hz: float | None = None
    pcie_gen: int | None = None
    pcie_width: int | None = None
    throttle_reasons: list[str] | None = None
    ecc_volatile_corrected: int | None = None
    ecc_volatile_uncorrected: int | None = None


class NodeSample(Record):
    """One NVML reading taken while something ran (`phase`), `elapsed_s` after the run began."""

    phase: Literal["micro", "soak", "final"]
    elapsed_s: float
    gpus: list[GpuSample]
    xid_events: list[XidEvent] = Field(default_factory=list)


class InferenceOutcome(Record):
    """What the injected inference check returned (or how it failed)."""

    output_tok_per_s: float | None
    model: str | None = None
    workload: str | None = None
    requests_ok: int | None = None
    requests_failed: int | None = None
    run_dir: str | None = None
    duration_s: float | None = None
    error: str | None = None


class SoakRun(Record):
    elapsed_s: float
    output_tok_per_s: float | None
    error: str | None = None


class SoakReport(Record):
    """Inference repeated for `requested_s`, with NVML samples between runs (`phase="soak"`)."""

    requested_s: float
    duration_s: float
    runs: list[SoakRun]


class Check(Record):
    """One line of the verdict: measured vs expected, status, severity and what to do.

    `required` checks decide the exit code; `warn` is only for checks that are not required
    (information worth reading). `gpus` lists the GPUs a failure or warning is about.
    """

    name: str
    target: str = "node"
    required: bool
    status: Status
    severity: Severity
    measured: float | None = None
    unit: str | None = None
    measured_text: str
    expected: str
    expected_min: float | None = None
    gpus: list[int] = Field(default_factory=list)
    action: str | None = None
    note: str | None = None

    @model_validator(mode="after")
    def _warn_not_required(self) -> Check:
        if self.required and self.status == "warn":
            raise ValueError(f"check {self.name}: a required check passes or fails, never warns")
        return self


class Verdict(Record):
    """The acceptance verdict of one node (verdict.json)."""

    schema_version: int = VERDICT_SCHEMA_VERSION
    kind: Literal["acceptance"] = "acceptance"
    sku: str
    host: str
    created_utc: str
    finished_utc: str
    overall: Overall
    exit_code: int = Field(description="0 pass, 1 fail, 3 incomplete (a required check n/a)")
    summary: str
    counts: dict[str, int]
    checks: list[Check]
    bands: Bands
    probe: NodeProbe
    samples: list[NodeSample] = Field(default_factory=list)
    micro: MicroReport | None = None
    inference: InferenceOutcome | None = None
    soak: SoakReport | None = None
    notes: list[str] = Field(default_factory=list)
