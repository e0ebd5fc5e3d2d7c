#!/usr/bin/env python
"""GPU energy check: NVML energy counter vs integrated power samples around a known load.

Runs the tokenbench NVML meter (bench.energy) on the first visible GPU (choose it with
CUDA_VISIBLE_DEVICES) through: an idle baseline, then a trace of pad + bf16 matmul loop +
pad. Prints, per window, the counter energy, the trapezoid integral of the power samples
(instantaneous field and 1 s-average GetPowerUsage, where the driver has both) and their %
difference, plus idle vs loaded power, clocks, temperature and clock-event reasons — as a
table, then one JSON object (also written to --json-out).

Needs only torch (CUDA build), nvidia-ml-py and this repository's bench.energy (+ pydantic,
numpy). No vLLM.

    python scripts/gpu_energy_check.py --idle-s 10 --load-s 20 --json-out energy_check.json

Exit status: 0 counter and samples agree within --tolerance-pct over the whole trace;
1 they do not, or a figure is invalid; 2 this host cannot run the check (no NVIDIA driver,
no CUDA torch).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, NoReturn

NS = 1_000_000_000


def cannot_run(message: str) -> NoReturn:
    print(f"gpu_energy_check: cannot run on this host: {message}", file=sys.stderr)
    sys.exit(2)


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--idle-s", type=float, default=10.0, help="idle baseline length")
    p.add_argument("--load-s", type=float, default=20.0, help="matmul loop length")
    p.add_argument("--pad-s", type=float, default=3.0, help="idle before and after the load")
    p.add_argument("--ramp-s", type=float, default=2.0, help="excluded from the steady window")
    p.add_argument("--n", type=int, default=8192, help="matrix size of the bf16 matmul")
    p.add_argument("--period-s", type=float, default=0.1, help="NVML sampling period")
    p.add_argument("--tolerance-pct", type=float, default=5.0)
    p.add_argument("--json-out", type=Path, help="also write the JSON result here")
    p.add_argument("--trace-out", type=Path, help="write the raw EnergyTrace (for ReplayMeter)")
    return p.parse_args()


def import_energy() -> None:
    """Make `bench` importable from a plain checkout (no pip install needed)."""
    try:
        import bench.energy  # noqa: F401
    except ImportError:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def open_gpu_meters(period_s: float) -> tuple[Any, list[str]]:
    """A MeterSet on the first visible GPU: one NVML meter per available power source."""
    from bench.energy.meterset import MeterSet
    from bench.energy.nvml import NvmlMeter, gpu_selection
    from bench.nvml.library import NvmlUnavailable, open_library

    try:
        nv = open_library()
    except NvmlUnavailable as exc:
        cannot_run(f"NVML unavailable: {exc}")
    if nv.nvmlDeviceGetCount() == 0:
        cannot_run("NVML sees no NVIDIA GPU")
    selection = gpu_selection(nv, 1)
    if not selection.gpu_indices:
        cannot_run(f"no GPU selected: {selection.note}")
    meters, fields = [], []
    for field in ("instant", "average"):
        try:
            meters.append(
                NvmlMeter(selection.gpu_indices, period_s=period_s, power_field=field, nvml=nv)
            )
            fields.append(field)
        except RuntimeError as exc:  # driver without the instantaneous field
            print(f"note: {exc}", file=sys.stderr)
    return MeterSet(meters, selection=selection), fields


def matmul_load(torch: Any, n: int, seconds: float) -> dict[str, float]:
    """bf16 n×n matmuls for `seconds`; returns iterations and achieved TFLOP/s."""
    a = torch.randn(n, n, device="cuda:0", dtype=torch.bfloat16)
    b = torch.randn(n, n, device="cuda:0", dtype=torch.bfloat16)
    start = time.perf_counter_ns()
    iters = 0
    while time.perf_counter_ns() - start < seconds * NS:
        for _ in range(10):
            torch.matmul(a, b)
        torch.cuda.synchronize()
        iters += 10
    end = time.perf_counter_ns()
    return {
        "start_ns": start,
        "end_ns": end,
        "iterations": iters,
        "tflops": 2 * n**3 * iters / ((end - start) / NS) / 1e12,
    }


def window_figures(channels: list[Any], fields: list[str], start: int, end: int) -> dict[str, Any]:
    """Counter energy, sample energy per power source and their % difference over [start, end]."""
    from bench.energy.summary import channel_energy, percent_difference

    out: dict[str, Any] = {"window_s": (end - start) / NS}
    for field, ch in zip(fields, channels, strict=True):
        d = channel_energy(ch, start, end)
        if not d.valid:
            out[field] = {"valid": False, "problem": d.problem}
            continue
        samples = channel_energy(
            ch.model_copy(update={"counter_ns": [], "counter_j": []}), start, end
        )
        out.setdefault("counter_j", d.energy_j)
        out.setdefault("avg_power_w", d.avg_power_w)
        out[field] = {
            "valid": samples.valid,
            "problem": samples.problem,
            "samples_j": samples.energy_j,
            "pct_vs_counter": (
                percent_difference(samples.energy_j, d.energy_j)
                if samples.energy_j is not None and d.energy_j is not None
                else None
            ),
            "peak_power_w": samples.peak_power_w,
        }
    return out


def _num(value: float | None) -> float:
    return float("nan") if value is None else value


def print_table(result: dict[str, Any], fields: list[str]) -> None:
    dev, idle = result["device"], result["idle"]
    print(
        f"GPU {dev['index']}: {dev['name']} (driver {dev['driver']}), "
        f"power limit {dev['power_limit_w']} W"
    )
    print(f"load: bf16 {result['load']['n']}^3 matmul, {result['load']['tflops']:.1f} TFLOP/s")
    print(f"idle power: {idle['power_w']} W over {idle['duration_s']:.1f} s ({idle['method']})")
    head = f"{'window':<8} {'s':>6} {'counter J':>11} {'avg W':>7}"
    for f in fields:
        head += f" {f + ' J':>12} {'diff %':>7} {'peak W':>7}"
    print(head)
    for name, w in result["windows"].items():
        row = f"{name:<8} {w['window_s']:>6.1f} {_num(w.get('counter_j')):>11.1f}"
        row += f" {_num(w.get('avg_power_w')):>7.1f}"
        for f in fields:
            x = w.get(f, {})
            row += f" {_num(x.get('samples_j')):>12.1f} {_num(x.get('pct_vs_counter')):>+7.2f}"
            row += f" {_num(x.get('peak_power_w')):>7.1f}"
        print(row)
    print(f"verdict: {result['verdict']}")


def main() -> int:
    args = parse_args()
    import_energy()
    meters, fields = open_gpu_meters(args.period_s)  # NVML first: fails fast on a CPU host
    try:
        import torch
    except ImportError:
        cannot_run("torch is not installed")
    if not torch.cuda.is_available():
        cannot_run(f"torch {torch.__version__} sees no CUDA GPU (CUDA build: {torch.version.cuda})")
    from bench.energy.meter import write_trace

    warm = torch.ones(256, 256, device="cuda:0", dtype=torch.bfloat16)
    torch.matmul(warm, warm)
    torch.cuda.synchronize()  # CUDA context and cuBLAS up before idle is measured
    time.sleep(1.0)
    meters.measure_idle(args.idle_s)
    meters.start()
    time.sleep(args.pad_s)
    load = matmul_load(torch, args.n, args.load_s)
    time.sleep(args.pad_s)
    trace = meters.stop()
    meters.close()
    if args.trace_out:
        write_trace(trace, args.trace_out)
    ch0, idle0 = trace.channels[0], trace.idle[0] if trace.idle else None
    windows = {
        "whole": (trace.started_ns, trace.stopped_ns),
        "load": (load["start_ns"], load["end_ns"]),
        "steady": (load["start_ns"] + int(args.ramp_s * NS), load["end_ns"]),
    }
    states = [s for s in ch0.gpu_state if load["start_ns"] <= s.t_ns <= load["end_ns"]]
    import pynvml

    driver = pynvml.nvmlSystemGetDriverVersion()
    result: dict[str, Any] = {
        "device": {
            "index": ch0.gpu_index,
            "name": ch0.device_name,
            "uuid": ch0.gpu_uuid,
            "driver": driver.decode() if isinstance(driver, bytes) else driver,
            "power_limit_w": states[-1].power_limit_w if states else None,
        },
        "load": {
            "n": args.n,
            "seconds": args.load_s,
            "iterations": load["iterations"],
            "tflops": load["tflops"],
        },
        "idle": {
            "power_w": idle0.power_w if idle0 else None,
            "duration_s": idle0.duration_s if idle0 else 0.0,
            "method": idle0.method if idle0 else None,
            "problem": idle0.problem if idle0 else trace.idle_note,
        },
        "loaded_state": {
            "sm_clock_mhz_min": min(
                (s.sm_clock_mhz for s in states if s.sm_clock_mhz), default=None
            ),
            "temperature_c_max": max(
                (s.temperature_c for s in states if s.temperature_c), default=None
            ),
            "clock_event_reasons": sorted({r for s in states for r in s.throttle_reasons}),
        },
        "power_sources": {f: ch.power_source for f, ch in zip(fields, trace.channels, strict=True)},
        "windows": {
            k: window_figures(trace.channels, fields, a, b) for k, (a, b) in windows.items()
        },
    }
    whole = result["windows"]["whole"]
    diffs = [whole[f].get("pct_vs_counter") for f in fields if whole[f].get("valid")]
    ok = bool(diffs) and all(d is not None and abs(d) <= args.tolerance_pct for d in diffs)
    result["verdict"] = (
        f"{'PASS' if ok else 'FAIL'}: counter vs samples over the whole trace "
        f"{', '.join(f'{d:+.2f} %' for d in diffs if d is not None) or 'not comparable'} "
        f"(tolerance {args.tolerance_pct} %)"
    )
    print_table(result, fields)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json_out:
        args.json_out.write_text(text + "\n", encoding="utf-8")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
