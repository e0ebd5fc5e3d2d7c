"""What a fleet run is asked to do (config) and what it wrote (records).

Config (a person writes it, validated once): `RunJob` (a `bench run` per node, from a
fleet spec YAML) or `AcceptJob` (a `bench accept` per node), a discriminated union on
`kind`; `Selection` (which nodes); `SynthRehearsal` (run against the built-in synthetic
server on each node instead of a real engine: the plumbing of a fleet without GPUs, and
a rehearsal of the outlier rule through per-node timings).

Records (the fleet writes them): `NodeTask` (what one node is sent), `JobResult` (what
comes back, the run directory as a tar archive), `FleetNodeState` and `FleetManifest`
(`fleet.json`).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from bench.config.loading import StrictConfig
from bench.config.run import RunConfig
from bench.records import Record

MANIFEST_SCHEMA_VERSION = 1
NodeStatus = Literal["pending", "running", "done", "failed"]


class SynthTiming(StrictConfig):
    """Per-node override of the synthetic server's timing (unset fields keep the default)."""

    ttft_s: float | None = Field(default=None, ge=0, le=3600)
    itl_s: float | None = Field(default=None, ge=0, le=3600)
    tokens_per_chunk: int | None = Field(default=None, ge=1)


class SynthRehearsal(StrictConfig):
    """Benchmark the built-in synthetic server, started on each node, instead of an engine.

    `per_node` maps a node name to timing overrides (e.g. one slower node to check that
    the summary flags it).
    """

    ttft_s: float = Field(default=0.05, ge=0, le=3600)
    itl_s: float = Field(default=0.005, ge=0, le=3600)
    tokens_per_chunk: int = Field(default=1, ge=1)
    per_node: dict[str, SynthTiming] = Field(default_factory=dict)

    def for_node(self, name: str) -> SynthTiming:
        """The timing node `name` uses: defaults, with its overrides applied."""
        over = self.per_node.get(name) or SynthTiming()
        return SynthTiming(
            ttft_s=self.ttft_s if over.ttft_s is None else over.ttft_s,
            itl_s=self.itl_s if over.itl_s is None else over.itl_s,
            tokens_per_chunk=over.tokens_per_chunk or self.tokens_per_chunk,
        )


class RunJob(StrictConfig):
    """`bench fleet run`: the same benchmark on every selected node.

    `run.output_dir` is chosen per node by the fleet. `hardware_by_gpu_type` maps a node's
    GPU type (Ray's accelerator type, e.g. `H100`) to the SKU its run is costed and grouped
    as; other nodes use `run.hardware`.
    """

    kind: Literal["run"] = "run"
    run: RunConfig
    synth: SynthRehearsal | None = None
    hardware_by_gpu_type: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _synth_engine(self) -> RunJob:
        if self.synth is not None and self.run.engine.kind != "managed":
            raise ValueError("with `synth` the engine is the synthetic server: remove run.engine")
        return self


class AcceptJob(StrictConfig):
    """`bench fleet accept`: acceptance of every selected node as its SKU."""

    kind: Literal["accept"] = "accept"
    sku: str | None = Field(default=None, description="default SKU (else by GPU type)")
    hardware_by_gpu_type: dict[str, str] = Field(default_factory=dict)
    soak_s: float = Field(default=0.0, ge=0)
    micro: bool = True
    quick: bool = False
    inference: bool = True
    model: str | None = None
    synth: SynthRehearsal | None = None

    @model_validator(mode="after")
    def _some_sku(self) -> AcceptJob:
        if self.sku is None and not self.hardware_by_gpu_type:
            raise ValueError("give --sku, or --sku-for GPU_TYPE=SKU for each GPU type")
        return self


FleetJob = Annotated[RunJob | AcceptJob, Field(discriminator="kind")]


class Selection(StrictConfig):
    """Which nodes: every filter given must hold (AND). No filter: every alive node with a
    GPU (every alive node when the cluster has no GPU at all).

    `nodes`: names, node ids (or unique id prefixes of ≥ 6 hex digits) or IP addresses.
    `labels`: Ray node labels that must be equal. `resources`: custom resources the node
    must have (e.g. `gpu_group:rack7`). `gpu_type`: Ray's accelerator type (`H100`).
    """

    nodes: list[str] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)
    resources: list[str] = Field(default_factory=list)
    gpu_type: str | None = None

    @property
    def empty(self) -> bool:
        return not (self.nodes or self.labels or self.resources or self.gpu_type)


class NodeTask(Record):
    """What one node is sent: the job, resolved for that node."""

    name: str
    node_id: str
    sku: str
    job: FleetJob
    synth: SynthTiming | None = None


class JobResult(Record):
    """What a node's job sends back. `archive` is the job's output directory as a gzipped
    tar (shipped through Ray's object store); `failure` says why the job did not complete
    (the archive then holds whatever partial results there are)."""

    name: str
    node_id: str
    host: str
    tokenbench_version: str
    failure: str | None = None
    archive: bytes
    duration_s: float
    verdict: str | None = Field(default=None, description="acceptance: pass / fail / …")


class FleetNodeState(Record):
    """One node of a fleet run. `result_dir` is relative to the fleet directory."""

    name: str
    node_id: str
    address: str
    gpu_type: str | None = None
    gpus: float = 0.0
    sku: str
    status: NodeStatus = "pending"
    attempts: int = 0
    started_utc: str | None = None
    finished_utc: str | None = None
    duration_s: float | None = None
    result_dir: str | None = None
    run_ids: list[str] = Field(default_factory=list)
    verdict: str | None = None
    reason: str | None = None
    host: str | None = None
    tokenbench_version: str | None = None


class FleetManifest(Record):
    """A fleet run's plan and progress (`<fleet_dir>/fleet.json`, rewritten atomically)."""

    schema_version: int = MANIFEST_SCHEMA_VERSION
    kind: Literal["fleet"] = "fleet"
    fleet_id: str
    status: Literal["running", "complete", "incomplete"] = "running"
    created_utc: str
    updated_utc: str
    address: str
    job: FleetJob
    selection: Selection
    nodes: list[FleetNodeState]
    node_timeout_s: float | None = None
    runs: int = Field(default=1, description="how many times `run` / `--resume` ran it")

    def node(self, name: str) -> FleetNodeState | None:
        return next((n for n in self.nodes if n.name == name), None)
