"""Bad input stops before any work with file, field and fix — through the real CLI."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bench.catalog import load_catalog
from bench.errors import UserError

REPO = Path(__file__).resolve().parents[2]


def bench(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "bench", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def test_shipped_catalog_and_profiles_validate():
    result = bench("validate")
    assert result.returncode == 0, result.stderr
    assert "models" in result.stdout


def test_models_yaml_unknown_field(tmp_path):
    data = yaml.safe_load((REPO / "models.yaml").read_text())
    data["models"][0]["colour"] = "blue"
    bad = tmp_path / "models.yaml"
    bad.write_text(yaml.safe_dump(data))
    result = bench("validate", "--models", str(bad))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert str(bad) in result.stderr and "models.0.colour" in result.stderr
    assert "unknown field" in result.stderr and "fix:" in result.stderr


def test_hardware_negative_price(tmp_path):
    src = (REPO / "hardware" / "cpu-local.yaml").read_text()
    bad_dir = tmp_path / "hw"
    bad_dir.mkdir()
    (bad_dir / "cpu-local.yaml").write_text(
        src.replace("usd_per_gpu_hour: 0.0816", "usd_per_gpu_hour: -1")
    )
    result = bench("validate", "--hardware-dir", str(bad_dir))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "cpu-local.yaml" in result.stderr and "usd_per_gpu_hour" in result.stderr


def test_missing_model_path(tmp_path):
    data = yaml.safe_load((REPO / "models.yaml").read_text())
    entry = dict(
        data["models"][0], id="mine", source={"kind": "local", "path": str(tmp_path / "nope")}
    )
    data["models"].append(entry)
    path = tmp_path / "models.yaml"
    path.write_text(yaml.safe_dump(data))
    result = bench(
        "run",
        "--model",
        "mine",
        "--out",
        str(tmp_path / "run"),
        env={"TOKENBENCH_MODELS": str(path)},
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "models.mine.source.path" in result.stderr and "not found" in result.stderr
    assert not (tmp_path / "run" / "report.json").exists()


def test_unreachable_endpoint(tmp_path):
    result = bench("run", "--endpoint", "http://127.0.0.1:9", "--out", str(tmp_path / "run"))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "http://127.0.0.1:9" in result.stderr and "--endpoint" in result.stderr
    assert "unreachable" in result.stderr and "fix:" in result.stderr


def test_existing_run_directory_is_never_overwritten(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "report.json").write_text("{}")
    result = bench("run", "--out", str(run))
    assert result.returncode == 2
    assert "already holds a run" in result.stderr
    assert (run / "report.json").read_text() == "{}"


def test_unknown_model_lists_known_ones():
    catalog, path = load_catalog()
    with pytest.raises(UserError) as err:
        catalog.get("no-such-model", path)
    assert "tiny-llama" in err.value.render()


def test_help_does_not_import_heavy_modules():
    code = (
        "import sys, bench.cli; bench.cli._register_groups(); "
        "bad = [m for m in ('vllm', 'torch', 'pynvml', 'transformers') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr
