"""`python -m bench.fleet ARGS` = `bench fleet ARGS`, with the same error handling (exit 2
for a UserError, 1 for a failed node), whether or not `fleet` is registered in bench.cli."""

from __future__ import annotations

import sys

from bench import cli

if __name__ == "__main__":
    cli._GROUPS.setdefault("fleet", "bench.fleet.cli")
    sys.argv = [sys.argv[0], "fleet", *sys.argv[1:]]
    cli.main()
