"""Engines: a managed `vllm serve`, any OpenAI-compatible endpoint, or in-process vllm.LLM.

`serve(plan, log_path)` opens the engine the plan's config names by its `kind`, through
`ENGINES` (lazy "module:attr" paths, so importing this package never imports vLLM), and
yields a `Served` for the length of the `with` block.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench.config.plan import RunPlan
    from bench.engines.served import Served

Say = Callable[[str], None]

ENGINES: dict[str, str] = {
    "managed": "bench.engines.managed:serve_managed",
    "endpoint": "bench.engines.endpoint:serve_endpoint",
    "offline": "bench.engines.offline:serve_offline",
}


def serve(plan: RunPlan, log_path: Path, say: Say | None = None) -> AbstractContextManager[Served]:
    """The plan's engine, up and checked, as a context manager yielding `Served`;
    `log_path` is where a server this run starts keeps its log, `say` hears progress.

    Raises (on entering):
        UserError: the engine cannot be used (unreachable endpoint, a cluster too small).
        RunFailed: a managed server did not start.
    """
    module, _, attr = ENGINES[plan.config.engine.kind].partition(":")
    opener = getattr(importlib.import_module(module), attr)
    return opener(plan, log_path, say or (lambda _message: None))  # type: ignore[no-any-return]
