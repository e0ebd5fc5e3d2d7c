"""Read a stored sweep's curve.json and describe it as text (curve, front, operating point)."""

from __future__ import annotations

from pathlib import Path

from bench.errors import UserError
from bench.report.io import read_json_file
from bench.sweep.curve import XMetric, operating_point
from bench.sweep.run import CURVE_NAME, SweepReport
from bench.sweep.slo import STATS

X_METRICS: tuple[str, ...] = ("interactivity_tok_per_s", "ttft_s", "tpot_s", "e2e_s")


def load_sweep_report(sweep_dir: Path) -> SweepReport:
    """Read `<sweep_dir>/curve.json`.

    Raises:
        UserError: missing, not JSON, or not a sweep report.
    """
    return read_json_file(
        sweep_dir / CURVE_NAME, SweepReport, what="sweep report",
        missing="no curve.json here", fix="give a folder made by `bench sweep`",
    )  # fmt: skip


def curve_text(report: SweepReport) -> str:
    """One line per load level (mean over repeats), front points marked with '*'."""
    front = {p.load for p in report.front}
    lines = [
        f"sweep {report.sweep_id}: {report.status}, {report.gpus} GPU(s), "
        f"{report.server_starts} server start(s), prefix-cache resets "
        f"{report.prefix_cache_resets_ok} ok / {report.prefix_cache_resets_failed} failed",
        f"  {report.load_kind:>11}  tok/s/GPU  (in / out)        tok/s/user p50  TTFT p90 s  "
        "E2E p90 s  err",
    ]
    for lv in report.levels:
        p = lv.mean_point
        ci = lv.total_tok_per_s_per_gpu
        spread = f" ±{ci.half_width:.1f}" if ci.half_width is not None else ""
        inter = f"{p.interactivity_tok_per_s:.1f}" if p.interactivity_tok_per_s else "-"
        ttft = f"{p.ttft_s.p90:.3f}" if p.ttft_s.p90 is not None else "-"
        e2e = f"{p.e2e_s.p90:.3f}" if p.e2e_s.p90 is not None else "-"
        flag = " unstable" if lv.flagged else ""
        mark = "*" if p.load in front else " "
        lines.append(
            f"{mark} {p.load:>11g}  {p.total_tok_per_s_per_gpu:9.1f}{spread} "
            f"({p.input_tok_per_s_per_gpu:.1f} / {p.output_tok_per_s_per_gpu:.1f})  "
            f"{inter:>14}  {ttft:>10}  {e2e:>9}  {p.error_rate:.1%}{flag}"
        )
    if report.stop_reason:
        lines.append(f"stopped: {report.stop_reason}")
    if report.failed_runs:
        lines.append(f"failed runs: {', '.join(report.failed_runs)}")
    if report.search is not None:
        lines.append(f"search: {report.search.note}")
    return "\n".join(lines)


def operating_point_text(report: SweepReport, target: float, x: str, stat: str) -> str:
    """The operating point at `target` on the report's levels, as a short paragraph.

    Raises:
        UserError: unknown x metric or statistic.
    """
    if x not in X_METRICS:
        raise UserError(f"unknown x {x!r}", field="--x", fix=f"one of {', '.join(X_METRICS)}")
    if stat not in STATS:
        raise UserError(f"unknown statistic {stat!r}", field="--stat", fix=", ".join(STATS))
    metric: XMetric = x  # type: ignore[assignment]
    op = operating_point(
        [lv.mean_point for lv in report.levels], target, x_metric=metric, x_stat=stat
    )
    head = f"operating point at {x}.{stat} = {target:g}: {op.status}"
    if op.total_tok_per_s_per_gpu is None:
        return f"{head}\n  {op.note}"
    return (
        f"{head}\n  {op.total_tok_per_s_per_gpu:.1f} tok/s/GPU "
        f"(in {op.input_tok_per_s_per_gpu:.1f} / out {op.output_tok_per_s_per_gpu:.1f})\n"
        f"  {op.note}"
    )
