"""The results store: every run and sweep registered in one SQLite index.

`register_run(run_dir, store=None)` is what the runner calls after writing a report;
`import_dirs` merges run directories made elsewhere; `Store` lists, shows and removes.
"""

from bench.store.db import Store, store_path
from bench.store.ingest import ImportOutcome, import_dirs, register_run

__all__ = ["ImportOutcome", "Store", "import_dirs", "register_run", "store_path"]
