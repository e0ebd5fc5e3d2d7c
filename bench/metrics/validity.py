"""Is the run long enough to trust? A validity rule in the spirit of MLPerf's minimum
duration: the steady-state window must last `min_window_s` and complete `min_requests`
(`bench.config.run.ValidityRules` gives the limits and why)."""

from __future__ import annotations

from bench.config.run import ConcurrencyLoad, RateLoad, ValidityRules
from bench.records import Throughput, Validity


def validity(
    steady: Throughput | None, load: ConcurrencyLoad | RateLoad, rules: ValidityRules
) -> Validity:
    """"ok", or "too_short" with the reasons, for the run's steady-state window `steady`
    (None when the load never reached its target)."""
    min_requests, rule = rules.min_requests(load)
    reasons = []
    if steady is None:
        reasons.append("there is no steady-state window (the load never reached its target)")
    else:
        if steady.duration_s < rules.min_window_s:
            reasons.append(
                f"the steady-state window lasted {steady.duration_s:.2f} s "
                f"(minimum {rules.min_window_s:g} s)"
            )
        if steady.requests_completed < min_requests:
            reasons.append(
                f"{steady.requests_completed} requests completed in it "
                f"(minimum {min_requests}: {rule})"
            )
    return Validity(
        verdict="too_short" if reasons else "ok",
        window_s=steady.duration_s if steady is not None else None,
        requests_completed=steady.requests_completed if steady is not None else 0,
        min_window_s=rules.min_window_s,
        min_requests=min_requests,
        min_requests_rule=rule,
        reasons=reasons,
    )
