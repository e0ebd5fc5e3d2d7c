"""Older report.json documents brought up to the current schema, as JSON, before validation.

One function per step (`v1_to_v2`), each pure: a JSON object in, a new JSON object out
(the input is not changed; nothing is written back to disk). `migrate` chains the steps.

v1 → v2:
- `cost`: money was in the report's currency (`currency`, with `fx_usd_per_unit` USD per
  unit); v2 stores USD. Every money field and every cost line whose unit starts with the
  currency is multiplied by `fx_usd_per_unit`, the unit renamed to `USD/...`, and
  `currency` + `fx_usd_per_unit` become `display` {currency, per_usd = 1 / fx_usd_per_unit,
  fx_source}. Renames: gpu_hour_cost → gpu_hour_cost_usd, effective_gpu_hour_cost →
  effective_gpu_hour_cost_usd, per_m_output_tokens → cost_usd_per_m_output_tokens,
  per_m_total_tokens → cost_usd_per_m_total_tokens.
- `energy`: price_per_kwh → price_usd_per_kwh, totals' energy_cost → energy_cost_usd and
  energy_cost_per_m_output_tokens → energy_cost_usd_per_m_output_tokens, converted at the
  cost's rate. A v1 report with an energy price but no cost section does not say which
  currency the price was in: those figures become absent, with a note (never a guess).
- `config` and `workload` keep their JSON shape; v2 validates them as typed records.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

JSON = dict[str, Any]

V1_FX_SOURCE = "fx_usd_per_unit recorded in a schema v1 report (source not recorded)"

_V1_COST_MONEY = {
    "gpu_hour_cost": "gpu_hour_cost_usd",
    "effective_gpu_hour_cost": "effective_gpu_hour_cost_usd",
    "per_m_output_tokens": "cost_usd_per_m_output_tokens",
    "per_m_total_tokens": "cost_usd_per_m_total_tokens",
}
_V1_ENERGY_TOTAL_MONEY = {
    "energy_cost": "energy_cost_usd",
    "energy_cost_per_m_output_tokens": "energy_cost_usd_per_m_output_tokens",
}


def _times(value: Any, factor: float) -> Any:
    return value * factor if isinstance(value, int | float) else value


def _v1_line(line: JSON, currency: str, usd_per_unit: float) -> JSON:
    """A v1 cost line in USD: `<currency>` or `<currency>/...` units are money."""
    unit = str(line.get("unit", ""))
    if unit != currency and not unit.startswith(currency + "/"):
        return dict(line)
    return {
        **line,
        "value": _times(line.get("value"), usd_per_unit),
        "unit": "USD" + unit[len(currency) :],
    }


def v1_cost_to_v2(cost: JSON) -> JSON:
    """A v1 `CostBreakdown` (money in `currency`) as v2 (money in USD, `display`)."""
    currency = str(cost.get("currency", "USD"))
    usd_per_unit = float(cost.get("fx_usd_per_unit", 1.0))
    out = {k: v for k, v in cost.items() if k not in ("currency", "fx_usd_per_unit")}
    for old, new in _V1_COST_MONEY.items():
        if old in out:
            out[new] = _times(out.pop(old), usd_per_unit)
    out["lines"] = [_v1_line(ln, currency, usd_per_unit) for ln in cost.get("lines", [])]
    if currency == "USD":
        out["display"] = {"currency": "USD", "per_usd": 1.0, "fx_source": "USD: no conversion"}
    else:
        out["display"] = {
            "currency": currency,
            "per_usd": 1.0 / usd_per_unit,
            "fx_source": V1_FX_SOURCE,
        }
    return out


def v1_energy_to_v2(energy: JSON, usd_per_unit: float | None) -> JSON:
    """A v1 `EnergySummary` with its money renamed to USD (None rate: money dropped, noted)."""
    out = dict(energy)
    price = out.pop("price_per_kwh", None)
    totals = [dict(t) for t in energy.get("totals", [])]
    has_money = price is not None or any(
        t.get(old) is not None for t in totals for old in _V1_ENERGY_TOTAL_MONEY
    )
    if has_money and usd_per_unit is None:
        out["price_usd_per_kwh"] = None
        for t in totals:
            for old, new in _V1_ENERGY_TOTAL_MONEY.items():
                t.pop(old, None)
                t[new] = None
        out["notes"] = [
            *energy.get("notes", []),
            "energy cost not shown: this schema v1 report has an electricity price but no "
            "cost section, so its currency is unknown",
        ]
    else:
        rate = usd_per_unit if usd_per_unit is not None else 1.0
        out["price_usd_per_kwh"] = _times(price, rate)
        for t in totals:
            for old, new in _V1_ENERGY_TOTAL_MONEY.items():
                if old in t:
                    t[new] = _times(t.pop(old), rate)
    out["totals"] = totals
    return out


def v1_to_v2(doc: JSON) -> JSON:
    """A schema v1 report document as schema v2 (see the module docstring)."""
    out = dict(doc)
    out["schema_version"] = 2
    cost = doc.get("cost")
    usd_per_unit = None
    if isinstance(cost, dict):
        usd_per_unit = float(cost.get("fx_usd_per_unit", 1.0))
        out["cost"] = v1_cost_to_v2(cost)
    energy = doc.get("energy")
    if isinstance(energy, dict):
        out["energy"] = v1_energy_to_v2(energy, usd_per_unit)
    return out


STEPS: dict[int, Callable[[JSON], JSON]] = {1: v1_to_v2}
"""Step from each old schema version to the next."""


def migrate(doc: JSON, version: int, current: int) -> JSON:
    """`doc` (at schema `version`) brought to `current` by chaining the steps.

    Raises:
        KeyError: no step from some version in between (a version this code never wrote).
    """
    while version < current:
        doc = STEPS[version](doc)
        version += 1
    return doc
