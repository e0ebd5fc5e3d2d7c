"""Configuration and records of the synthetic streaming server.

`SynthConfig` is what a person chooses (CLI options or the `SynthServer` constructor).
`SynthRequestRecord` is what the server did for one request, on the host's
`perf_counter_ns` clock (CLOCK_MONOTONIC on Linux, the same clock a client on the same
host stamps with), so a client's measured TTFT/ITL can be compared chunk by chunk with what
was actually sent. `lateness_summary` condenses the server's own lateness against schedule.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from bench.config.loading import StrictConfig
from bench.errors import UserError

FailMode = Literal["http_500", "error_chunk"]
Endpoint = Literal["completions", "chat"]
Outcome = Literal["ok", "http_500", "error_chunk", "disconnected", "in_flight"]


class SynthConfig(StrictConfig):
    """Behaviour of the synthetic server.

    Timing: chunk j (0-based) of a request is due at `received + ttft_s + j * itl_s`, where
    `received` is when the request's last byte was read. `itl_s` is the gap between
    successive chunks; each chunk carries `tokens_per_chunk` tokens (the last one the rest),
    so a request of `max_tokens` tokens has `ceil(max_tokens / tokens_per_chunk)` chunks.
    A non-streamed request is answered whole when its last chunk would have been due.

    Several `processes` share one port (the kernel spreads connections over them); each
    counts its own arrivals (`seq`, `fail_rate`) and answers `/metrics` for itself.

    Failures: generation request number n (0-based, arrival order) fails iff
    `floor((n + 1) * fail_rate) > floor(n * fail_rate)`, so exactly `floor(N * fail_rate)` of
    the first N fail, evenly spread. `http_500` answers 500 at once; `error_chunk` streams
    the first `n_chunks // 2` chunks, then vLLM's error event and `[DONE]` (a non-streamed
    request that fails always gets the 500 at once).

    Coalescing (a fault): with `coalesce` K > 1 a stream's chunks are written K at a time,
    each group when its last chunk is due (more than K when the server is behind), as a
    starved server or proxy that buffers its output would. Every chunk keeps its due time,
    so the server's lateness includes the hold (up to (K − 1) · itl_s).
    """

    host: str = "127.0.0.1"
    port: int = Field(default=0, ge=0, le=65535, description="0 = pick a free port")
    model: str = Field(default="synth", min_length=1, description="served model name")
    ttft_s: float = Field(default=0.05, ge=0, le=3600)
    itl_s: float = Field(default=0.005, ge=0, le=3600)
    tokens_per_chunk: int = Field(default=1, ge=1, le=1_000_000)
    default_max_tokens: int = Field(
        default=16, ge=1, description="output length when a request gives no max_tokens"
    )
    max_model_len: int = Field(default=1_000_000, ge=1, description="shown by /v1/models")
    fail_rate: float = Field(default=0.0, ge=0, le=1)
    fail_mode: FailMode = "http_500"
    coalesce: int = Field(
        default=1, ge=1, le=1_000_000, description="chunks per write (1 = each on its own)"
    )
    record_path: Path | None = Field(default=None, description="JSONL written on shutdown")
    cpu: int | None = Field(
        default=None, ge=0, description="pin the server to this CPU (process i: cpu + i)"
    )
    processes: int = Field(
        default=1,
        ge=1,
        le=64,
        description="server processes sharing the port (SO_REUSEPORT), each with its own "
        "event loop; records, stats and the record file cover all of them",
    )
    tick_s: float = Field(
        default=50e-6,
        gt=0,
        le=0.01,
        description="timer-wheel slot: chunks due within one slot are sent in one wake-up",
    )


class SynthRequestRecord(BaseModel):
    """What the server did for one generation request (times: host `perf_counter_ns`).

    `chunk_due_ns[j]` is when chunk j was scheduled, `chunk_sent_ns[j]` when its bytes were
    handed to the kernel (stamped just before the write; for a non-streamed request the one
    entry is the whole response). `backlogged_chunks` counts chunks written while earlier
    bytes were still queued in user space because the client was not reading: their sent
    time is when they were queued, not when they left. For chat streams the first chunk
    also carries the role event, and the last carries the usage event and `[DONE]`.
    `in_flight` marks a snapshot of a request still streaming (only in `/synth/stats`).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    request_id: str
    seq: int = Field(description="arrival order among generation requests, from 0")
    endpoint: Endpoint
    stream: bool
    prompt_tokens: int
    max_tokens: int
    completion_tokens: int = Field(description="tokens actually sent")
    outcome: Outcome
    received_ns: int
    chunk_due_ns: list[int]
    chunk_sent_ns: list[int]
    chunk_tokens: list[int]
    backlogged_chunks: int = 0

    def lateness_ns(self) -> list[int]:
        """Per sent chunk: sent − due (≥ 0 unless the clock misbehaved)."""
        return [s - d for s, d in zip(self.chunk_sent_ns, self.chunk_due_ns, strict=False)]


class LatenessSummary(BaseModel):
    """The server's own lateness against schedule over a set of records."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    requests: int
    chunks: int
    tokens: int
    lateness_p50_s: float | None
    lateness_p99_s: float | None
    lateness_max_s: float | None
    backlogged_chunks: int
    first_sent_ns: int | None
    last_sent_ns: int | None
    cpu_fraction: float | None = Field(
        default=None,
        description="CPU time of the server's event-loop thread over the window, as a share "
        "of one core (with several server processes, the busiest); None when not sampled",
    )
    processes: int = Field(default=1, description="server processes the summary covers")


def percentile(sorted_values: Sequence[int | float], q: float) -> float:
    """Nearest-rank percentile of already sorted values: element `ceil(q/100 · n) − 1`.

    Example: [1, 2, 3, 4] → p50 = 2, p99 = 4.
    """
    if not sorted_values:
        raise ValueError("percentile of no values")
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return float(sorted_values[rank - 1])


def lateness_summary(
    records: Iterable[SynthRequestRecord],
    *,
    since_ns: int | None = None,
    until_ns: int | None = None,
) -> LatenessSummary:
    """Lateness (sent − due) percentiles over the sent chunks of `records`, in seconds.

    With `since_ns`/`until_ns`, only chunks sent in `[since_ns, until_ns)` count (a
    request counts if any of its chunks does; its tokens count chunk by chunk).
    """
    lo_ns = since_ns if since_ns is not None else -(2**63)
    hi_ns = until_ns if until_ns is not None else 2**63
    lateness: list[int] = []
    requests = tokens = backlogged = 0
    first: int | None = None
    last: int | None = None
    for record in records:
        inside = [
            (sent - due, n)
            for sent, due, n in zip(
                record.chunk_sent_ns, record.chunk_due_ns, record.chunk_tokens, strict=True
            )
            if lo_ns <= sent < hi_ns
        ]
        if not inside:
            continue
        requests += 1
        tokens += sum(n for _, n in inside)
        backlogged += record.backlogged_chunks
        lateness.extend(late for late, _ in inside)
        sent_inside = [t for t in record.chunk_sent_ns if lo_ns <= t < hi_ns]
        first = min(sent_inside[0], first) if first is not None else sent_inside[0]
        last = max(sent_inside[-1], last) if last is not None else sent_inside[-1]
    lateness.sort()
    has = bool(lateness)
    return LatenessSummary(
        requests=requests,
        chunks=len(lateness),
        tokens=tokens,
        lateness_p50_s=percentile(lateness, 50) / 1e9 if has else None,
        lateness_p99_s=percentile(lateness, 99) / 1e9 if has else None,
        lateness_max_s=lateness[-1] / 1e9 if has else None,
        backlogged_chunks=backlogged,
        first_sent_ns=first,
        last_sent_ns=last,
    )


def merged_summary(
    records: Iterable[SynthRequestRecord],
    members: Sequence[LatenessSummary],
    *,
    since_ns: int | None = None,
    until_ns: int | None = None,
) -> LatenessSummary:
    """One summary for a group of server processes: lateness over all their records, the
    CPU share of the busiest member (each is one thread on at most one core)."""
    shares = [m.cpu_fraction for m in members if m.cpu_fraction is not None]
    summary = lateness_summary(records, since_ns=since_ns, until_ns=until_ns)
    return summary.model_copy(
        update={"cpu_fraction": max(shares) if shares else None, "processes": len(members)}
    )


def cpu_fraction(
    times_ns: Sequence[int], cpu_ns: Sequence[int], since_ns: int | None, until_ns: int | None
) -> float | None:
    """Share of one core used between two CPU samples (`times_ns[i]` when the thread had
    used `cpu_ns[i]`), from the first sample at or after `since_ns` to the last at or
    before `until_ns`: Δcpu / Δtime. None with fewer than two samples in the window.

    Example: samples (0, 0), (100 ms, 40 ms), (200 ms, 130 ms), window [50, 200] ms →
    (130 − 40) / (200 − 100) = 0.9.
    """
    lo = since_ns if since_ns is not None else -(2**63)
    hi = until_ns if until_ns is not None else 2**63
    inside = [i for i, t in enumerate(times_ns) if lo <= t <= hi]
    if len(inside) < 2:
        return None
    first, last = inside[0], inside[-1]
    span = times_ns[last] - times_ns[first]
    return (cpu_ns[last] - cpu_ns[first]) / span if span > 0 else None


def write_records(records: Iterable[SynthRequestRecord], path: Path) -> int:
    """Write records as JSONL (one request per line); returns how many were written."""
    n = 0
    with path.open("w", encoding="utf-8") as fh:
        for record in records:
            fh.write(record.model_dump_json())
            fh.write("\n")
            n += 1
    return n


def read_records(path: Path) -> list[SynthRequestRecord]:
    """Read a JSONL record file written by the server.

    Raises:
        UserError: missing file or a line that is not a valid record.
    """
    if not path.is_file():
        raise UserError("record file not found", file=path, fix="check the --record path")
    out = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            out.append(SynthRequestRecord.model_validate(json.loads(line)))
        except ValueError as exc:
            raise UserError(
                f"line {number} is not a synthetic-server record: {exc}".splitlines()[0],
                file=path,
                fix="pass a file written by `bench synth serve --record`",
            ) from None
    return out
