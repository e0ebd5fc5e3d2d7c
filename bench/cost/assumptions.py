"""Cost assumptions: what a person sets about money (currency, basis, utilization, power price).

Loaded once from a YAML file (every field optional) and overridable from command-line
options; validated strictly. The money a person types here is in `currency` (the display
currency); the cost model turns it into USD on the way in (`to_usd`), computes and stores
in USD, and renderers show USD amounts in `currency` again (`display`). Defaults that are
money (electricity, hosting) are sourced USD figures.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from bench.config.loading import StrictConfig, load_model, validate_data
from bench.records import DisplayCurrency

DEFAULT_ELECTRICITY_USD_PER_KWH = 0.08
"""US industrial / datacenter base case (EIA Electric Power Monthly Table 5.6.A, Apr 2025:
6–10 ¢/kWh; aiinframap's TCO default), reference/cost-and-hardware.md §3a."""

DEFAULT_HOSTING_USD_PER_KW_MONTH = 184.06
"""CBRE North America data center trends H2 2024, primary markets, 250–500 kW (§3c)."""

Currency = Literal["USD", "CNY"]


class CostAssumptions(StrictConfig):
    """Inputs to the cost model that are not properties of the hardware.

    Money fields are in `currency` per the unit in their name. `None` means "use the
    hardware profile's preset or the documented default" (docs/cost-model.md).
    """

    # validate_default: the CNY check below runs even when fx_cny_per_usd is left out.
    model_config = StrictConfig.model_config | {"validate_default": True}

    currency: Currency = "USD"
    fx_cny_per_usd: float | None = Field(
        default=None, gt=0, description="CNY per 1 USD; required when currency is CNY"
    )
    fx_source: str | None = Field(
        default=None, description="where fx_cny_per_usd comes from (recorded with the rate)"
    )
    basis: Literal["rent", "owned"] = "rent"
    price_tier: str | None = Field(
        default=None, description="rent tier (rent basis) or owned tier (owned basis) by name"
    )
    rent_price_per_gpu_hour: float | None = Field(
        default=None, gt=0, description="your own contract price; replaces the tier's"
    )
    rent_includes_power: bool = True
    utilization: float = Field(default=1.0, gt=0, le=1)
    pue: float = Field(default=1.2, ge=1, le=3)
    electricity_price_per_kwh: float | None = Field(default=None, ge=0)
    node_overhead_factor: float | None = Field(default=None, ge=1, le=5)
    margin: float = Field(default=0.0, ge=0)
    capex_per_gpu: float | None = Field(default=None, gt=0)
    life_years: float = Field(default=4.0, gt=0, le=30)
    cost_of_capital: float = Field(default=0.10, ge=0, le=1)
    hosting_per_kw_month: float | None = Field(default=None, ge=0)
    opex_share: float = Field(default=0.04, ge=0, le=1, description="of capex, per year")

    @field_validator("fx_cny_per_usd", mode="after")
    @classmethod
    def _fx_for_cny(cls, value: float | None, info: ValidationInfo) -> float | None:
        if value is None and info.data.get("currency") == "CNY":
            raise ValueError("required when currency is CNY (CNY per 1 USD, e.g. 7.2)")
        return value

    def to_usd(self, amount: float) -> float:
        """An amount a person typed (in `currency`) in USD: CNY / fx_cny_per_usd."""
        if self.currency == "USD":
            return amount
        assert self.fx_cny_per_usd is not None  # guaranteed by validation
        return amount / self.fx_cny_per_usd

    def cny_to_usd(self, cny: float) -> float | None:
        """A CNY amount (a CNY-priced tier) in USD; None without an FX rate."""
        return None if self.fx_cny_per_usd is None else cny / self.fx_cny_per_usd

    @property
    def display(self) -> DisplayCurrency:
        """The currency results are shown in, with the rate and its source."""
        if self.currency == "USD":
            return DisplayCurrency()
        assert self.fx_cny_per_usd is not None
        source = self.fx_source or "fx_cny_per_usd as given (no source stated)"
        return DisplayCurrency(currency="CNY", per_usd=self.fx_cny_per_usd, fx_source=source)


def load_assumptions(path: Path | None) -> CostAssumptions:
    """Read a cost-assumptions YAML (all fields optional); None gives the defaults.

    Raises:
        UserError: missing/malformed file, unknown field, bad value (file and field named).
    """
    if path is None:
        return CostAssumptions()
    return load_model(CostAssumptions, path)


def with_overrides(
    assumptions: CostAssumptions, overrides: dict[str, Any], source: str = "command line"
) -> CostAssumptions:
    """`assumptions` with every non-None value of `overrides` replacing its field, revalidated.

    Raises:
        UserError: an override is invalid (named as the field, with `source` as the file).
    """
    data = assumptions.model_dump(exclude_unset=True)
    data.update({k: v for k, v in overrides.items() if v is not None})
    return validate_data(CostAssumptions, data, source)
