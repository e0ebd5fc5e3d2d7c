"""An engine ready for a run's requests, whichever kind started it (`bench.engines.serve`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.records import Placement


@dataclass(frozen=True)
class Served:
    """Where a run sends its requests, and what it may know about the engine behind them.

    `base_url` None: the engine runs in this process (offline), there is nothing to send to.
    `model_path`: the model's files on this host (None when an endpoint run builds its
    prompts with `--tokenizer`). `token_ids`: prompts go as token ids (a vLLM this run
    serves, with the model's own tokenizer) rather than text. `watchdog()` says why the
    server is gone, None while it lives. `started`: this run started it (its caches are
    empty). `notes`: what checking the engine could not tell, for the report.
    """

    served_model: str
    base_url: str | None = None
    model_path: str | None = None
    api_key: str | None = None
    token_ids: bool = True
    watchdog: Callable[[], str | None] | None = None
    placement: Placement | None = None
    log_path: Path | None = None
    started: bool = False
    notes: tuple[str, ...] = ()
