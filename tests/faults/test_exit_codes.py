"""Exit codes: 0 a complete run, 1 a partial or failed one (or a command's own failure),
2 bad input, 128 + signal number when a stop signal ended it (tests/faults/test_signals)."""

from __future__ import annotations

import pytest
import typer
from conftest import bench_cli

import bench.cli as cli


def test_complete_run_exits_0_and_bad_input_exits_2(fault_server, tmp_path):
    server = fault_server()
    url, out = server.base_url, str(tmp_path / "a")
    ok = bench_cli("run", "--endpoint", url, "--served-model", "synth", "-n", "4",
                   "--concurrency", "2", "--output-tokens", "3", "--out", out)  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    bad = bench_cli("run", "--endpoint", server.base_url, "--concurrency", "0",
                    "--out", str(tmp_path / "b"))  # fmt: skip
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "load.concurrency" in bad.stderr and not (tmp_path / "b").exists()


@pytest.mark.parametrize(("raised", "code"), [(typer.Exit(1), 1), (typer.Exit(3), 3)])
def test_a_commands_own_exit_code_is_the_process_exit_code(monkeypatch, raised, code):
    """`bench accept` exits with its verdict's code through typer.Exit: the CLI framework
    hands that code back instead of exiting, and it was dropped (exit 0)."""
    app = typer.Typer()

    @app.command()
    def fails() -> None:
        raise raised

    monkeypatch.setattr(cli, "app", app)
    monkeypatch.setattr(cli, "_register_groups", lambda: None)
    monkeypatch.setattr("sys.argv", ["bench"])
    with pytest.raises(SystemExit) as exc:
        cli.main()
    assert exc.value.code == code
