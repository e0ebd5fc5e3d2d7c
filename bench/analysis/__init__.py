"""Results as pandas DataFrames: one row per run (`load_runs`) or per request
(`load_requests`), from run directories or the results store, units in column names.

    from bench.analysis import load_runs, load_requests
    runs = load_runs(["reports/sweep-h100", "reports/sweep-h200"])
    runs.groupby("sku")["cost_usd_per_m_output_tokens"].min()

pandas itself loads when a frame is built.
"""

from bench.analysis.frames import load_requests, load_runs, run_dirs

__all__ = ["load_requests", "load_runs", "run_dirs"]
