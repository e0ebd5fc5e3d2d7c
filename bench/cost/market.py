"""Market token prices: what the market charges per million tokens for a model, sourced.

Presets live in `bench/data/market_prices.yaml` (catalog model id → providers, first is the
default), each sourced and dated; a user file of the same schema replaces the entries of
the models it names. Prices given on the command line (in the display currency) stand in
for a preset. Resolved prices are stored in USD like all money in records.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import Field

from bench.config.loading import StrictConfig, read_yaml, validate_data
from bench.errors import UserError
from bench.hardware.schema import Sourced
from bench.records import Record

_SLUG = r"^[a-z0-9][a-z0-9._-]*$"


class MarketPreset(Sourced):
    """One provider's list price for a model, per million tokens, in `currency`."""

    provider: str = Field(pattern=_SLUG)
    currency: Literal["USD", "CNY"]
    per_m_input: float = Field(ge=0)
    per_m_output: float = Field(ge=0)
    per_m_cached_input: float | None = Field(default=None, ge=0)


class MarketPriceFile(StrictConfig):
    """A market-prices file: `models: {catalog id: [preset, …]}`, the first is the default."""

    schema_version: Literal[1] = 1
    models: dict[str, list[MarketPreset]] = Field(min_length=1)


class MarketPrice(Record):
    """The market price a quote uses, in USD per million tokens, and where it came from.

    `per_m_cached_input_usd` None: the source gives no cached price (cached input then
    earns the input price). `label` names provider, source and date for the reader.
    """

    label: str
    per_m_input_usd: float
    per_m_output_usd: float
    per_m_cached_input_usd: float | None
    converted: str | None = None


def packaged_market_file() -> Path:
    return Path(str(resources.files("bench.data").joinpath("market_prices.yaml")))


def load_market_presets(user_file: Path | None = None) -> dict[str, list[MarketPreset]]:
    """Presets by catalog model id: the packaged file, then `user_file`'s models on top.

    Raises:
        UserError: malformed file or invalid field (file and field named).
    """
    presets = validate_data(
        MarketPriceFile, read_yaml(packaged_market_file()), packaged_market_file()
    ).models
    if user_file is not None:
        presets |= validate_data(MarketPriceFile, read_yaml(user_file), user_file).models
    return presets


def catalog_id(model: str) -> str | None:
    """The catalog id of a run's model (a catalog id or a hub id), None when not listed."""
    from bench.catalog import load_catalog

    entry = load_catalog()[0].find(model)
    return None if entry is None else entry.id


def preset_price(
    model: str,
    presets: dict[str, list[MarketPreset]],
    *,
    provider: str | None,
    fx_cny_per_usd: float | None,
    source: Path | str,
) -> MarketPrice | None:
    """The preset market price of `model` (by `provider`, else its first), in USD.

    None when the model has no preset and no provider was asked for.

    Raises:
        UserError: the asked provider is not listed for the model, or a CNY preset without
            an FX rate.
    """
    key = catalog_id(model) or model
    entries = presets.get(key, [])
    if provider is None and not entries:
        return None
    chosen = (
        entries[0]
        if provider is None
        else next((e for e in entries if e.provider == provider), None)
    )
    if chosen is None:
        listed = ", ".join(e.provider for e in entries) or "(none)"
        raise UserError(
            f"no market price of {provider!r} for {key}",
            file=source,
            field="--market",
            fix=f"use one of: {listed}; or give --market-price-in / --market-price-out",
        )
    rate, converted = 1.0, None
    if chosen.currency == "CNY":
        if fx_cny_per_usd is None:
            raise UserError(
                f"the {chosen.provider} price of {key} is in CNY",
                field="fx_cny_per_usd",
                fix="give --fx-cny-per-usd (CNY per 1 USD)",
            )
        rate = 1.0 / fx_cny_per_usd
        converted = f"CNY list price converted at {fx_cny_per_usd:g} CNY/USD"
    cached = chosen.per_m_cached_input
    return MarketPrice(
        label=f"{key} at {chosen.provider} ({chosen.source}, {chosen.date}, {chosen.reliability})",
        per_m_input_usd=chosen.per_m_input * rate,
        per_m_output_usd=chosen.per_m_output * rate,
        per_m_cached_input_usd=None if cached is None else cached * rate,
        converted=converted,
    )


def given_price(
    per_m_input_usd: float, per_m_output_usd: float, per_m_cached_input_usd: float | None
) -> MarketPrice:
    """Market prices typed on the command line (already in USD)."""
    return MarketPrice(
        label="your market prices (command line)",
        per_m_input_usd=per_m_input_usd,
        per_m_output_usd=per_m_output_usd,
        per_m_cached_input_usd=per_m_cached_input_usd,
    )
