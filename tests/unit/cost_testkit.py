"""Builders of small, valid run records for the cost tests (not a test module itself).

`make_summary` gives a `RunSummary` whose steady-state throughput is exactly what the test
says; `make_report` wraps it in a valid `Report`. Latency distributions are filled from a
TPOT and a TTFT so quote tests can place points on an interactivity curve.
"""

from __future__ import annotations

from typing import Any

from bench.config.run import RunConfig
from bench.records import Distribution, Provenance, RunSummary, Throughput
from bench.report.records import Report


def dist(value: float, count: int = 10, spread: float = 0.0) -> Distribution:
    """A distribution centred on `value`; p90/p99 are `value × (1 + spread)`."""
    hi = value * (1 + spread)
    return Distribution(
        count=count, mean=value, min=value, max=hi, p50=value, p90=hi, p95=hi, p99=hi
    )


def make_summary(
    *,
    input_tok_per_s: float,
    output_tok_per_s: float,
    request_per_s: float,
    duration_s: float = 100.0,
    tpot_s: float = 0.05,
    ttft_s: float = 0.2,
    requests: int = 100,
    steady: bool = True,
) -> RunSummary:
    window = Throughput(
        label="steady_state" if steady else "whole_run",
        start_ns=0,
        end_ns=int(duration_s * 1e9),
        duration_s=duration_s,
        requests_completed=int(request_per_s * duration_s),
        input_tokens=input_tok_per_s * duration_s,
        output_tokens=output_tok_per_s * duration_s,
        request_per_s=request_per_s,
        input_tok_per_s=input_tok_per_s,
        output_tok_per_s=output_tok_per_s,
        total_tok_per_s=input_tok_per_s + output_tok_per_s,
    )
    whole = window.model_copy(update={"label": "whole_run"})
    in_per_req = input_tok_per_s / request_per_s
    out_per_req = output_tok_per_s / request_per_s
    return RunSummary(
        requests_total=requests,
        requests_ok=requests,
        requests_failed=0,
        ttft_s=dist(ttft_s, requests, 0.5),
        tpot_s=dist(tpot_s, requests, 0.2),
        itl_s=dist(tpot_s, requests, 0.2),
        e2e_s=dist(ttft_s + tpot_s * (out_per_req - 1), requests, 0.2),
        interactivity_tok_per_s=dist(1.0 / tpot_s, requests),
        tokens_per_chunk=dist(1.0, requests),
        input_tokens=dist(in_per_req, requests),
        output_tokens=dist(out_per_req, requests),
        steady_state=window if steady else None,
        whole_run=whole,
    )


def run_config(**fields: Any) -> RunConfig:
    """A valid RunConfig: a 100/10-token shape at concurrency 1, overridden by `fields`."""
    data: dict[str, Any] = {
        "model": "tiny-llama",
        "workload": {"kind": "shape", "input_tokens": 100, "output_tokens": 10},
        "load": {"kind": "concurrency", "concurrency": 1},
        "num_requests": 10,
        "output_dir": "runs/test",
    }
    return RunConfig.model_validate(data | fields)


def make_report(
    summary: RunSummary,
    *,
    run_id: str,
    config: RunConfig | None = None,
    gpus: list[str] | None = None,
    cost: Any = None,
) -> Report:
    return Report(
        run_id=run_id,
        status="complete",
        created_utc="2026-11-28T06:00:00Z",
        finished_utc="2026-11-28T06:05:00Z",
        config=config or run_config(),
        provenance=Provenance(
            tokenbench_version="0.1.0",
            host="fixture",
            platform="synthetic fixture (tests/unit/cost_testkit.py)",
            python="3.11",
            gpus=gpus or [],
        ),
        summary=summary,
        cost=cost,
    )


# ---------------------------------------------------------------------------------------
# Fixture run directories (tests/fixtures/runs): a small synthetic sweep + probes per SKU.
#
# Each SKU follows a simple serving model: a decode step of t_step(C) = t0 + k·C seconds
# serves C users; prefill runs at `prefill_tok_per_s`. GPU-seconds per request
# = input / prefill rate + output · t_step(C) / C, times a deterministic ±1.5 % wobble so
# fits have a visible error. Regenerate with:  python tests/unit/cost_testkit.py
# ---------------------------------------------------------------------------------------

FIXTURE_MODEL = "meta-llama/Llama-3.1-8B-Instruct"
FIXTURE_SKUS: dict[str, dict[str, float]] = {
    # t0 and k in seconds; prefill tok/s; measured average power per GPU (W) or 0 = none
    "h100-sxm": {"t0": 0.006, "k": 0.00005, "prefill": 40_000.0, "power_w": 620.0},
    "l40s": {"t0": 0.022, "k": 0.0002, "prefill": 12_000.0, "power_w": 0.0},
}
SWEEP_SHAPE = (1024, 256)
SWEEP_LOADS = (1, 4, 16, 64)
PROBES = {"probe-prefill": (4096, 32), "probe-decode": (128, 1024)}
PROBE_REPEATS = ("", "-r2", "-r3")  # each probe run three times: probe-prefill, -r2, -r3
HOLDOUT = ("holdout-mixed", (1536, 384))
PROBE_LOAD = 16
WOBBLE = {
    "sweep-c1": 0.0,
    "sweep-c4": 0.01,
    "sweep-c16": -0.01,
    "sweep-c64": 0.005,
    "probe-prefill": 0.015,
    "probe-prefill-r2": 0.04,
    "probe-prefill-r3": -0.02,
    "probe-decode": -0.015,
    "probe-decode-r2": 0.03,
    "probe-decode-r3": -0.04,
    "holdout-mixed": 0.0,
}


def fixture_gpu_s_per_request(sku: str, inp: int, out: int, load: int, run: str) -> float:
    m = FIXTURE_SKUS[sku]
    t_step = m["t0"] + m["k"] * load
    return (inp / m["prefill"] + out * t_step / load) * (1 + WOBBLE[run])


def _energy(power_w: float, duration_s: float, out_tok: float, total_tok: float):  # type: ignore[no-untyped-def]
    from bench.energy.records import EnergySummary, EnergyTotal

    energy_j = power_w * duration_s
    total = EnergyTotal(
        scope="gpu",
        channels=["gpu0"],
        sources=["nvml"],
        valid=True,
        energy_j=energy_j,
        avg_power_w=power_w,
        j_per_output_token=energy_j / out_tok,
        j_per_total_token=energy_j / total_tok,
    )
    summary = EnergySummary(
        measured=True,
        window_start_ns=0,
        window_end_ns=int(duration_s * 1e9),
        window_s=duration_s,
        output_tokens=out_tok,
        total_tokens=total_tok,
        gap_factor=1.0,
        primary="gpu",
        totals=[total],
        meters=["nvml"],
    )
    return summary


def fixture_run(sku: str, run: str, shape: tuple[int, int], load: int):  # type: ignore[no-untyped-def]
    """(Report, requests) for one synthetic run of `sku`."""
    from bench.cost import CostAssumptions, run_cost
    from bench.hardware import load_profile
    from bench.records import RequestRecord

    inp, out = shape
    m = FIXTURE_SKUS[sku]
    gpu_s = fixture_gpu_s_per_request(sku, inp, out, load, run)
    rps = 1.0 / gpu_s
    t_step = m["t0"] + m["k"] * load
    ttft = inp / m["prefill"] * (1 + load / 8)
    duration = 120.0
    summary = make_summary(
        input_tok_per_s=inp * rps,
        output_tok_per_s=out * rps,
        request_per_s=rps,
        duration_s=duration,
        tpot_s=t_step,
        ttft_s=ttft,
        requests=max(8, int(rps * duration)),
    )
    # spread latency tails: p90 = 1.1×, p99 = 1.25× (TPOT); p90 = 1.5×, p99 = 2× (TTFT)
    tpot = summary.tpot_s.model_copy(
        update={
            "p90": t_step * 1.1,
            "p95": t_step * 1.15,
            "p99": t_step * 1.25,
            "max": t_step * 1.3,
        }
    )
    ttft_d = summary.ttft_s.model_copy(
        update={"p90": ttft * 1.5, "p95": ttft * 1.7, "p99": ttft * 2.0, "max": ttft * 2.2}
    )
    summary = summary.model_copy(update={"tpot_s": tpot, "ttft_s": ttft_d})
    config = run_config(
        model=FIXTURE_MODEL,
        workload={"kind": "shape", "input_tokens": inp, "output_tokens": out},
        load={"kind": "concurrency", "concurrency": load},
        num_requests=summary.requests_total,
        hardware=sku,
        gpus=1,
        output_dir=f"runs/{sku}/{run}",
    )
    power = m["power_w"] or None
    cost = run_cost(
        load_profile(sku), CostAssumptions(), summary=summary, gpus=1, measured_power_w=power
    )
    report = make_report(
        summary,
        run_id=f"{sku}-{run}",
        config=config,
        cost=cost,
        gpus=["NVIDIA H100 80GB HBM3" if sku == "h100-sxm" else "NVIDIA L40S"],
    )
    if power:
        window = summary.steady_state
        assert window is not None
        report = report.model_copy(
            update={
                "energy": _energy(
                    power,
                    duration,
                    window.output_tokens,
                    window.input_tokens + window.output_tokens,
                )
            }
        )
    requests = []
    for i in range(4):
        sent = i * 1_000_000_000
        first = sent + int(ttft * 1e9)
        last = first + int(t_step * (out - 1) * 1e9)
        requests.append(
            RequestRecord(
                request_id=f"{run}-{i}",
                index=i,
                status="ok",
                sent_ns=sent,
                first_chunk_ns=first,
                last_chunk_ns=last,
                done_ns=last + 1000,
                input_tokens=inp,
                output_tokens=out,
                cached_input_tokens=0,
                client_output_tokens=out,
                requested_input_tokens=inp,
                requested_output_tokens=out,
            )
        )
    return report, requests


def fixture_runs() -> dict[str, tuple]:  # type: ignore[type-arg]
    """Every fixture run by relative directory → (Report, requests)."""
    runs = {}
    for sku in FIXTURE_SKUS:
        for load in SWEEP_LOADS:
            runs[f"{sku}/sweep-c{load}"] = fixture_run(sku, f"sweep-c{load}", SWEEP_SHAPE, load)
        repeated = [(name + r, shape) for name, shape in PROBES.items() for r in PROBE_REPEATS]
        for name, shape in [*repeated, HOLDOUT]:
            runs[f"{sku}/{name}"] = fixture_run(sku, name, shape, PROBE_LOAD)
    return runs


def write_fixture_runs(root) -> None:  # type: ignore[no-untyped-def]
    from pathlib import Path

    for rel, (report, requests) in fixture_runs().items():
        d = Path(root) / rel
        d.mkdir(parents=True, exist_ok=True)
        (d / "report.json").write_text(report.model_dump_json(indent=2) + "\n")
        (d / "requests.jsonl").write_text("".join(r.model_dump_json() + "\n" for r in requests))


if __name__ == "__main__":
    from pathlib import Path

    write_fixture_runs(Path(__file__).resolve().parents[1] / "fixtures" / "runs")
