"""Everything about a run validated before any work starts: the `RunPlan`.

`plan_run` checks the model, the hardware profile, the engine defaults that fit the device,
the `--tokenizer` option and the optional packages the run needs, and raises `UserError`
(exit 2) before a server starts or a file is written. The runner, sweeps, acceptance and
the fleet all start from a plan; the engine choice is made here once.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.catalog import EngineArgs, ModelEntry, load_catalog
from bench.config.run import RunConfig, ShapeWorkload
from bench.cost.assumptions import CostAssumptions
from bench.errors import UserError
from bench.hardware import HardwareProfile, load_profile


@dataclass(frozen=True)
class RunPlan:
    """Everything validated before any work starts.

    `engine` is the catalog entry's engine defaults for this device, found under
    `engine_defaults.<gpu_class>` in models.yaml; `engine_args` are its command-line flags
    with a managed engine's extra arguments after them.
    """

    config: RunConfig
    entry: ModelEntry
    profile: HardwareProfile
    assumptions: CostAssumptions
    gpus: int
    engine_args: list[str]
    gpu_class: str
    engine: EngineArgs

    @property
    def max_model_len(self) -> int | None:
        return self.engine.max_model_len

    @property
    def engine_field(self) -> str:
        """Where the engine defaults came from, as an error message names a field."""
        return f"models.{self.entry.id}.engine_defaults.{self.gpu_class}"


def preflight(config: RunConfig) -> None:
    """The optional packages this run needs are installed (looked up, nothing imported):
    vLLM for a managed or in-process engine, OpenCV for an mp4 video workload.

    Raises:
        UserError: naming the extra to install (exit 2), before any work starts.
    """
    from bench.extras import require, require_vllm

    if config.engine.runs_here:
        require_vllm(f"a {config.engine.kind} engine")
    if not isinstance(config.workload, ShapeWorkload):
        from bench.workloads.spec import VideoWorkload
        from bench.workloads.suite import get_workload

        ref = config.workload
        spec = get_workload(ref.name, ref.suite_file)
        if isinstance(spec, VideoWorkload) and spec.delivery == "video_url":
            require("cv2", f"workload {ref.name} (mp4 video)")


def plan_run(config: RunConfig, assumptions: CostAssumptions | None = None) -> RunPlan:
    """Validate model, hardware, engine choice and the optional packages the run needs;
    raise UserError before any work."""
    preflight(config)
    catalog, _ = load_catalog()
    entry = catalog.get(config.model)
    profile = load_profile(config.hardware)
    check_tokenizer_option(config)
    memory = profile.memory_gb.value if profile.memory_gb else None
    gpu_class, engine = entry.engine_for(profile.kind, memory)
    args = engine.cli_args() + config.engine_extra_args
    return RunPlan(
        config=config,
        entry=entry,
        profile=profile,
        assumptions=assumptions or CostAssumptions(),
        gpus=config.gpus or engine.gpus,
        engine_args=args,
        gpu_class=gpu_class,
        engine=engine,
    )


TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model")


def check_tokenizer_option(config: RunConfig) -> None:
    """`--tokenizer` names the prompts' tokenizer of an endpoint run; check it before work.

    Raises:
        UserError: given with a managed or offline engine (they use the model's own), or
            the folder holds no tokenizer file.
    """
    path = config.tokenizer
    if path is None:
        return
    if config.engine.runs_here:
        raise UserError(
            "--tokenizer is for --endpoint runs: a managed or offline engine builds its "
            "prompts with the model's own tokenizer",
            field="--tokenizer",
            fix="drop --tokenizer, or benchmark a running server with --endpoint URL",
        )
    if not path.is_dir() or not any((path / name).is_file() for name in TOKENIZER_FILES):
        raise UserError(
            "no tokenizer files found",
            file=path,
            field="--tokenizer",
            fix=f"point it at a folder holding one of {', '.join(TOKENIZER_FILES)} (e.g. "
            "the served model's download folder)",
        )
