"""Turn a catalog entry into something vLLM can load, with no downloads at run time."""

from __future__ import annotations

import importlib
from pathlib import Path

from bench.catalog import BUILDERS, BuilderSource, HubSource, LocalSource, ModelEntry
from bench.errors import UserError
from bench.models.tiny import default_cache_dir


def builder(name: str):  # type: ignore[no-untyped-def]
    """Import a model builder by its registered lazy path."""
    module, attr = BUILDERS[name].split(":")
    return getattr(importlib.import_module(module), attr)


def build_model(entry: ModelEntry, cache_dir: Path | None = None, force: bool = False) -> Path:
    """Build an embedded model into the cache (no-op when already built)."""
    if not isinstance(entry.source, BuilderSource):
        raise UserError(
            f"model {entry.id!r} is not built locally (source kind {entry.source.kind!r})",
            field=f"models.{entry.id}.source",
            fix="only models with `source: {kind: builder}` can be built",
        )
    out = (cache_dir or default_cache_dir()) / "models" / entry.id
    return builder(entry.source.builder)(out, force=force)


def resolve_model(entry: ModelEntry, cache_dir: Path | None = None) -> str:
    """Return the path (or hub id already in the local cache) vLLM should load.

    Builder models are built on first use. Local paths must exist. Hub models must already
    be in the local Hugging Face cache: nothing is downloaded at run time.

    Raises:
        UserError: the model files are not on this machine.
    """
    source = entry.source
    if isinstance(source, BuilderSource):
        return str(build_model(entry, cache_dir))
    if isinstance(source, LocalSource):
        if not (source.path / "config.json").is_file():
            raise UserError(
                f"model files not found at {source.path}",
                file="models.yaml",
                field=f"models.{entry.id}.source.path",
                fix="point it at a directory holding config.json and the weights",
            )
        return str(source.path)
    assert isinstance(source, HubSource)
    try:
        from huggingface_hub import snapshot_download

        return snapshot_download(source.hub_id, revision=source.revision, local_files_only=True)
    except Exception:  # noqa: BLE001 - any failure means: not in the local cache
        raise UserError(
            f"model {source.hub_id!r} is not in the local Hugging Face cache and nothing is "
            "downloaded at run time",
            file="models.yaml",
            field=f"models.{entry.id}.source",
            fix="download it beforehand (huggingface-cli download) or use "
            "`source: {kind: local, path: ...}`",
        ) from None
