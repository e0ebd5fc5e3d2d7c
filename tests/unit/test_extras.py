"""Optional extras: a command whose extra is missing exits 2 naming it, before any work.

A missing package is simulated by `sys.modules[name] = None` (import then fails, and
`importlib.util.find_spec` finds nothing), in-process or in a `bench` subprocess.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.main import get_command

from bench.config.run import RunConfig
from bench.errors import UserError
from bench.extras import install_line, installed, require

FIXTURES = Path(__file__).parents[1] / "fixtures"
RUN = FIXTURES / "runs_two_skus" / "20260305T101500Z-h200-sxm-c4"
SWEEP = FIXTURES / "runs" / "h100-sxm"


def _bench(argv: list[str], hidden: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """`bench ARGV` in a subprocess where the module `hidden` cannot be imported."""
    code = (
        f"import sys; sys.modules[{hidden!r}] = None; "
        f"sys.argv = ['bench', *{argv!r}]; from bench.cli import main; main()"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )


def test_require_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    assert installed("plotly") and install_line("fleet") == "pip install 'tokenbench[fleet]'"
    monkeypatch.setitem(sys.modules, "plotly", None)
    assert not installed("plotly")
    with pytest.raises(UserError) as err:
        require("plotly", "the HTML report")
    assert "the HTML report needs plotly" in err.value.message
    assert err.value.fix == "pip install 'tokenbench[reports]'"


def test_bench_report_html_without_plotly_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    run = tmp_path / RUN.name
    shutil.copytree(RUN, run)
    done = _bench(["report", str(run), "--html"], "plotly", tmp_path)
    assert done.returncode == 2, done.stderr
    assert "pip install 'tokenbench[reports]'" in done.stderr
    assert "Traceback" not in done.stderr
    assert sorted(p.name for p in run.iterdir()) == ["report.json", "requests.jsonl"]


@pytest.mark.parametrize(
    ("argv", "hidden", "needs"),
    [
        (["report", str(RUN), "--format", "parquet"], "pyarrow", "--format parquet needs pyarrow"),
        (["quote", str(SWEEP), "--format", "xlsx", "--output", "q.xlsx"], "openpyxl", "openpyxl"),
    ],
)
def test_formats_name_the_reports_extra(
    monkeypatch: pytest.MonkeyPatch, argv: list[str], hidden: str, needs: str
) -> None:
    from bench.cli import _register_groups, app

    _register_groups()
    monkeypatch.setitem(sys.modules, hidden, None)
    with pytest.raises(UserError) as err:
        get_command(app)(argv, standalone_mode=False)
    assert needs in err.value.message and err.value.fix == "pip install 'tokenbench[reports]'"


def test_runs_export_parquet_without_pyarrow(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from bench.store.cli import app

    monkeypatch.setitem(sys.modules, "pyarrow", None)
    out = tmp_path / "out"
    with pytest.raises(UserError) as err:
        get_command(app)(["export", str(RUN), "--out", str(out)], standalone_mode=False)
    assert err.value.fix == "pip install 'tokenbench[reports]'" and not out.exists()


def test_fleet_without_ray_names_the_fleet_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from bench.cluster.nodes import import_ray

    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(UserError) as err:
        import_ray()
    assert (err.value.fix or "").startswith("pip install 'tokenbench[fleet]' (ray==2.60.0)")


def _config(tmp_path: Path, **fields: object) -> RunConfig:
    data: dict[str, object] = {
        "model": "tiny-llama",
        "workload": {"kind": "shape", "input_tokens": 8, "output_tokens": 4},
        "load": {"kind": "concurrency", "concurrency": 1},
        "num_requests": 2,
        "output_dir": str(tmp_path / "run"),
    }
    return RunConfig.model_validate(data | fields)


def test_run_preflight_names_the_engine_and_video_extras(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from bench.config.plan import plan_run, preflight

    monkeypatch.setitem(sys.modules, "vllm", None)
    monkeypatch.setattr(shutil, "which", lambda name: None)  # a CPU host
    with pytest.raises(UserError) as err:
        plan_run(_config(tmp_path))
    assert "a managed engine needs vLLM" in err.value.message
    assert (err.value.fix or "").startswith("pip install 'tokenbench[cpu]' (on a CPU host")
    endpoint = {"kind": "endpoint", "url": "http://127.0.0.1:9"}
    preflight(_config(tmp_path, engine=endpoint))  # an endpoint needs no local vLLM
    monkeypatch.setitem(sys.modules, "cv2", None)
    video = {"kind": "suite", "name": "video-native"}
    with pytest.raises(UserError) as err:
        preflight(_config(tmp_path, engine=endpoint, workload=video))
    assert "workload video-native (mp4 video) needs cv2" in err.value.message
    assert err.value.fix == "pip install 'tokenbench[video]'"
    preflight(_config(tmp_path, engine=endpoint, workload={"kind": "suite", "name": "video"}))


def test_bench_run_without_vllm_exits_2_before_any_work(tmp_path: Path) -> None:
    out = tmp_path / "run"
    done = _bench(["run", "--model", "tiny-llama", "-n", "2", "--out", str(out)], "vllm", tmp_path)
    assert done.returncode == 2, done.stderr
    # the error is the first and only thing said: no progress bar, no server start
    assert done.stderr.startswith(
        "error: engine: a managed engine needs vLLM, which is not installed on this host"
    )
    assert "pip install 'tokenbench[" in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == "" and not out.exists()
