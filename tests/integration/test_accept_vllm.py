"""`bench accept` on this CPU host against a real managed vLLM (tiny-llama)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bench.accept.cli import app
from bench.accept.records import Verdict


@pytest.mark.slow
def test_cli_accept_cpu_local_with_real_vllm(tmp_path: Path) -> None:
    """The issue's acceptance: on a CPU host, a verdict with GPU checks n/a and a real CPU
    inference check (managed vLLM serving tiny-llama)."""
    args = ["accept", "--sku", "cpu-local", "--quick", "--requests", "8", "--out", str(tmp_path)]
    result = CliRunner().invoke(app, args)
    verdict = Verdict.model_validate_json((tmp_path / "verdict.json").read_text())
    names = {c.name: c for c in verdict.checks}
    assert names["inference_functional"].status == "pass", result.output
    assert verdict.inference and verdict.inference.model == "tiny-llama"
    assert (verdict.inference.output_tok_per_s or 0) > 0
    assert names["gpu_count"].status == "not_applicable"
    assert result.exit_code == verdict.exit_code == 0
