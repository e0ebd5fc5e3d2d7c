"""`bench accept`: probe → microbenchmarks → inference → soak → verdict.json + verdict.md."""

from __future__ import annotations

import math
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal, TypeVar

from bench.accept.bands import Bands, bands_for_sku
from bench.accept.micro import run_micro
from bench.accept.micro_records import MicroReport, MicroSizes
from bench.accept.probe import open_nvml, read_probe
from bench.accept.records import InferenceOutcome, NodeSample, SoakReport, SoakRun, Verdict
from bench.accept.sampling import LoadSampler, sample_from_snapshot
from bench.accept.verdict import counts, evaluate, overall, summary_line
from bench.nvml.snapshot import NvmlSeam
from bench.units import NS_PER_S, utc_now

InferenceFn = Callable[[], "float | InferenceOutcome"]
"""Runs one short inference benchmark and returns output tok/s (or a full outcome)."""
MicroFn = Callable[[MicroSizes | None], MicroReport]

T = TypeVar("T")
VERDICT_JSON = "verdict.json"
VERDICT_MD = "verdict.md"


def run_acceptance(
    sku: str,
    *,
    soak_s: float = 0.0,
    inference: InferenceFn | None = None,
    out_dir: Path,
    bands: Bands | None = None,
    nvml: NvmlSeam | None = None,
    sizes: MicroSizes | None = None,
    micro: bool = True,
    micro_fn: MicroFn | None = None,
    sample_interval_s: float = 1.0,
    on_status: Callable[[str], None] | None = None,
    soak_clock: Callable[[], int] = time.perf_counter_ns,
) -> Verdict:
    """Accept (or not) this node as an instance of `sku`; writes verdict.json and verdict.md.

    `nvml=None` opens the real NVML when there is one. `inference` is called once for the
    inference check and then repeatedly for `soak_s` seconds (on `soak_clock`, ns), with
    NVML sampled throughout. `micro_fn` replaces the torch microbenchmarks (a recorded
    report, in tests); by default a CPU SKU runs the CPU suite and a GPU SKU the CUDA suite
    where torch sees CUDA.
    """
    say = on_status or (lambda _msg: None)
    bands = bands or bands_for_sku(sku)
    out_dir.mkdir(parents=True, exist_ok=True)
    created = utc_now()
    t0 = time.perf_counter_ns()
    seam, reason = (nvml, None) if nvml is not None else open_nvml()
    notes: list[str] = []
    try:
        probe, _ = read_probe(seam, reason)
        say(f"probe: {probe.gpu_status}")
        samples: list[NodeSample] = []
        micro_report: MicroReport | None = None
        if micro:
            say("microbenchmarks")
            backend: Literal["auto", "cpu"] = "cpu" if bands.expected_gpus == 0 else "auto"
            measure = micro_fn or (lambda s: run_micro(s, backend=backend))
            micro_report, micro_samples = _with_samples(
                seam, "micro", t0, sample_interval_s, notes, lambda: measure(sizes)
            )
            samples += micro_samples
        outcome = None
        if inference is not None:
            say("inference check")
            outcome = call_inference(inference)
        soak = None
        if soak_s > 0 and inference is None:
            notes.append("soak asked for, but there is no inference to run: soak skipped")
        elif soak_s > 0:
            say(f"soak for {soak_s:.0f} s")
            soak, soak_samples = _with_samples(
                seam,
                "soak",
                t0,
                sample_interval_s,
                notes,
                lambda: soak_loop(inference, soak_s, soak_clock),
            )
            samples += soak_samples
        if seam is not None:
            samples.append(sample_from_snapshot(seam.read(), "final", _elapsed(t0)))
    finally:
        if seam is not None and nvml is None:
            seam.close()
    checks = evaluate(
        probe, bands, samples=samples, micro=micro_report, inference=outcome, soak=soak
    )
    result, code = overall(checks)
    verdict = Verdict(
        sku=sku,
        host=socket.gethostname(),
        created_utc=created,
        finished_utc=utc_now(),
        overall=result,
        exit_code=code,
        summary=summary_line(checks, result),
        counts=counts(checks),
        checks=checks,
        bands=bands,
        probe=probe,
        samples=samples,
        micro=micro_report,
        inference=outcome,
        soak=soak,
        notes=notes,
    )
    write_verdict(verdict, out_dir)
    return verdict


def write_verdict(verdict: Verdict, out_dir: Path) -> None:
    """verdict.json (the record) and verdict.md (rendered from it), each written atomically."""
    from bench.accept.render import render_markdown
    from bench.report.io import write_atomic

    write_atomic(out_dir / VERDICT_JSON, verdict.model_dump_json(indent=2))
    write_atomic(out_dir / VERDICT_MD, render_markdown(verdict))


def call_inference(inference: InferenceFn) -> InferenceOutcome:
    """Run the injected inference once; an exception becomes an outcome with `error`."""
    start = time.perf_counter_ns()
    try:
        result = inference()
    except Exception as exc:  # the check reports it; KeyboardInterrupt still stops the run
        return InferenceOutcome(
            output_tok_per_s=None,
            error=f"{type(exc).__name__}: {exc}".splitlines()[0][:300],
            duration_s=_elapsed(start),
        )
    if isinstance(result, InferenceOutcome):
        return result
    rate = float(result)
    return InferenceOutcome(
        output_tok_per_s=rate if math.isfinite(rate) else None,
        error=None if math.isfinite(rate) else f"non-finite throughput {result!r}",
        duration_s=_elapsed(start),
    )


def soak_loop(
    inference: InferenceFn | None,
    soak_s: float,
    clock: Callable[[], int] = time.perf_counter_ns,
) -> SoakReport:
    """Repeat the inference until `soak_s` seconds have passed on `clock` (ns; at least once)."""
    start = clock()
    runs: list[SoakRun] = []
    while inference is not None:
        outcome = call_inference(inference)
        elapsed_s = (clock() - start) / NS_PER_S
        runs.append(
            SoakRun(
                elapsed_s=elapsed_s,
                output_tok_per_s=outcome.output_tok_per_s,
                error=outcome.error,
            )
        )
        if elapsed_s >= soak_s:
            break
    return SoakReport(requested_s=soak_s, duration_s=(clock() - start) / NS_PER_S, runs=runs)


def _with_samples(
    seam: NvmlSeam | None,
    phase: Literal["micro", "soak"],
    t0: int,
    interval_s: float,
    notes: list[str],
    work: Callable[[], T],
) -> tuple[T, list[NodeSample]]:
    """Run `work` while sampling NVML (when there is one)."""
    if seam is None:
        return work(), []
    with LoadSampler(seam, phase, t0, interval_s=interval_s) as sampler:
        result = work()
    if sampler.error:
        notes.append(f"NVML sampling during {phase} stopped: {sampler.error}")
    return result, sampler.samples


def _elapsed(start_ns: int) -> float:
    return (time.perf_counter_ns() - start_ns) / NS_PER_S
