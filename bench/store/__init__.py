"""The results store: every run and sweep registered in one SQLite index.

`register_run(run_dir, store=None)` is what the runner calls after writing a report;
`import_dirs` merges run directories made elsewhere; `Store` lists, shows and removes.
Exports are lazy so that `bench --help` (which imports `bench.store.cli`) stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Store": "bench.store.db",
    "store_path": "bench.store.db",
    "ImportOutcome": "bench.store.ingest",
    "import_dirs": "bench.store.ingest",
    "register_run": "bench.store.ingest",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'bench.store' has no attribute {name!r}")
