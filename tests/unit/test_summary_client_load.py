"""summary.md's client-load line: the busiest process, the cores the client may use, and
the largest event-loop lag (what bounds a late timestamp)."""

from pathlib import Path

from bench.records import ClientLoad, Distribution
from bench.report.io import load_report
from bench.report.summary import render_summary

RUN = Path(__file__).resolve().parents[1] / "fixtures" / "runs" / "l40s" / "sweep-c4"


def test_client_line_names_the_allowed_cores_and_the_largest_lag():
    report = load_report(RUN)
    assert report.summary is not None
    client = ClientLoad(
        cpu_s=0.95, wall_s=1.0, cpu_fraction=0.47, allowed_cpus=[0], allowed_cpu_fraction=0.95,
        loop_lag_s=Distribution(count=3, p99=0.0164, max=0.098), warnings=["w1"],
    )  # fmt: skip
    summary = report.summary.model_copy(update={"client": client})
    text = render_summary(report.model_copy(update={"summary": summary}))
    assert (
        "Client load: 47% of one core (busiest process), 95% of the 1 CPU(s) it may use (0), "
        "event-loop lag p99 16.4 ms, max 98.0 ms\n- warning: w1"
    ) in text
