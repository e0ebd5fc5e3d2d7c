"""`bench` with the fault server standing in for vLLM as the managed server.

    python tests/faults/managed_owner.py PIDS_FILE [FAULT_FLAG ...] -- [BENCH_ARGS ...]

`ManagedServer` starts `fault_server.py --port <its port> --model <served model>
--pids-file PIDS_FILE FAULT_FLAGS` instead of vLLM; the stand-in starts a child of its own
(as vLLM starts its engine core), so the managed process group holds two processes, and
writes both ids to PIDS_FILE. With no BENCH_ARGS it starts the server and waits (to be
killed); otherwise it runs `bench BENCH_ARGS` (the real CLI, signals and exit codes).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from bench.engines.managed import ManagedServer  # noqa: E402


def main() -> None:
    pids_file, rest = sys.argv[1], sys.argv[2:]
    cut = rest.index("--") if "--" in rest else len(rest)
    faults, bench_args = rest[:cut], rest[cut + 1 :]

    def command(self: ManagedServer) -> list[str]:
        return [sys.executable, str(HERE / "fault_server.py"), f"--port={self.port}",
                f"--model={self.served_model}", f"--pids-file={pids_file}", *faults]  # fmt: skip

    ManagedServer.command = command  # type: ignore[method-assign]
    if not bench_args:
        server = ManagedServer("unused", "synth", log_path=Path(pids_file + ".log"))
        server.start()
        print("started", flush=True)
        time.sleep(600)
        return
    from bench.cli import main as bench_main

    sys.argv = ["bench", *bench_args]
    bench_main()


if __name__ == "__main__":
    main()
