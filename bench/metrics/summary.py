"""Fold request records into a `RunSummary` (pure: everything it needs is passed in)."""

from __future__ import annotations

from bench.config.run import ConcurrencyLoad, RateLoad, ValidityRules
from bench.metrics.latency import (
    collect,
    distribution,
    e2e_s,
    interactivity_tok_per_s,
    itl_s,
    tpot_s,
    ttft_s,
)
from bench.metrics.stalls import find_stalls
from bench.metrics.throughput import (
    errors_by_class,
    goodput,
    steady_state_window_closed,
    steady_state_window_open,
    throughput,
    token_count_mismatches,
    whole_run_window,
)
from bench.metrics.trust import coalescing
from bench.metrics.validity import validity
from bench.records import SLO, ClientLoad, RequestRecord, RunSummary, ServerCounters

Window = tuple[int, int]


def steady_state_window(
    records: list[RequestRecord], load: ConcurrencyLoad | RateLoad
) -> tuple[Window | None, str | None]:
    """The steady-state window for this load pattern, or None with the reason."""
    measured = [r for r in records if not r.warmup]
    if not measured:
        return None, "no measured requests"
    if isinstance(load, ConcurrencyLoad):
        window = steady_state_window_closed(measured, load.concurrency)
        if window is None:
            return None, (
                f"load never reached {load.concurrency} requests in flight "
                f"({len(measured)} requests sent); whole-run figures only"
            )
        return window, None
    window = steady_state_window_open(measured)
    if window is None:
        return None, "fewer than two arrivals; whole-run figures only"
    return window, None


def summarize(
    records: list[RequestRecord],
    load: ConcurrencyLoad | RateLoad,
    *,
    slo: SLO | None = None,
    server: ServerCounters | None = None,
    client: ClientLoad | None = None,
    planned: int | None = None,
    loop_stalls: list[tuple[int, float]] | None = None,
    rules: ValidityRules | None = None,
) -> RunSummary:
    """Latency distributions over successful measured requests; throughput over the
    steady-state window and the whole run; goodput; failures counted by class; coalesced
    requests and stalls in the throughput window.

    `planned`: measured requests the run set out to send; never sent = planned − recorded.
    `loop_stalls`: the client's large event-loop lags (start ns, duration s), if recorded.
    `rules`: when the run is long enough to trust (default `ValidityRules()`).
    """
    measured = [r for r in records if not r.warmup]
    ok = [r for r in measured if r.status == "ok"]
    window, note = steady_state_window(measured, load)
    whole = whole_run_window(measured) if measured else (0, 0)
    itls = [gap for r in ok for gap in itl_s(r)]
    mismatches = token_count_mismatches(ok)
    itl = distribution(itls)
    ttft = distribution(collect(ok, ttft_s))
    steady = throughput(measured, window, "steady_state") if window else None
    stalls = None
    if any(r.first_chunk_ns is not None for r in measured):  # streamed (offline runs are not)
        stalls = find_stalls(
            [t for r in measured for t in r.chunk_ns],
            window or whole,
            "steady_state" if window else "whole_run",
            itl_p50_s=itl.p50,
            ttft_p50_s=ttft.p50,
            loop_stalls=loop_stalls,
        )
    return RunSummary(
        requests_planned=planned,
        requests_never_sent=max(0, planned - len(measured)) if planned is not None else 0,
        requests_total=len(measured),
        requests_ok=len(ok),
        requests_failed=len(measured) - len(ok),
        errors_by_class=errors_by_class(measured),
        warmup_requests=len(records) - len(measured),
        ttft_s=ttft,
        tpot_s=distribution(collect(ok, tpot_s)),
        itl_s=itl,
        e2e_s=distribution(collect(ok, e2e_s)),
        interactivity_tok_per_s=distribution(collect(ok, interactivity_tok_per_s)),
        tokens_per_chunk=distribution([float(n) for r in ok for n in r.chunk_tokens]),
        input_tokens=distribution(
            [float(r.input_tokens) for r in ok if r.input_tokens is not None]
        ),
        output_tokens=distribution(
            [float(r.output_tokens) for r in ok if r.output_tokens is not None]
        ),
        steady_state=steady,
        whole_run=throughput(measured, whole, "whole_run"),
        steady_state_note=note,
        goodput=goodput(measured, window or whole, slo) if slo else None,
        requests_client_counted=sum(r.usage_source == "client" for r in ok),
        token_count_mismatches=len(mismatches),
        token_count_mismatch_ids=mismatches[:50],
        server=server,
        client=client,
        coalescing=coalescing(ok),
        stalls=stalls,
        validity=validity(steady, load, rules or ValidityRules()) if measured else None,
    )
