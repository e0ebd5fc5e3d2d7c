"""`bench calibrate`: the real client against the synthetic server at the planned load.

plan ─► SynthServer (exact TTFT / gap, its own record) ─► drive (same client, workers)
     ─► client records + server records ─► Fidelity (per request, by X-Request-Id)
     ─► Ingest (offered vs achieved chunks/s, client CPU) ─► Verdict (assess.LIMITS)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection, Sequence
from typing import Any, Literal

from pydantic import Field, JsonValue, model_validator

from bench.calibrate.compare import Fidelity, fidelity
from bench.calibrate.floor import Floor, measure_floor
from bench.calibrate.machine import MachineMeter, MachineUse
from bench.calibrate.verdict import Figures, Verdict, verdict
from bench.config.loading import StrictConfig
from bench.config.run import ConcurrencyLoad, Load, RateLoad
from bench.records import ClientLoad, Record, RequestRecord, RequestSpec
from bench.synth.records import LatenessSummary, SynthConfig

NS_PER_S = 1_000_000_000


class CalibrationPlan(StrictConfig):
    """The benchmark to rehearse: load, lengths, server speed, client workers."""

    load: Load
    input_tokens: int = Field(default=128, ge=1)
    output_tokens: int = Field(default=256, ge=1)
    ttft_s: float = Field(default=0.05, ge=0)
    itl_s: float = Field(default=0.005, ge=0)
    tokens_per_chunk: int = Field(default=1, ge=1)
    api: Literal["completions", "chat"] = "completions"
    workers: int = Field(default=1, ge=1)
    duration_s: float | None = Field(default=10.0, gt=0)
    num_requests: int | None = Field(default=None, ge=1)
    warmup_requests: int | None = Field(default=None, ge=0)
    server_cpu: int | None = Field(default=None, ge=0)
    server_processes: int = Field(default=1, ge=1, le=64)
    seed: int = 0
    floor: bool = Field(
        default=True,
        description="when the rehearsal does not pass, measure the bytes-only reader "
        "(bench.calibrate.floor) to tell a machine limit from a client one",
    )

    @model_validator(mode="after")
    def _bounded(self) -> CalibrationPlan:
        if self.num_requests is None and self.duration_s is None:
            raise ValueError("give num_requests and/or duration_s so the rehearsal is bounded")
        return self

    @property
    def chunks_per_request(self) -> int:
        return -(-self.output_tokens // self.tokens_per_chunk)

    @property
    def ideal_request_s(self) -> float:
        """TTFT + (chunks − 1) × gap: one request's duration on a perfect client."""
        return self.ttft_s + (self.chunks_per_request - 1) * self.itl_s

    def offered_chunks_per_s(self) -> float:
        """Chunks/s the load asks for on a perfect client (closed: C × chunks / request time;
        open: rate × chunks, or the in-flight cap's closed-loop rate if lower)."""
        per_request = self.chunks_per_request
        ideal = max(self.ideal_request_s, 1e-9)
        if isinstance(self.load, ConcurrencyLoad):
            return self.load.concurrency * per_request / ideal
        rate = self.load.rate_per_s
        if self.load.max_concurrency is not None:
            rate = min(rate, self.load.max_concurrency / ideal)
        return rate * per_request

    def request_count(self) -> int:
        """Measured requests to prepare: enough for the duration at the offered rate."""
        if self.num_requests is not None:
            return self.num_requests
        per_s = self.offered_chunks_per_s() / self.chunks_per_request
        return max(1, int(per_s * (self.duration_s or 0) * 1.5) + _in_flight(self.load))

    def warmup_count(self) -> int:
        return self.warmup_requests if self.warmup_requests is not None else _in_flight(self.load)


def _in_flight(load: ConcurrencyLoad | RateLoad) -> int:
    if isinstance(load, ConcurrencyLoad):
        return load.concurrency
    return min(load.max_concurrency or 8, 64)


class Ingest(Record):
    """Chunks the client took in against what the load offered, and what it cost."""

    offered_chunks_per_s: float
    achieved_chunks_per_s: float
    throughput_fraction: float
    chunks: int
    client_cpu_s: float
    cpu_us_per_chunk: float | None
    client_cores: int = Field(
        default=1,
        description="cores the client could keep busy: min(workers, CPUs it may run on "
        "other than the synthetic server's pinned one), at least 1",
    )
    ceiling_chunks_per_s: float | None = Field(
        description="client_cores × 1e6 / CPU µs per chunk (all client processes)"
    )
    headroom: float | None = Field(description="ceiling / offered")


class CalibrationReport(Record):
    plan: CalibrationPlan
    fidelity: Fidelity
    ingest: Ingest
    client: ClientLoad
    server: LatenessSummary
    requests_failed: int
    cpu_pressure_pct: float | None
    verdict: Verdict
    floor: Floor | None = None
    machine: MachineUse | None = None


def client_cores(allowed_cpus: Sequence[int], workers: int, server_cpus: Collection[int]) -> int:
    """Cores the rehearsal's client can keep busy: `usable_cores` of the CPUs its affinity
    allows other than those the synthetic server is pinned to (all of them when that
    leaves none, or when the mask is unknown: then one per worker is assumed).

    Example: `--workers 2` under `taskset -c 0` → 1 core; allowed 0-3, server on 3 → 2.
    """
    from bench.loadgen.assess import usable_cores

    if not allowed_cpus:
        return max(1, workers)
    free = [c for c in allowed_cpus if c not in server_cpus] or list(allowed_cpus)
    return usable_cores(len(free), workers)


def server_cpus(plan: CalibrationPlan) -> set[int]:
    """The CPUs the synthetic server is pinned to: server_cpu … + server_processes − 1."""
    if plan.server_cpu is None:
        return set()
    return set(range(plan.server_cpu, plan.server_cpu + plan.server_processes))


def synth_config(plan: CalibrationPlan) -> SynthConfig:
    """The synthetic server that plays the plan's model server."""
    return SynthConfig(ttft_s=plan.ttft_s, itl_s=plan.itl_s, cpu=plan.server_cpu,
                       tokens_per_chunk=plan.tokens_per_chunk,
                       processes=plan.server_processes)  # fmt: skip


def build_specs(plan: CalibrationPlan) -> list[RequestSpec]:
    """Warm-up then measured requests of the planned lengths (the server counts words)."""
    prompt = " ".join(["tok"] * plan.input_tokens)
    warm = plan.warmup_count()
    specs = []
    for i in range(warm + plan.request_count()):
        body: dict[str, JsonValue] = (
            {"messages": [{"role": "user", "content": prompt}]}
            if plan.api == "chat"
            else {"prompt": prompt}
        )
        body.update(max_tokens=plan.output_tokens, ignore_eos=True)
        specs.append(RequestSpec(
            request_id=f"cal-{'w' if i < warm else 'r'}{i:06d}", api=plan.api, body=body,
            requested_input_tokens=plan.input_tokens,
            requested_output_tokens=plan.output_tokens, warmup=i < warm,
        ))  # fmt: skip
    return specs


def ingest(plan: CalibrationPlan, records: list[RequestRecord], stats: object) -> Ingest:
    """Offered vs achieved chunk rate over the steady-state window, and client CPU cost;
    the ceiling counts only the cores the client may actually use (`client_cores`)."""
    from bench.metrics.summary import steady_state_window

    measured = [r for r in records if not r.warmup]
    window, _ = steady_state_window(measured, plan.load)
    start, end = window or (getattr(stats, "start_ns", 0), getattr(stats, "end_ns", 0))
    inside = sum(1 for r in measured for t in r.chunk_ns if start <= t <= end)
    span = (end - start) / NS_PER_S
    achieved = inside / span if span > 0 else 0.0
    offered = plan.offered_chunks_per_s()
    chunks = sum(len(r.chunk_ns) for r in measured)
    cpu_s = float(getattr(stats, "cpu_s", 0.0))
    per_chunk = cpu_s / chunks * 1e6 if chunks else None
    cores = client_cores(getattr(stats, "allowed_cpus", None) or [],
                         int(getattr(stats, "workers", 1)), server_cpus(plan))  # fmt: skip
    ceiling = cores * 1e6 / per_chunk if per_chunk else None
    return Ingest(
        offered_chunks_per_s=offered, achieved_chunks_per_s=achieved,
        throughput_fraction=achieved / offered if offered else 0.0, chunks=chunks,
        client_cpu_s=cpu_s, cpu_us_per_chunk=per_chunk, client_cores=cores,
        ceiling_chunks_per_s=ceiling,
        headroom=ceiling / offered if ceiling and offered else None,
    )  # fmt: skip


def _run_loop(coro: Any) -> Any:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux/macOS
        return asyncio.run(coro)
    return uvloop.run(coro)


def run_calibration(plan: CalibrationPlan) -> CalibrationReport:
    """Rehearse `plan` against the synthetic server and judge the client (see module doc)."""
    from bench.loadgen.assess import client_load
    from bench.loadgen.client import StreamTarget
    from bench.loadgen.drive import drive
    from bench.synth.control import SynthServer

    specs = build_specs(plan)
    records: list[RequestRecord] = []
    config = synth_config(plan)
    meter = MachineMeter()
    meter.start()  # before the server starts: its CPU and the workers' are "own"
    with SynthServer(config) as server:
        target = StreamTarget(server.base_url, config.model, token_ids=False)
        stats = _run_loop(
            drive(target, specs, plan.load, on_record=records.append,
                  duration_s=plan.duration_s, seed=plan.seed, workers=plan.workers)
        )  # fmt: skip
        time.sleep(0.05)
        server_records = server.records()
        lateness = server.stats(since_ns=stats.start_ns, until_ns=stats.end_ns)
    machine = meter.stop()  # the server and the workers have been waited for
    measured = [r for r in records if not r.warmup]
    fid = fidelity(measured, server_records)
    ing = ingest(plan, records, stats)
    load = client_load(stats)
    failed = sum(1 for r in measured if r.status != "ok")
    figures = Figures(
        ttft_error_p50_s=fid.ttft_error_s.p50, ttft_error_p99_s=fid.ttft_error_s.p99,
        itl_p99_error_s=fid.itl_p99_error_s, throughput_fraction=ing.throughput_fraction,
        busiest_cpu_fraction=load.cpu_fraction, allowed_cpu_fraction=load.allowed_cpu_fraction,
        loop_lag_p99_s=load.loop_lag_s.p99,
        send_lag_p99_s=load.send_lag_s.p99 if load.send_lag_s else None,
        failed_requests=failed, unmatched_requests=fid.unmatched,
        server_late_p99_s=lateness.lateness_p99_s, server_cpu_fraction=lateness.cpu_fraction,
        cpu_pressure_pct=machine.cpu_pressure_pct,
        other_cpu_fraction=machine.other_cpu_fraction,
        own_cpu_s=machine.own_cpu_s, other_cpu_s=machine.other_cpu_s, wall_s=machine.wall_s,
    )  # fmt: skip
    judged = verdict(figures)
    floor = None
    if judged.status != "pass" and plan.floor:
        floor = measure_floor(plan, seconds=min(4.0, plan.duration_s or 4.0),
                              cores=ing.client_cores)  # fmt: skip
        judged = verdict(figures.model_copy(update={"floor_cpu_fraction": floor.cpu_fraction}))
    return CalibrationReport(
        plan=plan, fidelity=fid, ingest=ing, client=load,
        server=lateness, requests_failed=failed, cpu_pressure_pct=machine.cpu_pressure_pct,
        verdict=judged, floor=floor, machine=machine,
    )  # fmt: skip


def render(report: CalibrationReport) -> str:
    """The report as plain text lines for the terminal."""
    f, i, c, s = report.fidelity, report.ingest, report.client, report.server

    def ms(x: float | None) -> str:
        return "—" if x is None else f"{x * 1e3:.2f} ms"

    lines = [
        f"verdict: {report.verdict.status.upper()}",
        f"requests: {f.matched} matched with the server's record, {f.unmatched} unmatched, "
        f"{report.requests_failed} failed",
        f"TTFT error (client − server): p50 {ms(f.ttft_error_s.p50)}, "
        f"p99 {ms(f.ttft_error_s.p99)}  [send delay p50 {ms(f.send_delay_s.p50)}, "
        f"receive delay p50 {ms(f.receive_delay_s.p50)}, p99 {ms(f.receive_delay_s.p99)}]",
        f"ITL p99: client {ms(f.client_itl_p99_s)}, server {ms(f.server_itl_p99_s)}; "
        f"per-chunk ITL error p50 {ms(f.itl_error_s.p50)}, p99 {ms(f.itl_error_s.p99)}",
        f"ingest: {i.achieved_chunks_per_s:,.0f} of {i.offered_chunks_per_s:,.0f} chunks/s "
        f"offered ({i.throughput_fraction:.1%})",
        f"client CPU: {c.cpu_fraction:.0%} of a core (busiest process)"
        + (f", {c.allowed_cpu_fraction:.0%} of the {i.client_cores} core(s) it could use "
           f"(CPUs {','.join(map(str, c.allowed_cpus))})"
           if c.allowed_cpu_fraction is not None and c.allowed_cpus else "")
        + (f", {i.cpu_us_per_chunk:.2f} µs per chunk" if i.cpu_us_per_chunk else "")
        + (f", ceiling ~{i.ceiling_chunks_per_s:,.0f} chunks/s, headroom x{i.headroom:.1f}"
           if i.ceiling_chunks_per_s and i.headroom else ", no ceiling measured"),
        f"event-loop lag p99 {ms(c.loop_lag_s.p99)}, max {ms(c.loop_lag_s.max)}"
        + (f"; send lag p50 {ms(c.send_lag_s.p50)}, p99 {ms(c.send_lag_s.p99)}"
           if c.send_lag_s else ""),
        f"synthetic server lateness p50 {ms(s.lateness_p50_s)}, p99 {ms(s.lateness_p99_s)}"
        + (f"; its CPU {s.cpu_fraction:.0%} of a core" if s.cpu_fraction is not None else ""),
    ]  # fmt: skip
    m = report.machine
    if m is not None:
        lines.append(
            f"machine: this calibration used {m.own_cpu_s:.2f} CPU-s, other processes "
            + ("not measured" if m.other_cpu_s is None else
               f"{m.other_cpu_s:.2f} CPU-s ({m.other_cpu_fraction or 0:.0%} of a core)")
            + f" in {m.wall_s:.1f} s"
            + (f"; CPU pressure {m.cpu_pressure_pct:.0f} %"
               if m.cpu_pressure_pct is not None else "")
        )  # fmt: skip
    fl = report.floor
    if fl is not None:
        lines.append(
            f"machine floor (bytes-only reader, {fl.concurrency} connections): "
            f"{fl.chunks_per_s:,.0f} chunks/s at {fl.cpu_fraction:.0%} of a core"
            + (f", {fl.cpu_us_per_chunk:.2f} µs per chunk" if fl.cpu_us_per_chunk else "")
            + (
                f", TTFT error p50 {ms(fl.ttft_error_s.p50)}, p99 {ms(fl.ttft_error_s.p99)}"
                if fl.ttft_error_s
                else ""
            )
            + f"; server late p99 {ms(fl.server_late_p99_s)}"
        )
    lines += [f"  {'ok ' if ch.ok else 'BAD'} {ch.detail}" for ch in report.verdict.checks]
    shown = {ch.detail for ch in report.verdict.checks}
    lines += [f"  - {r}" for r in report.verdict.reasons if r not in shown]
    return "\n".join(lines)
