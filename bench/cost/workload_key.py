"""Like-for-like workloads: what a run measured, as a key that two runs share only when their
results can be compared or priced together.

A key is the workload's shape (input and output lengths and their spread, or a named suite
workload with its scale and resolved spec), the API (completions or chat) and the modality
(text, image, video). Seeds are not part of it: two seeds of one workload draw the same
distributions. Quote and compare group runs by key and refuse, naming the runs, to price or
compare across keys.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from bench.config.run import ShapeWorkload
from bench.errors import UserError
from bench.records import Record
from bench.report.records import Report

T = TypeVar("T")

_MODALITY = {"text": "text", "sessions": "text", "dataset": "text", "image": "image",
             "video": "video"}  # fmt: skip


class WorkloadKey(Record):
    """What a run measured, for matching: `label` for people, `detail` for equality."""

    label: str
    api: str
    modality: str
    detail: str

    @property
    def identity(self) -> tuple[str, str, str]:
        return (self.detail, self.api, self.modality)


def _spec_identity(spec: dict[str, Any]) -> str:
    """The resolved suite spec minus what does not change the distributions (seed, text)."""
    kept = {k: v for k, v in spec.items() if k not in ("seed", "description")}
    return json.dumps(kept, sort_keys=True, default=str)


def workload_key(report: Report) -> WorkloadKey:
    """The workload key of a stored run (from its config and its report's workload section)."""
    workload = report.config.workload
    if isinstance(workload, ShapeWorkload):
        inp, out, ratio = workload.input_tokens, workload.output_tokens, workload.range_ratio
        spread = f" ±{ratio:.0%}" if ratio else ""
        return WorkloadKey(
            label=f"{inp}{spread}/{out} ({workload.api})",
            api=workload.api,
            modality="text",
            detail=f"shape {inp}/{out} r={ratio:g}",
        )
    info = report.workload.info if report.workload is not None else None
    spec: dict[str, Any] = {} if info is None else info.spec.model_dump(mode="json")
    scale = info.scale if info is not None else workload.scale
    return WorkloadKey(
        label=workload.name + ("" if scale in (1, 1.0) else f" ×{scale}"),
        api=str(spec.get("api", "chat")),
        modality=_MODALITY.get(str(spec.get("kind", "text")), "text"),
        detail=f"suite {workload.name} scale={scale} spec={_spec_identity(spec)}",
    )


def group_by_workload(items: Sequence[T], key: Callable[[T], WorkloadKey]) -> dict[str, list[T]]:
    """Items grouped by workload, in first-seen order, keyed by the workload's label
    (labels made unique with a suffix when two different workloads share one)."""
    groups: dict[tuple[str, str, str], tuple[str, list[T]]] = {}
    labels: set[str] = set()
    for item in items:
        k = key(item)
        if k.identity not in groups:
            label = k.label
            while label in labels:
                label += "'"
            labels.add(label)
            groups[k.identity] = (label, [])
        groups[k.identity][1].append(item)
    return {label: members for label, members in groups.values()}


def one_workload(groups: dict[str, list[T]], names: Callable[[T], str], what: str) -> None:
    """Check that `groups` holds one workload.

    Raises:
        UserError: several workloads; the message names each and its runs.
    """
    if len(groups) <= 1:
        return
    listing = "; ".join(
        f"{label}: {', '.join(names(m) for m in members)}" for label, members in groups.items()
    )
    raise UserError(
        f"{what} mix {len(groups)} workloads, which are not priced or compared together: {listing}",
        field=what,
        fix="give the runs of one workload (shape, lengths, API, modality) here; probe runs "
        "go with --probe, held-out runs with --holdout",
    )
