"""Probe + microbenchmarks on a lent GPU machine (no vLLM), results as JSON under $OUT.

    python3 scripts/gpu_accept_check.py [--out DIR] [--sku h100-sxm|h200-sxm] [--quick]

Writes (at most 6 files, all small):
  nvml_snapshot.json  raw NVML snapshot: copy it to tests/fixtures/accept/ as a real capture
  micro.json          MicroReport (GEMM BF16/FP8, D2D, H2D, D2H; all-reduce when ≥ 2 GPUs)
  verdict.json/.md    the verdict against the SKU's bands (no inference: "incomplete" at best)
  spec.txt            measured vs the SKU's spec and bands, one line per figure
  timings.txt         seconds per step

The machine needs torch with CUDA, pynvml (nvidia-ml-py) and pydantic; see
scripts/gpu_accept_check.sh for carrying pydantic as wheels where it is missing.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, uninstalled


def _sku_for(gpu_name: str) -> str | None:
    name = gpu_name.lower()
    if "h200" in name:
        return "h200-sxm"
    if "h100" in name and ("hbm3" in name or "sxm" in name):
        return "h100-sxm"
    if "h100" in name:
        return "h100-pcie"
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "gpu-accept-out")))
    parser.add_argument("--sku", default=None, help="default: guessed from the GPU name")
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test only)")
    # dry run of this script without a GPU: a recorded NVML snapshot and the CPU microbenchmarks
    parser.add_argument("--replay", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    timings: list[str] = []

    def step(label: str, start: float) -> None:
        timings.append(f"{label}: {time.perf_counter() - start:.1f} s")
        print(timings[-1], flush=True)

    from bench.accept.bands import bands_for_sku
    from bench.accept.micro import run_micro
    from bench.accept.micro_records import MicroSizes
    from bench.accept.probe import open_nvml, read_probe
    from bench.accept.run import run_acceptance
    from bench.accept.sampling import LoadSampler

    t = time.perf_counter()
    if args.replay:
        from bench.nvml.snapshot import ReplayNvml

        seam, reason = ReplayNvml.from_file(args.replay), None
    else:
        seam, reason = open_nvml()
    if seam is None:
        print(f"no NVML here: {reason}", file=sys.stderr)
        return 2
    node, snap = read_probe(seam)
    assert snap is not None  # a seam was given
    (out / "nvml_snapshot.json").write_text(
        snap.model_copy(
            update={"note": f"captured by scripts/gpu_accept_check.py on {os.uname().nodename}"}
        ).model_dump_json(indent=1)
    )
    step("probe", t)
    sku = args.sku or _sku_for(node.gpus[0].name if node.gpus else "")
    print(f"{node.gpu_status}; {[g.name for g in node.gpus]}; SKU {sku}", flush=True)

    t = time.perf_counter()
    sizes = MicroSizes.quick() if args.quick else MicroSizes()
    with LoadSampler(seam, "micro", time.perf_counter_ns(), interval_s=0.5) as sampler:
        micro = run_micro(sizes, backend="cpu" if args.replay else "cuda")
    (out / "micro.json").write_text(micro.model_dump_json(indent=1))
    step("microbenchmarks", t)
    for r in micro.results:
        scale, unit = (1e12, "TFLOP/s") if r.unit == "flop_per_s" else (1e9, "GB/s")
        value = f"{r.value / scale:,.1f} {unit}" if r.value else f"error {r.error}"
        print(f"  {r.metric:18s} {r.device:7s} {r.scope:10s} {value}", flush=True)
    print(f"  {len(sampler.samples)} NVML samples under load; {sampler.error or 'no error'}")

    if sku:
        t = time.perf_counter()
        # a lent machine holds some of a node's GPUs: judge the count it has, not the SKU's 8
        bands = bands_for_sku(sku).model_copy(update={"expected_gpus": len(node.gpus)})
        verdict = run_acceptance(
            sku, out_dir=out, bands=bands, nvml=seam, micro_fn=lambda _s: micro,
            sample_interval_s=0.5,
        )  # fmt: skip
        step("verdict", t)
        print(verdict.summary)
        (out / "spec.txt").write_text(_spec_lines(sku, micro))
    seam.close()
    (out / "timings.txt").write_text("\n".join(timings) + "\n")
    return 0


def _spec_lines(sku: str, micro) -> str:  # type: ignore[no-untyped-def]
    """Measured (best GPU alone) vs the profile's spec figure and acceptance band."""
    from bench.hardware import load_profile

    p = load_profile(sku)
    acc = p.acceptance
    rows = [
        ("gemm_bf16", 1e12, p.bf16_dense_tflops, acc.gemm_bf16_tflops_min if acc else None),
        ("gemm_fp8", 1e12, p.fp8_dense_tflops, acc.gemm_fp8_tflops_min if acc else None),
        ("memory_bandwidth", 1e9, p.memory_bandwidth_gbps,
         acc.memory_bandwidth_gbps_min if acc else None),
        ("h2d_bandwidth", 1e9, None, acc.h2d_gbps_min if acc else None),
        ("allreduce_busbw", 1e9, None, acc.allreduce_busbw_gbps_min if acc else None),
    ]  # fmt: skip
    lines = [f"SKU {sku}: measured (min over GPUs, alone) vs spec and band"]
    for metric, scale, spec, band in rows:
        values = [
            r.value
            for r in micro.results
            if r.metric == metric and r.value and r.scope != "concurrent"
        ]
        if not values:
            lines.append(f"{metric}: not measured")
            continue
        v = min(values) / scale
        spec_text = f"{v / spec.value:.0%} of spec {spec.value:,.0f}" if spec else "no spec figure"
        band_text = (
            f"band {band.value:,.0f}: {'PASS' if v >= band.value else 'FAIL'}"
            if band
            else "no band"
        )
        lines.append(f"{metric}: {v:,.1f} ({spec_text}; {band_text})")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
