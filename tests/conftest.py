"""Shared fixtures. The integration tests share one real vLLM server (CPU build, tiny model)
for the whole session; it is started on first use and torn down at the end."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("VLLM_NO_USAGE_STATS", "1")
# runs made by tests register in a throwaway results store, never the checkout's
os.environ.setdefault("TOKENBENCH_STORE", str(Path(tempfile.mkdtemp()) / "index.sqlite"))


class SharedServer:
    """Starts the tiny-llama vLLM server lazily; restarts it if a test killed it."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.server = None
        self.model_path: str | None = None
        self.starts = 0

    def get(self):
        from bench.catalog import load_catalog
        from bench.engines.managed import ManagedServer
        from bench.hardware import load_profile
        from bench.models.resolve import resolve_model

        if self.server is not None and self.server.dead_reason() is None:
            return self.server
        catalog, _ = load_catalog()
        entry = catalog.get("tiny-llama")
        profile = load_profile("cpu-local")
        _, engine = entry.engine_for(profile.kind, profile.memory_gb.value)
        self.model_path = resolve_model(entry)
        self.starts += 1
        self.server = ManagedServer(
            self.model_path,
            "tiny-llama",
            engine_args=engine.cli_args(),
            log_path=self.log_dir / f"server-{self.starts}.log",
        )
        self.server.start()
        return self.server

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


@pytest.fixture(scope="session")
def shared_vllm(tmp_path_factory):
    """The session's vLLM server: `.get()` returns a running ManagedServer."""
    shared = SharedServer(tmp_path_factory.mktemp("vllm"))
    yield shared
    shared.stop()


@pytest.fixture
def own_vllm(tmp_path_factory):
    """A tiny-llama vLLM server for one test alone (`.get()` starts it), stopped at the end:
    for a test that kills its server, so the shared one is never touched."""
    own = SharedServer(tmp_path_factory.mktemp("own-vllm"))
    yield own
    own.stop()


@pytest.fixture(scope="session")
def workload_section():
    """Builds a valid `Report.workload` (JSON) for the packaged `chat` workload with the
    given name and description, e.g. to carry markup into a rendered report."""
    from bench.workloads.suite import get_workload

    def build(name: str, description: str) -> dict[str, object]:
        return {
            "info": {
                "name": name,
                "kind": "text",
                "description": description,
                "seed": 1,
                "scale": 1.0,
                "requests": 16,
                "spec": get_workload("chat").model_dump(mode="json"),
            },
            "outcome": {
                "input_lengths": {
                    "checked": 16,
                    "exact": 16,
                    "within_one": 16,
                    "max_abs_error_tokens": 0,
                    "mean_abs_error_tokens": 0.0,
                }
            },
        }

    return build
