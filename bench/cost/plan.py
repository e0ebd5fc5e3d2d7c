"""`bench quote --plan`: the runs to make before a quote can be priced with an interval.

For a model on a SKU: a prefill-heavy and a decode-heavy probe, each repeated (the additive
split and its spread), a held-out mixed workload, also repeated (the check of the prices),
and a load sweep of the workload to be priced (the tiers). Shapes fit the model's context
on that SKU (models.yaml engine defaults); CPU hosts get shorter shapes and lighter loads.
Each line is a `bench sweep run` command: one server start serves all repeats of a probe.
"""

from __future__ import annotations

from pydantic import Field

from bench.catalog import ModelEntry
from bench.errors import UserError
from bench.hardware.schema import HardwareProfile
from bench.records import Record


class PlannedRun(Record):
    """One set of runs to make: a workload at a load, `repeats` times, `duration_s` each."""

    role: str
    input_tokens: int
    output_tokens: int
    range_ratio: float = 0.0
    loads: str
    repeats: int
    duration_s: float
    folder: str
    command: str


class QuotePlan(Record):
    model: str
    hardware_sku: str
    runs: list[PlannedRun]
    quote_command: str
    notes: list[str] = Field(default_factory=list)


_SHAPES = {
    # kind: (prefill in/out, decode in/out, held-out in/out/ratio, probe load, sweep loads, s)
    "cpu": ((1024, 16), (32, 256), (600, 48, 0.5), 4, "1,2,4,8", 25.0),
    "gpu": ((4096, 32), (128, 1024), (1536, 384, 0.5), 16, "1,4,16,64", 60.0),
}


def _fit(inp: int, out: int, max_len: int) -> tuple[int, int]:
    """Shrink a shape proportionally so input + output stays within `max_len` − 16."""
    room = max_len - 16
    if inp + out <= room:
        return inp, out
    k = room / (inp + out)
    return max(16, int(inp * k)), max(8, int(out * k))


def quote_plan(
    entry: ModelEntry, profile: HardwareProfile, *, repeats: int, out_dir: str
) -> QuotePlan:
    """The probe, held-out and sweep runs for a quote of `entry` on `profile`.

    Raises:
        UserError: the catalog has no engine defaults for this SKU's device class.
    """
    if repeats < 1:
        raise UserError("repeats must be ≥ 1", field="--probe-repeats", fix="give 3 or more")
    _, engine = entry.engine_for(profile.kind, profile.memory_gb.value)
    max_len = engine.max_model_len or entry.architecture.context_tokens
    prefill, decode, mixed, load, sweep_loads, seconds = _SHAPES[profile.kind]
    base = f"bench sweep run --model {entry.id} --hardware {profile.sku} --warmup 2"
    runs = []
    for name, role, shape, ratio, loads, times in (
        ("probe-prefill", "prefill-heavy probe", prefill, 0.0, str(load), repeats),
        ("probe-decode", "decode-heavy probe", decode, 0.0, str(load), repeats),
        ("holdout", "held-out mixed workload", mixed[:2], mixed[2], str(load), repeats),
        ("sweep", "operating points (the workload to price)", mixed[:2], mixed[2], sweep_loads, 1),
    ):
        inp, out = _fit(int(shape[0]), int(shape[1]), max_len)
        folder = f"{out_dir}/{name}"
        spread = f" --range-ratio {ratio:g}" if ratio else ""
        runs.append(
            PlannedRun(
                role=role,
                input_tokens=inp,
                output_tokens=out,
                range_ratio=ratio,
                loads=loads,
                repeats=times,
                duration_s=seconds,
                folder=folder,
                command=f"{base} --out {folder} --input-tokens {inp} --output-tokens {out}"
                f"{spread} --loads {loads} --repeats {times} --duration-s {seconds:g}",
            )
        )
    quote = (
        f"bench quote {runs[3].folder} --probe {runs[0].folder} --probe {runs[1].folder} "
        f"--holdout {runs[2].folder} --probe-repeats {repeats}"
    )
    return QuotePlan(
        model=entry.id,
        hardware_sku=profile.sku,
        runs=runs,
        quote_command=quote,
        notes=[
            f"shapes fit {entry.id}'s context of {max_len} tokens on {profile.sku}",
            "run the probes and the held-out workload on an otherwise idle machine: identical "
            "runs on a busy host differ by more than the input/output split being measured",
            "replace the operating-point shape with the workload you sell if it differs",
        ],
    )
