"""scripts/gpu_energy_check.py must refuse cleanly (exit 2, one clear line) on a host without
an NVIDIA driver; on a GPU host it is run by hand (see its docstring), not here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "gpu_energy_check.py"


def _nvml_loads() -> bool:
    try:
        import pynvml

        pynvml.nvmlInit()
    except Exception:
        return False
    pynvml.nvmlShutdown()
    return True


@pytest.mark.skipif(_nvml_loads(), reason="this host has an NVIDIA driver: the check would run")
def test_gpu_energy_check_fails_cleanly_without_a_gpu() -> None:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--idle-s", "1", "--load-s", "1"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.startswith("gpu_energy_check: cannot run on this host: NVML unavailable")
    assert "Traceback" not in proc.stderr
