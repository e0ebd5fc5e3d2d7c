"""The fleet spec YAML of `bench fleet run`: the run every node makes, validated once.

run:                       # RunConfig fields (as in report.json's `config`),
  model: tiny-llama        # without output_dir: the fleet puts each node's run
  workload: {kind: shape, input_tokens: 128, output_tokens: 64}
  load: {kind: concurrency, concurrency: 8}
  num_requests: 64
  hardware: h100-sxm       # SKU of nodes whose GPU type is not mapped below
hardware_by_gpu_type: {H100: h100-sxm, L40S: l40s}
synth:                     # optional: the synthetic server instead of an engine
  itl_s: 0.005
  per_node: {gpu-07: {itl_s: 0.02}}
"""

from __future__ import annotations

from pathlib import Path

from bench.config.loading import read_yaml, validate_data
from bench.errors import UserError
from bench.fleet.records import RunJob

PLACEHOLDER_DIR = "."


def load_run_spec(path: Path) -> RunJob:
    """Read and validate a fleet spec.

    Raises:
        UserError: unreadable YAML, not a mapping, `run.output_dir` given, or any invalid
            field (named with the file).
    """
    data = read_yaml(path)
    if not isinstance(data, dict) or not isinstance(data.get("run"), dict):
        raise UserError(
            "a fleet spec is a mapping with a `run:` mapping (the RunConfig of each node)",
            file=path,
            field="run",
            fix="see `bench fleet run --help` for an example",
        )
    if "output_dir" in data["run"]:
        raise UserError(
            "output_dir is chosen per node by the fleet",
            file=path,
            field="run.output_dir",
            fix="remove it; give the fleet directory with --out",
        )
    run = {**data["run"], "output_dir": PLACEHOLDER_DIR}
    return validate_data(RunJob, {"kind": "run", **data, "run": run}, path)
