"""`bench run`: one benchmark run, start to finish, as a pipeline of records.

RunConfig ─► hardware profile, cost assumptions, model entry (validated before any work)
          ─► RequestSpecs ─► engine (managed vllm / endpoint) + load driver + /metrics scrape
          ─► RequestRecords (requests.jsonl, flushed per request)
          ─► RunSummary ─► CostBreakdown ─► Report (report.json, summary.md)
"""

from __future__ import annotations

import contextlib
import secrets
import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench import signals
from bench.config.plan import RunPlan, plan_run
from bench.config.run import RunConfig, ShapeWorkload
from bench.cost.assumptions import CostAssumptions
from bench.engines.server_log import compile_lines, compile_note, log_size
from bench.errors import Interrupted, RunFailed, UserError
from bench.loadgen.fdlimit import ensure_fd_limit, in_flight_cap
from bench.records import (
    ClientLoad,
    RequestRecord,
    RequestSpec,
    RunStatus,
    RunSummary,
)
from bench.report.io import SERVER_LOG, RequestLog
from bench.report.records import Report
from bench.run_dir import RunDir, write_run
from bench.run_load import (
    LoadOutcome,
    drive_load,
    never_sent_failure,
    planned_requests,
    side_channel,
)
from bench.units import NS_PER_S, utc_now

if TYPE_CHECKING:
    from bench.engines.served import Served


def new_run_id() -> str:
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def load_tokenizer(model_path: str, engine_args: list[str]) -> Any:
    """The model's tokenizer; custom code only when the engine trusts it too."""
    from transformers import AutoTokenizer

    trust = "--trust-remote-code" in engine_args
    return AutoTokenizer.from_pretrained(model_path, trust_remote_code=trust)


def prompt_tokenizer(config: RunConfig, model_path: str | None, engine_args: list[str]) -> Any:
    """The tokenizer the prompts are built with: `--tokenizer` if given, else the model's.

    Raises:
        UserError: the `--tokenizer` folder could not be loaded as a tokenizer.
    """
    if config.tokenizer is None:
        assert model_path is not None
        return load_tokenizer(model_path, engine_args)
    try:
        return load_tokenizer(str(config.tokenizer), engine_args)
    except (OSError, ValueError) as exc:
        raise UserError(
            f"cannot load a tokenizer: {exc}".splitlines()[0][:300],
            file=config.tokenizer,
            field="--tokenizer",
            fix="point it at the folder of a Hugging Face tokenizer (tokenizer.json ...)",
        ) from None


def requests_for_duration(duration_s: float, per_s: float = 50.0, cap: int = 10_000) -> int:
    """Requests to prepare for a duration-bounded run (it stops at the deadline): enough for
    `per_s` requests per second, at least 100, at most `cap`."""
    return max(100, min(cap, int(duration_s * per_s)))


def build_specs(plan: RunPlan, tokenizer: Any) -> tuple[list[RequestSpec], Any]:
    """The run's requests (warm-up first) and, for a suite workload, what it asked for."""
    config = plan.config
    n = config.num_requests or requests_for_duration(config.duration_s or 0.0)
    if isinstance(config.workload, ShapeWorkload):
        from bench.loadgen.shape import shape_requests

        return shape_requests(config.workload, tokenizer, n, warmup=config.warmup_requests), None
    from bench.workloads.run import requests_for_run

    return requests_for_run(
        config.workload,
        tokenizer,
        num_requests=n,
        warmup=config.warmup_requests,
        max_model_len=plan.max_model_len,
    )


def client_load(stats: Any) -> ClientLoad:
    """The client's own load, with warnings at the limits `bench calibrate` uses."""
    from bench.loadgen.assess import client_load as assess

    return assess(stats)


def run_benchmark(
    config: RunConfig,
    *,
    served: Served | None = None,
    plan: RunPlan | None = None,
    on_record: Callable[[RequestRecord], None] | None = None,
    run_id: str | None = None,
    owned_dir: RunDir | None = None,
    notes: list[str] | None = None,
    say: Callable[[str], None] | None = None,
) -> Report:
    """Run one benchmark and write the run directory.

    The run directory is claimed (locked, checked: bench.run_dir) for the run's duration,
    unless the caller already holds it (`owned_dir`). The engine is `served` when the caller
    holds one (a sweep's server, a synthetic server in a test); else the plan's engine is
    opened for this run (`bench.engines.serve`: a managed server started with its log in
    the run directory and torn down after, an endpoint checked, the offline engine's
    files), `say` hearing its progress. `notes`: what the caller's own checks could not
    tell, carried into the report. On a dead server, a stop signal or a full disk the run
    directory is still written, with status "partial" and the reason, and `RunFailed`
    (`Interrupted` for a signal) is raised.
    """
    from bench.engines import serve
    from bench.loadgen.client import StreamTarget
    from bench.models.resolve import resolve_model
    from bench.models.tiny import model_dir_sha256
    from bench.report.provenance import collect_provenance

    plan = plan or plan_run(config)
    ensure_fd_limit(in_flight_cap(config.load))
    with contextlib.ExitStack() as stack:
        if owned_dir is None:  # refused (exit 2) if another run holds it or it holds one
            owned_dir = stack.enter_context(RunDir.claim(config.output_dir))
        run_dir = owned_dir.path
        if served is None:
            served = stack.enter_context(serve(plan, run_dir / SERVER_LOG, say))
        model_path = served.model_path
        if model_path is None and config.tokenizer is None:  # with --tokenizer (endpoint
            model_path = resolve_model(plan.entry)  # runs) the model's files are not needed
        offline = served.base_url is None  # the engine runs in this process
        server_log = served.log_path
        created = utc_now()
        tokenizer = prompt_tokenizer(config, model_path, plan.engine_args)
        specs, workload_info = build_specs(plan, tokenizer)
        provenance = collect_provenance(
            model_id=config.model,
            model_path=model_path,
            model_sha256=model_dir_sha256(Path(model_path))
            if model_path and Path(model_path).is_dir()
            else None,
            engine=config.engine.kind,
            placement=served.placement,
        )
        meters = open_run_meters(plan)
        log_offset = log_size(server_log) if server_log else 0
        log = RequestLog(run_dir)
        outcome = LoadOutcome(stats=None, planned=planned_requests(specs, 0))
        try:
            meters.start()
            if offline:
                from bench.engines.offline import run_offline

                assert model_path is not None  # --tokenizer is refused for offline runs
                for rec in run_offline(model_path, specs, plan.engine_args):
                    log.append(rec)
                outcome.failure = never_sent_failure(outcome.planned, log.records)
            else:
                base_url = served.base_url or ""
                target = StreamTarget(
                    base_url,
                    served.served_model,
                    api_key=served.api_key,
                    token_ids=served.token_ids,
                    timeout_s=config.request_timeout_s,
                )
                outcome = drive_load(
                    plan,
                    specs,
                    target,
                    log,
                    scrape_url=base_url if config.scrape_server_metrics else None,
                    watchdog=served.watchdog,
                    on_record=on_record,
                    # the arrival schedule follows the workload's seed (a named workload
                    # without --seed uses its spec's own, as its requests do)
                    seed=workload_info.seed if workload_info else config.workload.seed or 0,
                )
        except OSError as exc:  # the request log could not be written (offline runs)
            outcome.failure = str(exc)
        except KeyboardInterrupt as exc:  # outside the load's event loop (start, meters)
            outcome.interrupted = getattr(exc, "signum", signal.SIGINT)
            outcome.failure = f"interrupted by {signals.signal_name(outcome.interrupted)}"
        finally:
            log.close()
            trace = side_channel(outcome.notes, "energy", meters.stop)
            side_channel(outcome.notes, "energy meters", meters.close)
        with signals.deferred():  # a second Ctrl-C must not leave the report half-written
            report = assemble_report(
                plan,
                log.records,
                run_id=run_id or new_run_id(),
                created=created,
                provenance=provenance,
                stats=outcome.stats if outcome.finished else None,
                scraper=outcome.scraper,
                failure=outcome.failure,
                trace=trace,
                workload_info=workload_info,
                planned=outcome.planned,
                notes=[*(notes or []), *served.notes, *outcome.notes,
                       *server_log_notes(server_log, log_offset, log.records)],  # fmt: skip
            )
            write_run(run_dir, report, trace, log)
        if outcome.interrupted is not None:
            raise Interrupted(outcome.interrupted, run_dir)
        if outcome.failure:
            raise RunFailed(f"run failed: {outcome.failure}", run_dir)
        return report


def server_log_notes(
    server_log: Path | None, offset: int, records: list[RequestRecord]
) -> list[str]:
    """Notes from what the server logged during the run (compilation, and when)."""
    measured = [r for r in records if not r.warmup]
    if server_log is None or not measured:
        return []
    # wall-clock seconds of the measured requests' first send and last completion
    # (perf_counter_ns and time.time share this host; the log stamps wall time)
    to_wall = time.time() - time.perf_counter_ns() / NS_PER_S
    start = min(r.sent_ns for r in measured) / NS_PER_S + to_wall
    end = max(r.done_ns for r in measured) / NS_PER_S + to_wall
    note = compile_note(compile_lines(server_log, offset), start, end)
    return [note] if note else []


def assemble_report(
    plan: RunPlan,
    records: list[RequestRecord],
    *,
    run_id: str,
    created: str,
    provenance: Any,
    stats: Any,
    scraper: Any,
    failure: str | None,
    trace: Any = None,
    workload_info: Any = None,
    planned: int | None = None,
    notes: list[str] | None = None,
) -> Report:
    """Summary, energy, cost and report from what the run produced (also for partial runs).

    `planned`: measured requests the run set out to send (None: not known)."""
    from bench.metrics.summary import steady_state_window, summarize

    measured = [r for r in records if not r.warmup]
    summary: RunSummary | None = None
    cost = None
    cost_note = None
    energy = None
    workload = None
    if measured:
        window, _ = steady_state_window(measured, plan.config.load)
        notes = notes if notes is not None else []
        server = side_channel(notes, "server /metrics", lambda: scraper.summary(window))
        summary = summarize(
            records,
            plan.config.load,
            slo=plan.config.slo,
            server=server if scraper else None,
            client=client_load(stats) if stats else None,
            planned=planned,
            loop_stalls=stats.loop_stalls if stats else None,
            rules=plan.config.validity,
        )
        measured_summary = summary
        energy = (
            side_channel(notes, "energy", lambda: run_energy(plan, measured_summary, trace))
            if trace is not None
            else None
        )
        if workload_info is not None:
            from bench.workloads.run import report_section

            tp = summary.steady_state or summary.whole_run
            workload = report_section(workload_info, measured, (tp.start_ns, tp.end_ns), plan.gpus)
        cost, cost_note = run_cost_or_note(plan, summary, energy)
    status: RunStatus = "complete" if failure is None else ("partial" if measured else "failed")
    return Report(
        run_id=run_id,
        status=status,
        failure=failure,
        created_utc=created,
        finished_utc=utc_now(),
        config=plan.config,
        provenance=provenance,
        summary=summary,
        cost=cost,
        cost_note=cost_note,
        energy=energy,
        workload=workload,
        notes=list(notes or []),
    )


def open_run_meters(plan: RunPlan) -> Any:
    """Meters for this run: the configured kind ("none" for a remote endpoint unless asked),
    with the idle baseline measured before any load."""
    from bench.energy import open_meters

    cfg = plan.config.energy
    kind = cfg.meter
    if kind == "auto" and not plan.config.engine.runs_here:
        kind = "none"  # local meters would measure this machine, not the endpoint's
    meters = open_meters(
        kind,
        parallel_size=plan.gpus,
        period_s=cfg.period_s,
        node_period_s=cfg.node_period_s,
        gap_factor=cfg.gap_factor,
    )
    if meters.measured and cfg.idle_s > 0:
        meters.measure_idle(cfg.idle_s)
    return meters


def run_energy(plan: RunPlan, summary: RunSummary, trace: Any) -> Any:
    """Energy over the same window as the throughput figures, with that window's tokens."""
    from bench.energy import summarize_energy

    window = summary.steady_state or summary.whole_run
    if window.end_ns <= window.start_ns:
        return None
    return summarize_energy(
        trace,
        window.start_ns,
        window.end_ns,
        window.output_tokens,
        window.input_tokens + window.output_tokens,
        price_usd_per_kwh=electricity_usd_per_kwh(plan.assumptions),
        pue=plan.assumptions.pue,
        gap_factor=plan.config.energy.gap_factor,
    )


def electricity_usd_per_kwh(assumptions: CostAssumptions) -> float | None:
    """The electricity price the person gave, in USD per kWh (None when not given)."""
    price = assumptions.electricity_price_per_kwh
    return None if price is None else assumptions.to_usd(price)


def measured_power_w(energy: Any) -> float | None:
    """Average power of the run's primary measured scope (all used devices together)."""
    if energy is None or not energy.measured or energy.primary is None:
        return None
    total = energy.total(energy.primary)
    return total.avg_power_w if total is not None and total.valid else None


def run_cost_or_note(
    plan: RunPlan, summary: RunSummary, energy: Any = None
) -> tuple[Any, str | None]:
    """The cost breakdown, or why there is none (no successful tokens)."""
    from bench.cost.breakdown import run_cost

    window = summary.steady_state or summary.whole_run
    if window.output_tok_per_s <= 0:
        return None, "no output tokens were measured, so no cost per token"
    breakdown = run_cost(
        plan.profile,
        plan.assumptions,
        summary=summary,
        gpus=plan.gpus,
        measured_power_w=measured_power_w(energy),
    )
    return breakdown, None


def execute_run(
    config: RunConfig,
    assumptions: CostAssumptions | None = None,
    on_record: Callable[[RequestRecord], None] | None = None,
    on_status: Callable[[str], None] | None = None,
) -> Report:
    """`bench run`: validate, open the engine (start a managed server), run, tear down."""
    plan = plan_run(config, assumptions)
    return run_benchmark(config, plan=plan, on_record=on_record, say=on_status)
