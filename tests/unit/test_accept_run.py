"""run_acceptance end to end (replayed NVML, recorded microbenchmarks) and the CLI commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bench.accept.cli import app
from bench.accept.micro_records import MicroSizes
from bench.accept.records import InferenceOutcome, Verdict
from bench.accept.render import render_markdown
from bench.accept.run import call_inference, run_acceptance
from bench.errors import UserError
from bench.nvml.snapshot import ReplayNvml

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "accept"
H100 = FIXTURES / "nvml_h100_sxm_8x_idle.json"


def _replay_under_load() -> ReplayNvml:
    """The idle snapshot first, then readings with links trained to Gen5 and warm GPUs."""
    idle = ReplayNvml.from_file(H100).read()
    busy_gpus = [
        g.model_copy(
            update={"pcie_gen_current": 5, "temperature_gpu_c": 66, "clocks_event_reasons": 0x4}
        )
        for g in idle.gpus
    ]
    return ReplayNvml([idle, idle.model_copy(update={"gpus": busy_gpus})])


def test_h100_node_accepted_end_to_end(tmp_path: Path) -> None:
    from test_accept_verdict import BANDS, micro  # recorded-style 8×H100 numbers

    calls = []
    soak_clock_ns = [0]

    def inference() -> InferenceOutcome:
        calls.append(soak_clock_ns[0])
        soak_clock_ns[0] += 10_000_000  # each run takes 10 ms on the soak's clock
        return InferenceOutcome(output_tok_per_s=9100.0, model="llama-3.1-8b", requests_ok=512,
                                requests_failed=0)  # fmt: skip

    verdict = run_acceptance(
        "h100-sxm",
        soak_s=0.05,
        inference=inference,
        out_dir=tmp_path,
        bands=BANDS,
        nvml=_replay_under_load(),
        micro_fn=lambda sizes: micro(),
        sample_interval_s=0.01,
        soak_clock=lambda: soak_clock_ns[0],
    )
    assert (verdict.overall, verdict.exit_code) == ("pass", 0), verdict.summary
    assert len(calls) == 6  # the check itself, then 5 soak runs of 10 ms fill the 0.05 s
    assert verdict.soak is not None and len(verdict.soak.runs) == len(calls) - 1
    assert [r.elapsed_s for r in verdict.soak.runs] == pytest.approx([0.01, 0.02, 0.03, 0.04, 0.05])
    assert verdict.soak.duration_s == pytest.approx(0.05)
    assert {s.phase for s in verdict.samples} == {"micro", "soak", "final"}
    names = {c.name: c for c in verdict.checks}
    assert names["pcie_link"].status == "pass" and names["pcie_link"].note is None
    assert names["soak_throughput_stable"].status == "pass"
    # the record on disk is the verdict, and the markdown is rendered from it
    on_disk = Verdict.model_validate_json((tmp_path / "verdict.json").read_text())
    assert on_disk == verdict
    md = (tmp_path / "verdict.md").read_text()
    assert md.startswith("# Acceptance verdict: PASS\n")
    # the idle probe first, then the busy readings: 66 °C peak, SW power cap seen under load
    under_load = md[md.index("## Under load") :].splitlines()
    load_row = next(line for line in under_load if line.startswith("| 0 | "))
    assert load_row.endswith("| 66 | 71 | 71 | 700 | 345 | sw_power_cap |")
    assert "| `gemm_bf16` | each GPU | min 752 TFLOP/s (gpu1) | ≥ 692 TFLOP/s per GPU" in md


def test_cpu_sku_runs_cpu_microbenchmarks_and_marks_gpu_checks_na(tmp_path: Path) -> None:
    verdict = run_acceptance(
        "cpu-local",
        inference=lambda: 123.0,
        out_dir=tmp_path,
        sizes=MicroSizes.quick(),
    )
    names = {c.name: c for c in verdict.checks}
    assert verdict.micro is not None and verdict.micro.backend == "cpu"
    assert names["cpu_gemm_fp32"].measured and names["cpu_gemm_fp32"].measured > 0
    assert names["inference_functional"].status == "pass"
    assert names["gpu_count"].status == "not_applicable" and not names["gpu_count"].required
    assert names["nvlink"].status == "not_applicable"
    assert (verdict.overall, verdict.exit_code) == ("pass", 0)
    assert verdict.counts["not_applicable"] >= 15
    md = render_markdown(verdict)
    assert (
        "| `nvlink` | node | cpu-local is a CPU SKU: no GPU is expected | - | n/a | critical | no |"
        in md
    )


def test_inference_exceptions_and_nan_become_errors() -> None:
    def broken() -> float:
        raise RuntimeError("server died\nlong log")

    assert call_inference(broken).error == "RuntimeError: server died"
    nan = call_inference(lambda: float("nan"))
    assert nan.output_tok_per_s is None and nan.error == "non-finite throughput nan"
    assert call_inference(lambda: 50).output_tok_per_s == 50.0


def test_markdown_cells_cannot_break_the_table(tmp_path: Path) -> None:
    from test_accept_verdict import BANDS

    verdict = run_acceptance(
        "h100-sxm",
        inference=lambda: InferenceOutcome(output_tok_per_s=None, error="bad | pipe\nnewline"),
        out_dir=tmp_path,
        bands=BANDS,
        nvml=ReplayNvml.from_file(H100),
        micro=False,
    )
    md = render_markdown(verdict)
    row = next(line for line in md.splitlines() if line.startswith("| `inference_functional`"))
    assert "error: bad \\| pipe newline" in row
    assert row.count(" | ") == 7  # 8 cells


# ---------------------------------------------------------------------- CLI


def test_cli_probe_replay_json() -> None:
    result = CliRunner().invoke(app, ["probe", "--replay", str(H100), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert len(data["gpus"]) == 8 and data["gpus"][0]["power_limit_w"] == 700.0


def test_cli_probe_text_and_raw_copy(tmp_path: Path) -> None:
    raw = tmp_path / "raw.json"
    result = CliRunner().invoke(app, ["probe", "--replay", str(H100), "--raw", str(raw)])
    assert result.exit_code == 0, result.output
    assert "| 3 | NVIDIA H100 80GB HBM3 | 79.6 |" in result.output
    assert json.loads(raw.read_text())["gpus"][3]["pci_bus_id"] == "00000000:5D:00.0"


def test_cli_accept_exit_code_follows_the_verdict(tmp_path: Path) -> None:
    bad = ReplayNvml.from_file(H100).read()
    gpus = [g.model_copy(update={"ecc_volatile_uncorrected": 4}) if g.index == 2 else g
            for g in bad.gpus]  # fmt: skip
    snap = tmp_path / "ecc.json"
    snap.write_text(bad.model_copy(update={"gpus": gpus}).model_dump_json())
    args = ["accept", "--sku", "h100-sxm", "--replay-nvml", str(snap), "--no-micro",
            "--no-inference", "--out", str(tmp_path / "out")]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1, result.output
    assert result.output.splitlines()[-2].startswith("FAIL: ")
    verdict = json.loads((tmp_path / "out" / "verdict.json").read_text())
    ecc = next(c for c in verdict["checks"] if c["name"] == "ecc_uncorrected")
    assert (ecc["status"], ecc["gpus"]) == ("fail", [2])


def test_cli_accept_incomplete_without_measurements(tmp_path: Path) -> None:
    args = ["accept", "--sku", "h100-sxm", "--replay-nvml", str(H100), "--no-micro",
            "--no-inference", "--out", str(tmp_path)]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 3, result.output
    assert "required but not applicable here: gemm_bf16" in result.output


def test_cli_accept_unknown_sku_is_a_user_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["accept", "--sku", "h900", "--out", str(tmp_path)])
    assert isinstance(result.exception, UserError)
    assert "unknown hardware SKU 'h900'" in str(result.exception)
    assert not (tmp_path / "verdict.json").exists()
