"""The verdict: every check, then one overall answer and an exit code (pure functions).

overall = fail        when a required check failed or errored (exit 1);
          incomplete  when no required check failed but one was not applicable, i.e. could
                      not be judged here (exit 3) — not applicable never counts as a pass;
          pass        when every required check passed (exit 0).
Checks that are not required (warnings, information) never change the exit code.
"""

from __future__ import annotations

from collections import Counter

from bench.accept.bands import Bands
from bench.accept.checks_health import health_checks
from bench.accept.checks_perf import inference_checks, micro_checks, outlier_checks, soak_checks
from bench.accept.micro_records import MicroReport
from bench.accept.probe import NodeProbe
from bench.accept.records import Check, InferenceOutcome, NodeSample, Overall, SoakReport

EXIT_CODES: dict[Overall, int] = {"pass": 0, "fail": 1, "incomplete": 3}


def evaluate(
    probe: NodeProbe,
    bands: Bands,
    *,
    samples: list[NodeSample] | None = None,
    micro: MicroReport | None = None,
    inference: InferenceOutcome | None = None,
    soak: SoakReport | None = None,
) -> list[Check]:
    """All checks of one node: health, microbenchmarks, outliers, inference, soak."""
    samples = samples or []
    return (
        health_checks(probe, samples, bands)
        + micro_checks(micro, bands)
        + outlier_checks(micro, bands)
        + inference_checks(inference, bands)
        + soak_checks(soak, samples, bands)
    )


def overall(checks: list[Check]) -> tuple[Overall, int]:
    """(overall verdict, exit code) from the required checks; see the module docstring."""
    required = [c for c in checks if c.required]
    if any(c.status in ("fail", "error") for c in required):
        result: Overall = "fail"
    elif not required or any(c.status != "pass" for c in required):
        result = "incomplete"
    else:
        result = "pass"
    return result, EXIT_CODES[result]


def counts(checks: list[Check]) -> dict[str, int]:
    """Checks per status, e.g. {"pass": 20, "not_applicable": 3, "warn": 1}."""
    return dict(Counter(c.status for c in checks))


def summary_line(checks: list[Check], result: Overall) -> str:
    """One sentence a person reads first: the verdict and what decided it."""
    required = [c for c in checks if c.required]
    bad = [c.name for c in required if c.status in ("fail", "error")]
    unjudged = [c.name for c in required if c.status == "not_applicable"]
    passed = sum(1 for c in required if c.status == "pass")
    na_all = sum(1 for c in checks if c.status == "not_applicable")
    warn = sum(1 for c in checks if c.status == "warn")
    text = f"{result.upper()}: {passed}/{len(required)} required checks passed"
    if bad:
        text += f"; failed: {', '.join(bad)}"
    if unjudged:
        text += f"; required but not applicable here: {', '.join(unjudged)}"
    return text + f"; {na_all} not applicable, {warn} warnings"
