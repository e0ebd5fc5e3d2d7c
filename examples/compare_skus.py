"""Compare two SKUs' runs with pandas: cost per million output tokens against interactivity.

    python examples/compare_skus.py [RUNS ...] [--min-interactivity 50] [--out FILE.html]

RUNS are run directories, folders of them or a results store (default: the two-SKU fixture
runs under tests/fixtures/runs_two_skus). Prints one row per run and, per SKU, the cheapest
run that still gives every user at least `--min-interactivity` tokens/s (1 / TPOT p50);
writes the cost-vs-interactivity plot as a self-contained HTML file (plotly, no network).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from bench.analysis import load_runs

FIXTURE_RUNS = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "runs_two_skus"

COLUMNS = [
    "sku",
    "load_value",
    "interactivity_p50_tok_per_s",
    "output_tok_per_s_per_gpu",
    "cost_usd_per_m_output_tokens",
    "cost_estimated",
    "run_id",
]


def sku_points(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per costed run: SKU, load, interactivity, output tok/s per GPU, USD per M
    output tokens, whether the cost used an estimated input; by SKU and interactivity."""
    costed = runs.dropna(subset=["cost_usd_per_m_output_tokens", "interactivity_p50_tok_per_s"])
    return costed[COLUMNS].sort_values(["sku", "interactivity_p50_tok_per_s"], ignore_index=True)


def cheapest_meeting(points: pd.DataFrame, min_interactivity: float) -> pd.DataFrame:
    """Per SKU, the lowest cost per M output tokens among runs with interactivity at least
    `min_interactivity` tok/s per user (a SKU with no such run is left out)."""
    ok = points[points["interactivity_p50_tok_per_s"] >= min_interactivity]
    best = ok.loc[ok.groupby("sku")["cost_usd_per_m_output_tokens"].idxmin()]
    return best.sort_values("cost_usd_per_m_output_tokens", ignore_index=True)


def plot(points: pd.DataFrame, min_interactivity: float, path: Path) -> Path:
    """Cost per M output tokens (USD) against interactivity, one line per SKU, as HTML."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for sku, group in points.groupby("sku"):
        symbols = ["circle-open" if e else "circle" for e in group["cost_estimated"].fillna(False)]
        fig.add_trace(
            go.Scatter(
                x=group["interactivity_p50_tok_per_s"],
                y=group["cost_usd_per_m_output_tokens"],
                mode="markers+lines",
                name=str(sku),
                text=[f"c={v:g}" for v in group["load_value"]],
                marker={"size": 10, "symbol": symbols},
            )
        )
    fig.add_vline(x=min_interactivity, line_dash="dash", annotation_text="target")
    fig.update_layout(
        title="Cost per million output tokens vs interactivity (open marker: estimated power)",
        xaxis_title="interactivity (tok/s per user, 1 / TPOT p50)",
        yaxis_title="USD per million output tokens",
        template="plotly_white",
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.write_html(path, include_plotlyjs=True)
    return path


def main(argv: list[str] | None = None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="*", type=Path, default=[FIXTURE_RUNS])
    parser.add_argument("--min-interactivity", type=float, default=50.0)
    parser.add_argument("--out", type=Path, default=Path("reports/compare_skus.html"))
    args = parser.parse_args(argv)
    points = sku_points(load_runs(args.runs))
    best = cheapest_meeting(points, args.min_interactivity)
    with pd.option_context("display.width", 160, "display.max_columns", None):
        print(points.to_string(index=False))
        print(f"\ncheapest run per SKU at ≥ {args.min_interactivity:g} tok/s per user:")
        print(best.to_string(index=False))
    if len(best) >= 2:
        low, high = best.iloc[0], best.iloc[-1]
        saving = 1 - low["cost_usd_per_m_output_tokens"] / high["cost_usd_per_m_output_tokens"]
        est = list(best.loc[best["cost_estimated"].fillna(False).astype(bool), "sku"])
        print(
            f"\n{low['sku']} is {saving:.0%} cheaper per output token than {high['sku']}"
            + (f" (estimated power in the cost of {', '.join(est)})" if est else "")
        )
    print(f"wrote {plot(points, args.min_interactivity, args.out)}")
    return points


if __name__ == "__main__":
    main(sys.argv[1:])
