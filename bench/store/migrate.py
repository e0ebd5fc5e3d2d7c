"""Store layout 1 → 2: cost columns in USD with the run's display currency beside them.

Layout 1 kept `cost_currency`, `cost_per_m_output_tokens` and `cost_per_m_total_tokens` in
the report's currency; layout 2 keeps `cost_usd_per_m_*` and `cost_display_currency` /
`cost_display_per_usd`. A USD row converts as it is; a row in another currency has no FX
rate in the store, so its cost is read again from its run directory (through the report
reader, which migrates the report itself), and is left absent when that cannot be read.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.errors import UserError
from bench.records import CostBreakdown

Row = dict[str, Any]

_RENAMED_AWAY = ("cost_currency", "cost_per_m_output_tokens", "cost_per_m_total_tokens")


def report_cost(run_dir: str) -> CostBreakdown | None:
    """The cost section of the report in `run_dir` (None when unreadable or absent)."""
    from bench.report.io import load_report

    try:
        return load_report(Path(run_dir)).cost
    except UserError:
        return None


def run_row_v1_to_v2(
    row: Row, read_cost: Callable[[str], CostBreakdown | None] = report_cost
) -> Row:
    """A layout 1 `runs` row as a layout 2 row (see the module docstring)."""
    out = {k: v for k, v in row.items() if k not in _RENAMED_AWAY}
    currency = row.get("cost_currency")
    usd = {
        "cost_display_currency": currency,
        "cost_display_per_usd": None,
        "cost_usd_per_m_output_tokens": None,
        "cost_usd_per_m_total_tokens": None,
    }
    if currency == "USD":
        usd |= {
            "cost_display_per_usd": 1.0,
            "cost_usd_per_m_output_tokens": row.get("cost_per_m_output_tokens"),
            "cost_usd_per_m_total_tokens": row.get("cost_per_m_total_tokens"),
        }
    elif currency is not None:
        cost = read_cost(str(row.get("run_dir")))
        if cost is not None:
            usd |= {
                "cost_display_currency": cost.display.currency,
                "cost_display_per_usd": cost.display.per_usd,
                "cost_usd_per_m_output_tokens": cost.cost_usd_per_m_output_tokens,
                "cost_usd_per_m_total_tokens": cost.cost_usd_per_m_total_tokens,
            }
    return out | usd
