"""The model catalog (models.yaml): where each model comes from, what it is, how to serve it.

`engine_defaults` are keyed by GPU class: `cpu`, or `gpu-<N>g` meaning "a GPU with at least
N GB of memory"; the entry for a profile is the largest class its memory reaches.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator

from bench.config.loading import StrictConfig, load_model
from bench.errors import UserError

BUILDERS: dict[str, str] = {
    "tiny-llama": "bench.models.tiny:build_tiny_llama",
    "tiny-vlm": "bench.models.vlm:build_tiny_vlm",
    "tiny-video-vlm": "bench.models.vlm_video:build_tiny_video_vlm",
}
GPU_CLASS = re.compile(r"^(cpu|gpu-(\d+)g)$")
Reliability = Literal["verified", "secondary", "unverified", "exact"]


class HubSource(StrictConfig):
    kind: Literal["hub"] = "hub"
    hub_id: str
    revision: str | None = None


class BuilderSource(StrictConfig):
    kind: Literal["builder"] = "builder"
    builder: str

    @field_validator("builder")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in BUILDERS:
            raise ValueError(f"unknown builder {value!r}; known: {', '.join(sorted(BUILDERS))}")
        return value


class LocalSource(StrictConfig):
    kind: Literal["local"] = "local"
    path: Path


Source = Annotated[HubSource | BuilderSource | LocalSource, Field(discriminator="kind")]


class Architecture(StrictConfig):
    """Facts about the model, each entry citing where it comes from.

    `layers`, `kv_heads` and `head_dim` give the KV cache per token (2 × layers × kv_heads
    × head_dim × bytes per value); None where the catalog does not know them.
    """

    family: str
    total_params_b: float = Field(gt=0)
    active_params_b: float = Field(gt=0)
    kind: Literal["dense", "moe"]
    context_tokens: int = Field(gt=0)
    modality: list[Literal["text", "image", "video"]]
    layers: int | None = Field(default=None, ge=1)
    kv_heads: int | None = Field(default=None, ge=1)
    head_dim: int | None = Field(default=None, ge=1)
    notes: str | None = None
    source: str
    reliability: Reliability


class EngineArgs(StrictConfig):
    """vLLM engine arguments for one GPU class (also the multi-node settings)."""

    tensor_parallel_size: int = Field(default=1, ge=1)
    pipeline_parallel_size: int = Field(default=1, ge=1)
    data_parallel_size: int = Field(default=1, ge=1)
    enable_expert_parallel: bool = False
    nodes: int = Field(default=1, ge=1)
    distributed_executor_backend: Literal["mp", "ray"] | None = None
    dtype: str | None = None
    quantization: str | None = None
    kv_cache_dtype: str | None = None
    max_model_len: int | None = Field(default=None, ge=16)
    max_num_seqs: int | None = Field(default=None, ge=1)
    extra_args: list[str] = Field(default_factory=list)

    @property
    def gpus(self) -> int:
        """GPUs one model replica uses (tensor × pipeline × data parallel)."""
        return self.tensor_parallel_size * self.pipeline_parallel_size * self.data_parallel_size

    def cli_args(self) -> list[str]:
        """The `vllm serve` arguments these settings stand for."""
        args = []
        if self.tensor_parallel_size > 1:
            args += ["--tensor-parallel-size", str(self.tensor_parallel_size)]
        if self.pipeline_parallel_size > 1:
            args += ["--pipeline-parallel-size", str(self.pipeline_parallel_size)]
        if self.data_parallel_size > 1:
            args += ["--data-parallel-size", str(self.data_parallel_size)]
        if self.enable_expert_parallel:
            args.append("--enable-expert-parallel")
        if self.distributed_executor_backend:
            args += ["--distributed-executor-backend", self.distributed_executor_backend]
        for flag, value in (
            ("--dtype", self.dtype),
            ("--quantization", self.quantization),
            ("--kv-cache-dtype", self.kv_cache_dtype),
            ("--max-model-len", self.max_model_len),
            ("--max-num-seqs", self.max_num_seqs),
        ):
            if value is not None:
                args += [flag, str(value)]
        return args + list(self.extra_args)


_PARALLEL_FLAGS = {
    "--tensor-parallel-size": "tp",
    "-tp": "tp",
    "--pipeline-parallel-size": "pp",
    "-pp": "pp",
    "--data-parallel-size": "dp",
    "-dp": "dp",
}


def gpus_from_engine_args(args: Sequence[str]) -> int:
    """GPUs a vLLM server uses = tensor × pipeline × data parallel size (each 1 if absent).

    Reads `--tensor-parallel-size N`, `-tp N`, `--tensor-parallel-size=N` and the pipeline
    (`-pp`) and data (`-dp`) equivalents. Example: `-tp 4 -pp 2` → 8.

    Raises:
        UserError: a size is missing or not a positive integer.
    """
    sizes = {"tp": 1, "pp": 1, "dp": 1}
    i = 0
    while i < len(args):
        flag, _, inline = args[i].partition("=")
        if flag in _PARALLEL_FLAGS:
            text = inline if inline else (args[i + 1] if i + 1 < len(args) else "")
            if not inline:
                i += 1
            if not text.isdigit() or int(text) < 1:
                raise UserError(
                    f"{flag} needs a positive integer, got {text!r}",
                    field="engine.extra_args",
                    fix=f"write {flag} N with N ≥ 1",
                )
            sizes[_PARALLEL_FLAGS[flag]] = int(text)
        i += 1
    return sizes["tp"] * sizes["pp"] * sizes["dp"]


class ModelEntry(StrictConfig):
    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    description: str
    source: Source
    architecture: Architecture
    engine_defaults: dict[str, EngineArgs]

    @field_validator("engine_defaults")
    @classmethod
    def _classes(cls, value: dict[str, EngineArgs]) -> dict[str, EngineArgs]:
        for key in value:
            if not GPU_CLASS.match(key):
                raise ValueError(f"GPU class {key!r} must be 'cpu' or 'gpu-<N>g' (e.g. gpu-80g)")
        if not value:
            raise ValueError("give engine defaults for at least one GPU class")
        return value

    def engine_for(self, kind: str, memory_gb: float | None) -> tuple[str, EngineArgs]:
        """Pick the engine defaults for a device: `cpu`, or the largest `gpu-Ng` ≤ memory.

        Raises:
            UserError: no class fits.
        """
        if kind == "cpu":
            if "cpu" in self.engine_defaults:
                return "cpu", self.engine_defaults["cpu"]
        else:
            fitting = sorted(
                (int(m.group(2)), key)
                for key in self.engine_defaults
                if (m := GPU_CLASS.match(key))
                and m.group(2)
                and int(m.group(2)) <= (memory_gb or 0)
            )
            if fitting:
                key = fitting[-1][1]
                return key, self.engine_defaults[key]
        raise UserError(
            f"model {self.id!r} has no engine defaults for a {kind} device"
            + (f" with {memory_gb:g} GB" if memory_gb else ""),
            file="models.yaml",
            field=f"models.{self.id}.engine_defaults",
            fix=f"add an entry for this device class (have: {', '.join(self.engine_defaults)})",
        )


class ModelCatalog(StrictConfig):
    schema_version: Literal[1] = 1
    models: list[ModelEntry]

    @field_validator("models")
    @classmethod
    def _unique(cls, value: list[ModelEntry]) -> list[ModelEntry]:
        ids = [m.id for m in value]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate model ids: {', '.join(dupes)}")
        return value

    def find(self, model: str) -> ModelEntry | None:
        """The entry whose id or hub id is `model` (runs name either), None if not listed."""
        for entry in self.models:
            if model == entry.id or model == getattr(entry.source, "hub_id", None):
                return entry
        return None

    def get(self, model_id: str, source: Path | str = "models.yaml") -> ModelEntry:
        for entry in self.models:
            if entry.id == model_id:
                return entry
        raise UserError(
            f"unknown model {model_id!r}",
            file=source,
            field="models",
            fix=f"use one of: {', '.join(m.id for m in self.models)} (or add an entry)",
        )


def default_catalog_path() -> Path:
    """$TOKENBENCH_MODELS, else models.yaml of the checkout, else the packaged copy."""
    env = os.environ.get("TOKENBENCH_MODELS")
    if env:
        return Path(env)
    repo = Path(__file__).resolve().parent.parent / "models.yaml"
    if repo.is_file():
        return repo
    return Path(__file__).resolve().parent / "data" / "models.yaml"


def load_catalog(path: Path | None = None) -> tuple[ModelCatalog, Path]:
    """Load and validate models.yaml; returns the catalog and the file it came from."""
    path = path or default_catalog_path()
    return load_model(ModelCatalog, path), path
