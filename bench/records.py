"""Records the machine writes: one per request, one summary per run, the cost of a run.

Units are in field names and stored in SI (seconds, joules, watts); money is stored in USD
(`*_usd*` names, `USD/...` units) and converted to a display currency only when rendering
(`DisplayCurrency`). Durations come from `time.perf_counter_ns()` (CLOCK_MONOTONIC on
Linux, shared by all processes of a host); wall-clock time only appears as labels (`*_utc`).

Layer order of the record and config modules (each imports only from those before it):

    bench.records            base result records (this module): requests, summaries, cost
    bench.energy.records     energy trace and summary (the Record base from here)
    bench.config             what a person writes (RunConfig; uses SLO from here)
    bench.workloads.records  what the report says about a suite workload (embeds its spec)
    bench.report.records     the Report: embeds the resolved RunConfig and all of the above
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue


class Record(BaseModel):
    """Base for machine-written results: strict and immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


RequestStatus = Literal["ok", "error", "timeout", "cancelled"]


class RequestSpec(Record):
    """One request a workload wants sent.

    `body` is the OpenAI-compatible JSON body minus the model/stream fields, sent as it is:
    a wire payload whose shape is the server API's (prompt or chat messages with text,
    image and video parts, sampling fields), typed as JSON rather than re-modelled here.
    """

    request_id: str
    api: Literal["completions", "chat"] = "completions"
    body: dict[str, JsonValue]
    requested_input_tokens: int | None = None
    requested_output_tokens: int
    warmup: bool = False
    session_id: str | None = None
    turn: int | None = None
    images: int = 0
    video_s: float = 0.0
    text_input_tokens: int | None = Field(
        default=None, description="tokens of the prompt's text alone (vision tokens = input - text)"
    )


class RequestRecord(Record):
    """What happened to one request, written to requests.jsonl as soon as it completes.

    All `*_ns` fields are `perf_counter_ns()` readings of the client host.
    `output_tokens` / `input_tokens` are the server's `usage` counts (the authority) when
    `usage_source` is "server"; "client" when the server sent no usage (a stream ended by
    `[DONE]` alone) and the client counted them itself; None when nothing was counted.
    `client_output_tokens` is the client's own count, kept beside them.
    """

    request_id: str
    index: int
    warmup: bool = False
    worker: int = 0
    status: RequestStatus
    error_class: str | None = None
    error_message: str | None = None
    http_status: int | None = None
    scheduled_ns: int | None = None
    sent_ns: int
    first_chunk_ns: int | None = None
    last_chunk_ns: int | None = None
    done_ns: int
    chunk_ns: list[int] = Field(default_factory=list)
    chunk_tokens: list[int] = Field(default_factory=list)
    content_reads: int | None = Field(
        default=None,
        description="network reads that carried content (chunks sharing a read share its "
        "time stamp); None when not recorded (offline runs, older records)",
    )
    max_tokens_per_read: int | None = Field(
        default=None, description="the most output tokens that arrived in one network read"
    )
    input_tokens: int | None = None
    output_tokens: int | None = None
    cached_input_tokens: int | None = None
    client_output_tokens: int | None = None
    usage_source: Literal["server", "client"] | None = None
    requested_input_tokens: int | None = None
    requested_output_tokens: int | None = None
    session_id: str | None = None
    turn: int | None = None
    images: int = 0
    video_s: float = 0.0
    text_input_tokens: int | None = None


class Distribution(Record):
    """Summary statistics of one metric; the unit is in the name of the field holding it."""

    count: int
    mean: float | None = None
    min: float | None = None
    max: float | None = None
    p50: float | None = None
    p90: float | None = None
    p95: float | None = None
    p99: float | None = None


class Throughput(Record):
    """Throughput over one window; `label` says which window."""

    label: Literal["steady_state", "whole_run"]
    start_ns: int
    end_ns: int
    duration_s: float
    requests_completed: int
    input_tokens: float
    output_tokens: float
    request_per_s: float
    input_tok_per_s: float
    output_tok_per_s: float
    total_tok_per_s: float


class SLO(Record):
    """Latency targets a request must meet to count toward goodput (all optional; each a
    finite number of seconds > 0: a NaN target used to be met by every request)."""

    ttft_s: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    tpot_s: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    e2e_s: float | None = Field(default=None, gt=0, allow_inf_nan=False)


class Goodput(Record):
    slo: SLO
    requests_meeting_slo: int
    requests_measured: int
    requests_tpot_not_measured: int = Field(
        default=0,
        description="coalesced requests in the window whose TPOT target could not be checked "
        "(counted as not meeting it)",
    )
    fraction: float
    request_per_s: float
    output_tok_per_s: float


class ServerCounters(Record):
    """vLLM's own Prometheus counters, scraped around the run and across the window."""

    endpoint: str
    scrapes: int
    before: dict[str, float] = Field(default_factory=dict)
    after: dict[str, float] = Field(default_factory=dict)
    window_start_ns: int | None = None
    window_end_ns: int | None = None
    window_generation_tokens: float | None = None
    window_prompt_tokens: float | None = None
    window_output_tok_per_s: float | None = None
    note: str | None = None
    period_s: float | None = Field(default=None, description="the scrape period asked for")
    window_generation_tokens_low: float | None = Field(
        default=None,
        description="fewest generated tokens the window can hold given the scrapes around its "
        "edges (the counter only rises): value at the last scrape before the end minus the "
        "value at the first scrape after the start",
    )
    window_generation_tokens_high: float | None = Field(
        default=None, description="most generated tokens the window can hold (see _low)"
    )
    uncertainty_fraction: float | None = Field(
        default=None,
        description="how far the interpolated window count can be from the truth, as a share "
        "of it: max(high − count, count − low) / count",
    )


class ClientLoad(Record):
    """The load generator's own load, so a client bottleneck is never read as a server limit."""

    cpu_s: float
    wall_s: float
    cpu_fraction: float = Field(description="the busiest client process's share of one core")
    loop_lag_s: Distribution
    send_lag_s: Distribution | None = None
    warnings: list[str] = Field(default_factory=list)
    allowed_cpus: list[int] | None = Field(
        default=None, description="CPUs the client's processes may run on (affinity)"
    )
    allowed_cpu_fraction: float | None = Field(
        default=None,
        description="all client processes' CPU / (wall × min(allowed CPUs, sending processes))",
    )


class Coalescing(Record):
    """Requests whose content arrived in too few network reads to time their tokens.

    `requests_checked`: successful streamed requests with two or more output tokens (the
    ones that can have a TPOT); `requests_coalesced` of them are coalesced
    (`bench.metrics.latency.coalesced`), and their TPOT, ITL and interactivity are not
    measured. `requests_with_shared_reads` counts every checked request in which at least
    two content chunks arrived in one read (coalesced or within `tolerance`).
    """

    requests_checked: int
    requests_coalesced: int
    fraction: float | None = Field(description="coalesced / checked; None when none checked")
    tolerance: float = Field(
        description="share of a request's chunk gaps that may be hidden in shared reads"
    )
    warn_above: float = Field(description="a run whose coalesced fraction exceeds this warns")
    requests_with_shared_reads: int
    max_tokens_per_read: Distribution = Field(
        description="per checked request: the most output tokens that arrived in one read"
    )
    request_ids: list[str] = Field(
        default_factory=list, description="the first 50 coalesced requests"
    )


class Stall(Record):
    """A stretch of the measuring window in which something stood still.

    `client_loop`: the client's event loop (or process) was held up for `duration_s`, so
    every time stamp due in it was late by up to that much. `zero_output`: no output token
    arrived in consecutive bins of `Stalls.bin_s`, though the load was at its target.
    """

    kind: Literal["client_loop", "zero_output"]
    start_s: float = Field(description="seconds since the window's start")
    duration_s: float


class Stalls(Record):
    """Stalls found in the throughput window (`window`), and the limits used.

    A client stall counts when it lasted longer than `client_limit_s` (10 × the measured ITL
    p50, `expected_itl_s`); zero-output bins are `bin_s` wide (`bin_rule` says how it was
    chosen). `events` is in time order.
    """

    window: Literal["steady_state", "whole_run"]
    expected_itl_s: float | None = Field(description="ITL p50; None when not measured")
    client_limit_s: float
    bin_s: float
    bin_rule: str
    events: list[Stall] = Field(default_factory=list)


class Validity(Record):
    """Whether the throughput window is long enough to trust, and the limits used.

    `verdict` "too_short" when the steady-state window is shorter than `min_window_s`, holds
    fewer than `min_requests` completed requests, or does not exist; `reasons` says which.
    """

    verdict: Literal["ok", "too_short"]
    window_s: float | None = Field(description="steady-state window; None when there is none")
    requests_completed: int = Field(description="completed inside the steady-state window")
    min_window_s: float
    min_requests: int
    min_requests_rule: str
    reasons: list[str] = Field(default_factory=list)


class RunSummary(Record):
    """`requests_planned` (measured requests the run set out to send; for a run bounded
    by time, those due before it ended) = `requests_total` (recorded) +
    `requests_never_sent` (planned, never sent: the run stopped first); None for summaries
    made without a plan. `requests_client_counted`: ok requests whose token counts are the
    client's own (the server sent no usage)."""

    requests_planned: int | None = None
    requests_never_sent: int = 0
    requests_total: int
    requests_ok: int
    requests_failed: int
    errors_by_class: dict[str, int] = Field(default_factory=dict)
    warmup_requests: int = 0
    ttft_s: Distribution
    tpot_s: Distribution
    itl_s: Distribution
    e2e_s: Distribution
    interactivity_tok_per_s: Distribution
    tokens_per_chunk: Distribution
    input_tokens: Distribution
    output_tokens: Distribution
    steady_state: Throughput | None
    whole_run: Throughput
    steady_state_note: str | None = None
    goodput: Goodput | None = None
    requests_client_counted: int = 0
    token_count_mismatches: int = 0
    token_count_mismatch_ids: list[str] = Field(default_factory=list)
    server: ServerCounters | None = None
    client: ClientLoad | None = None
    coalescing: Coalescing | None = None
    stalls: Stalls | None = None
    validity: Validity | None = None


class Placement(Record):
    """Where a managed server ran relative to the client (bench.engines.placement)."""

    mode: Literal["auto", "off"]
    applied: bool
    reason: str
    cpus: int = Field(description="CPUs the client may run on (its affinity mask)")
    spare_cpus: int | None = Field(
        default=None, description="CPUs left beyond vLLM's CPU worker and engine core"
    )
    autogroup: bool | None = Field(default=None, description="kernel.sched_autogroup_enabled")
    server_nice: int | None = None
    shared_session: bool = False


class Provenance(Record):
    """Where and with what a run was made."""

    tokenbench_version: str
    host: str
    platform: str
    python: str
    cpu_model: str | None = None
    cpu_count: int | None = None
    memory_gb: float | None = None
    gpus: list[str] = Field(default_factory=list)
    gpu_driver: str | None = None
    vllm_version: str | None = None
    torch_version: str | None = None
    model_id: str | None = None
    model_path: str | None = None
    model_sha256: str | None = None
    engine: str | None = None
    command: list[str] = Field(default_factory=list)
    placement: Placement | None = None


Basis = Literal["measured", "configured", "estimated", "derived", "projected"]

Currency = Literal["USD", "CNY"]

MONEY_UNIT = "USD"
"""Money in records is in USD; a `CostLine` whose unit starts with it is an amount of money."""


class DisplayCurrency(Record):
    """The currency money is shown in, and the exchange rate used to show it.

    Money is stored in USD; shown = USD amount × `per_usd` (1.0 for USD). `fx_source` says
    where the rate came from.
    """

    currency: Currency = "USD"
    per_usd: float = Field(default=1.0, gt=0, description="units of `currency` per 1 USD")
    fx_source: str = "USD: no conversion"

    def amount(self, usd: float | None) -> float | None:
        """A USD amount in the display currency (None stays None)."""
        return None if usd is None else usd * self.per_usd

    def unit(self, unit: str) -> str:
        """`USD/GPU-hour` → `CNY/GPU-hour`; units that are not money are unchanged."""
        return self.currency + unit[len(MONEY_UNIT) :] if is_money_unit(unit) else unit

    def line(self, line: CostLine) -> tuple[float, str]:
        """(value, unit) of a cost line as shown: money converted, anything else as stored."""
        if is_money_unit(line.unit):
            return line.value * self.per_usd, self.unit(line.unit)
        return line.value, line.unit


def is_money_unit(unit: str) -> bool:
    """True for `USD` and `USD/<denominator>` units."""
    return unit == MONEY_UNIT or unit.startswith(MONEY_UNIT + "/")


class CostLine(Record):
    """One line of a cost breakdown: a value, its unit, and where it came from.

    Money lines are in USD (`unit` `USD` or `USD/...`); see `DisplayCurrency.line`.
    """

    name: str
    value: float
    unit: str
    basis: Basis
    note: str | None = None


class CostBreakdown(Record):
    """Cost per token for one run on one hardware profile, line by line, in USD.

    `lines` shows the working (GPU-hour cost, power, utilization, throughput per GPU);
    the headline prices are repeated as fields for easy reading. `display` is the currency
    the person asked to see (converted when rendering).
    """

    display: DisplayCurrency
    cost_basis: Literal["rent", "owned"]
    hardware_sku: str
    gpus: int
    throughput_window: Literal["steady_state", "whole_run"]
    gpu_hour_cost_usd: float
    effective_gpu_hour_cost_usd: float
    cost_usd_per_m_output_tokens: float | None
    cost_usd_per_m_total_tokens: float | None
    lines: list[CostLine]
    estimated: bool = Field(description="true when any input line is estimated, not measured")


RunStatus = Literal["complete", "partial", "failed"]
