"""What a person asks `bench run` to do: model, workload shape, load, SLO, engine, output.

Variants (load pattern, engine) are discriminated unions on `kind`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import Discriminator, Field, Tag, field_validator, model_validator

from bench.config.loading import StrictConfig
from bench.energy.config import EnergyConfig
from bench.records import SLO
from bench.workloads.spec import WorkloadRef

MAX_TOKENS_PER_REQUEST = 10 * 2**20  # 10 Mi tokens: beyond any model's context today
MAX_REQUESTS = 10_000_000
MAX_SECONDS = 30 * 24 * 3600  # a run, or one request, of 30 days
MAX_IN_FLIGHT = 1_000_000


LoadKind = Literal["concurrency", "rate"]


class ConcurrencyLoad(StrictConfig):
    """Closed loop: keep `concurrency` requests in flight."""

    kind: Literal["concurrency"] = "concurrency"
    concurrency: int = Field(ge=1, le=MAX_IN_FLIGHT)

    @property
    def level(self) -> float:
        """The load level: C requests in flight."""
        return float(self.concurrency)


class RateLoad(StrictConfig):
    """Open loop: requests arrive at `rate_per_s` regardless of completions.

    `arrival`: poisson (exponential gaps), gamma (burstiness < 1 is burstier than Poisson,
    = 1 is Poisson), constant (fixed gap). `max_concurrency` caps in-flight requests.
    """

    kind: Literal["rate"] = "rate"
    rate_per_s: float = Field(gt=0, le=1e6)
    arrival: Literal["poisson", "gamma", "constant"] = "poisson"
    burstiness: float = Field(default=1.0, gt=0)
    max_concurrency: int | None = Field(default=None, ge=1, le=MAX_IN_FLIGHT)

    @property
    def level(self) -> float:
        """The load level: requests per second."""
        return self.rate_per_s


Load = Annotated[ConcurrencyLoad | RateLoad, Field(discriminator="kind")]


class ManagedEngine(StrictConfig):
    """tokenbench starts `vllm serve` itself on 127.0.0.1 and tears it down after.

    Every engine kind says whether it `runs_here` (needs vLLM installed, is what this host's
    meters measure) and whether it `streams` (answers over HTTP, token by token); the
    implementation of each kind is found through `bench.engines.ENGINES`.
    """

    runs_here: ClassVar[bool] = True
    streams: ClassVar[bool] = True
    kind: Literal["managed"] = "managed"
    host: str = "127.0.0.1"
    port: int | None = Field(default=None, ge=1, le=65535)
    startup_timeout_s: float = Field(default=600.0, gt=0)
    extra_args: list[str] = Field(default_factory=list)
    placement: Literal["auto", "off"] = Field(
        default="auto",
        description="auto: on a CPU engine without CPUs to spare, the server shares the "
        "client's scheduler group at a lower priority (bench.engines.placement); off: as is",
    )
    server_nice: int = Field(default=10, ge=0, le=19, description="nice of the server when placed")


class EndpointEngine(StrictConfig):
    """Any OpenAI-compatible server, by URL. The API key comes from `api_key_env`."""

    runs_here: ClassVar[bool] = False
    streams: ClassVar[bool] = True
    kind: Literal["endpoint"] = "endpoint"
    url: str
    api_key_env: str | None = None
    served_model: str | None = None

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        """An http(s) URL with a host (and a valid port, if one is given)."""
        parts = urlsplit(url)
        try:
            port_ok = parts.port is None or parts.port > 0
        except ValueError:
            port_ok = False
        if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
            raise ValueError(
                f"not an http(s) URL of a server: {url!r} (e.g. http://127.0.0.1:8000)"
            )
        return url


class OfflineEngine(StrictConfig):
    """In-process `vllm.LLM` for offline maximum throughput (no per-token latency)."""

    runs_here: ClassVar[bool] = True
    streams: ClassVar[bool] = False
    kind: Literal["offline"] = "offline"


Engine = Annotated[ManagedEngine | EndpointEngine | OfflineEngine, Field(discriminator="kind")]


class ShapeWorkload(StrictConfig):
    """Synthetic token-exact prompts of `input_tokens` with `output_tokens` forced by ignore_eos.

    `range_ratio` r draws each length uniformly from [L·(1−r), L·(1+r)] (0 = fixed).
    """

    kind: Literal["shape"] = "shape"
    input_tokens: int = Field(ge=1, le=MAX_TOKENS_PER_REQUEST)
    output_tokens: int = Field(ge=1, le=MAX_TOKENS_PER_REQUEST)
    range_ratio: float = Field(default=0.0, ge=0, lt=1)
    api: Literal["completions", "chat"] = "completions"
    seed: int = Field(default=0, ge=0, le=2**32 - 1, description="numpy seeds are 0 … 2³²−1")


def _workload_kind(value: object) -> str:
    """`kind` of a workload; a workload without one is a shape (input/output lengths)."""
    if isinstance(value, dict):
        return str(value.get("kind", "shape"))
    return str(getattr(value, "kind", "shape"))


Workload = Annotated[
    Annotated[ShapeWorkload, Tag("shape")] | Annotated[WorkloadRef, Tag("suite")],
    Discriminator(_workload_kind),
]


class ValidityRules(StrictConfig):
    """When a run is long enough to trust (in the spirit of MLPerf's minimum duration).

    A run is "too short to trust" when its steady-state window is shorter than
    `min_window_s` or completes fewer than `min_window_requests` requests (default
    max(50, 4 × concurrency); for an open loop 4 × its in-flight cap, else 50). Why these:
    10 s holds hundreds of engine steps and several scrapes of the server's counters, so
    throughput settles and the server-counter check means something; 50 requests put the
    p50 on a rank interval of about ±7 requests; 4 × concurrency lets every slot turn over
    several times, so the window is not one lock-step batch that started together.
    """

    min_window_s: float = Field(default=10.0, ge=0)
    min_window_requests: int | None = Field(default=None, ge=0)

    def min_requests(self, load: ConcurrencyLoad | RateLoad) -> tuple[int, str]:
        """(the minimum of completed requests, the rule that gave it, in words)."""
        if self.min_window_requests is not None:
            return self.min_window_requests, "configured"
        if isinstance(load, ConcurrencyLoad):
            value = max(50, 4 * load.concurrency)
            return value, f"max(50, 4 × concurrency {load.concurrency})"
        if load.max_concurrency is not None:
            value = max(50, 4 * load.max_concurrency)
            return value, f"max(50, 4 × in-flight cap {load.max_concurrency})"
        return 50, "50 (open loop without an in-flight cap)"


class RunConfig(StrictConfig):
    """The fully resolved request for one benchmark run; stored verbatim in report.json."""

    model: str
    workload: Workload
    load: Load
    engine: Engine = Field(default_factory=ManagedEngine)
    num_requests: int | None = Field(default=None, ge=1, le=MAX_REQUESTS)
    duration_s: float | None = Field(default=None, gt=0, le=MAX_SECONDS)
    warmup_requests: int = Field(default=0, ge=0, le=MAX_REQUESTS)
    workers: int = Field(default=1, ge=1, description="client processes (bench.loadgen.workers)")
    request_timeout_s: float = Field(default=600.0, gt=0, le=MAX_SECONDS)
    slo: SLO | None = None
    hardware: str = "cpu-local"
    gpus: int | None = Field(default=None, ge=1)
    output_dir: Path
    scrape_server_metrics: bool = True
    scrape_period_s: float | None = Field(
        default=None,
        gt=0,
        le=10,
        description="server /metrics scrape period; None: from the run's duration "
        "(bench.engines.prometheus.scrape_period_s)",
    )
    validity: ValidityRules = Field(default_factory=ValidityRules)
    energy: EnergyConfig = Field(default_factory=EnergyConfig)
    tokenizer: Path | None = Field(
        default=None,
        description="endpoint runs: a local folder of tokenizer files to build the prompts "
        "with (the served model's own tokenizer); default: the catalog model's",
    )

    @property
    def engine_extra_args(self) -> list[str]:
        """The extra `vllm serve` arguments of a managed engine ([] for any other engine)."""
        return list(self.engine.extra_args) if isinstance(self.engine, ManagedEngine) else []

    @model_validator(mode="after")
    def _bounded(self) -> RunConfig:
        if self.num_requests is None and self.duration_s is None:
            raise ValueError("give num_requests and/or duration_s so the run is bounded")
        return self
