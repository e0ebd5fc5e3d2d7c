"""The workload suite: the packaged `bench/data/workloads.yaml`, overridable by a user file.

A user suite file has the same schema; its workloads replace packaged ones of the same
name and add new ones. Relative dataset paths resolve against the file that names them.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from bench.config.loading import read_yaml, validate_data
from bench.errors import UserError
from bench.workloads.spec import DatasetWorkload, WorkloadSpec, WorkloadSuite


def packaged_suite_path() -> Path:
    return Path(str(resources.files("bench.data").joinpath("workloads.yaml")))


def _load_file(path: Path) -> dict[str, WorkloadSpec]:
    suite = validate_data(WorkloadSuite, read_yaml(path), path)
    out: dict[str, WorkloadSpec] = {}
    for name, spec in suite.workloads.items():
        if isinstance(spec, DatasetWorkload) and not spec.path.is_absolute():
            spec = spec.model_copy(update={"path": (path.parent / spec.path).resolve()})
        out[name] = spec
    return out


def load_suite(user_file: Path | None = None) -> dict[str, WorkloadSpec]:
    """Named workloads: packaged ones, then the user's file on top (same name wins)."""
    workloads = _load_file(packaged_suite_path())
    if user_file is not None:
        workloads.update(_load_file(user_file))
    return workloads


def get_workload(name: str, user_file: Path | None = None) -> WorkloadSpec:
    """One named workload.

    Raises:
        UserError: no workload of that name (the message lists the known ones).
    """
    workloads = load_suite(user_file)
    if name not in workloads:
        raise UserError(
            f"unknown workload {name!r}",
            file=user_file or packaged_suite_path(),
            field="--workload",
            fix=f"choose one of: {', '.join(sorted(workloads))} (or add it to a suite file)",
        )
    return workloads[name]
