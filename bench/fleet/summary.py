"""The fleet summary: every node of a fleet run, its figure from the central results store,
its rank within its SKU and whether it is an outlier (`bench.fleet.standing`).

The manifest says which runs each node produced (`run_ids`); the figures come from the
store's entries for those runs (the median over a node's runs when it has several, e.g.
an acceptance soak). Written beside the manifest as `fleet_summary.json` and `.md`.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Literal

from bench.fleet.manifest import FLEET_MANIFEST
from bench.fleet.records import FleetManifest
from bench.fleet.standing import NodeFigure, NodeStanding, standings
from bench.records import Record
from bench.report.io import write_atomic

Metric = Literal[
    "output_tok_per_s",
    "output_tok_per_s_per_gpu",
    "total_tok_per_s",
    "total_tok_per_s_per_gpu",
    "interactivity_p50_tok_per_s",
]
SUMMARY_JSON = "fleet_summary.json"
SUMMARY_MD = "fleet_summary.md"


class NodeRow(Record):
    """One line of the summary: the node's state and standing."""

    name: str
    node_id: str
    gpu_type: str | None = None
    status: str
    attempts: int
    verdict: str | None = None
    run_ids: list[str]
    standing: NodeStanding
    reason: str | None = None


class FleetSummary(Record):
    fleet_id: str
    job_kind: str
    status: str
    metric: Metric
    store: str
    nodes: list[NodeRow]
    notes: list[str]

    @property
    def outliers(self) -> list[str]:
        return [r.name for r in self.nodes if r.standing.outlier]


def sku_margin(sku: str, margin: float | None) -> float:
    """`margin` when given, else the SKU's acceptance outlier margin (default 10 %)."""
    if margin is not None:
        return margin
    from bench.accept.bands import DEFAULT_OUTLIER_MARGIN, bands_for_sku
    from bench.errors import UserError

    try:
        return bands_for_sku(sku).outlier_margin_fraction
    except UserError:  # a SKU given as a path that moved: the default, said in a note
        return DEFAULT_OUTLIER_MARGIN


def summarize_fleet(
    manifest: FleetManifest,
    store: Path | str | None = None,
    *,
    metric: Metric = "output_tok_per_s",
    margin: float | None = None,
) -> FleetSummary:
    """Nodes from the manifest, figures from the store, standings per SKU."""
    from bench.store import Store

    notes: list[str] = []
    figures: list[NodeFigure] = []
    with Store(store) as db:
        where = str(db.path)
        for node in manifest.nodes:
            values = []
            for run_id in node.run_ids:
                entry = db.get_run(run_id)
                if entry is None:
                    notes.append(f"{node.name}: run {run_id} is not in the store {where}")
                elif getattr(entry, metric) is not None and entry.status == "complete":
                    values.append(float(getattr(entry, metric)))
            value = statistics.median(values) if values and node.status == "done" else None
            figures.append(NodeFigure(name=node.name, sku=node.sku, value=value))
    margins = {sku: sku_margin(sku, margin) for sku in {n.sku for n in manifest.nodes}}
    by_name = {s.name: s for s in standings(figures, margins)}
    rows = [
        NodeRow(
            name=n.name,
            node_id=n.node_id,
            gpu_type=n.gpu_type,
            status=n.status,
            attempts=n.attempts,
            verdict=n.verdict,
            run_ids=n.run_ids,
            standing=by_name[n.name],
            reason=n.reason,
        )
        for n in manifest.nodes
    ]
    order = {s.name: i for i, s in enumerate(by_name.values())}
    rows.sort(key=lambda r: order[r.name])
    return FleetSummary(
        fleet_id=manifest.fleet_id,
        job_kind=manifest.job.kind,
        status=manifest.status,
        metric=metric,
        store=where,
        nodes=rows,
        notes=notes,
    )


def _num(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def render_summary(summary: FleetSummary) -> str:
    """Markdown: one row per node, outliers marked, failures with their reason."""
    lines = [
        f"# Fleet {summary.fleet_id} ({summary.job_kind}): {summary.status}",
        "",
        f"Figure: {summary.metric} (higher is better), from the store {summary.store}. "
        "Outlier: more than the margin below the median of the other nodes of its SKU.",
        "",
        "| rank | node | SKU | GPU type | status | "
        + summary.metric
        + " | vs others' median | margin | outlier | verdict | reason |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in summary.nodes:
        s = row.standing
        rank = f"{s.rank}/{s.of}" if s.rank is not None else "-"
        ratio = f"{s.ratio:.2f}×" if s.ratio is not None else "-"
        reason = (row.reason or "").replace("|", "/").replace("\n", " ")[:200]
        lines.append(
            f"| {rank} | {row.name} | {s.sku} | {row.gpu_type or '-'} | {row.status} | "
            f"{_num(s.value)} | {ratio} | {s.margin:.0%} | {'OUTLIER' if s.outlier else ''} | "
            f"{row.verdict or '-'} | {reason} |"
        )
    if summary.notes:
        lines += ["", *[f"- {note}" for note in summary.notes]]
    return "\n".join(lines) + "\n"


def write_summary(
    fleet_dir: Path,
    store: Path | str | None = None,
    *,
    metric: Metric = "output_tok_per_s",
    margin: float | None = None,
) -> FleetSummary:
    """Summarize the fleet in `fleet_dir` and write fleet_summary.json / .md beside it."""
    summary = summarize_fleet(FLEET_MANIFEST.read(fleet_dir), store, metric=metric, margin=margin)
    write_atomic(fleet_dir / SUMMARY_JSON, summary.model_dump_json(indent=2))
    write_atomic(fleet_dir / SUMMARY_MD, render_summary(summary))
    return summary
