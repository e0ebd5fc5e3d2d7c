"""The strict schema of a hardware profile (`hardware/<sku>.yaml`).

Every figure carries its value, source, date and reliability, so a cost or an acceptance
verdict can always say where its inputs came from. Units are in field names: `_gb` gigabytes
(1e9 bytes), `_gbps` gigabytes per second, `_tflops` 1e12 operations per second (dense, no
2:4 sparsity), `_w` watts, `_usd_per_gpu_hour`, `_cny_per_gpu_month`. A "GPU" of a `kind: cpu`
profile is the whole host (one device).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal, get_args

from pydantic import Field, field_validator, model_validator

from bench.config.loading import StrictConfig

Reliability = Literal["verified", "secondary", "unverified", "derived", "assumption"]
"""verified: vendor or primary source; secondary: third-party page or dataset; unverified: one
weak source, conflicting sources or recalled from memory; derived: arithmetic on sourced inputs
(the note shows it); assumption: a configured value chosen by us (the note says why)."""

_DATE_PATTERN = r"^\d{4}(-\d{2}(-\d{2})?)?$"
_SLUG_PATTERN = r"^[a-z0-9][a-z0-9._-]*$"


def date_as_text(value: Any) -> Any:
    """YAML reads an unquoted 2026-04-03 as a date and 2026 as an int; keep them as text."""
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class Sourced(StrictConfig):
    """Where a figure came from: source, date (YYYY, YYYY-MM or YYYY-MM-DD), reliability."""

    source: str = Field(min_length=3)
    date: str = Field(pattern=_DATE_PATTERN)
    reliability: Reliability
    note: str | None = None

    @field_validator("date", mode="before")
    @classmethod
    def _date_as_text(cls, value: Any) -> Any:
        return date_as_text(value)


class Figure(Sourced):
    """A positive number with its provenance; the unit is in the name of the field holding it."""

    value: float = Field(gt=0)


class TextFigure(Sourced):
    """A descriptive fact (an interconnect, a launch date) with its provenance."""

    value: str = Field(min_length=1)


TierKind = Literal["on-demand", "marketplace", "spot", "1-year", "3-year", "5-year"]
"""What a rent price is: on-demand list price (neocloud or hyperscaler); marketplace
(prices set by individual hosts: RunPod Community, Vast.ai); spot (interruptible or a spot
index); a contract of 1, 3 or 5 years. Prices of different kinds are not like for like."""

OwnedKind = Literal["owned-modelled", "capex-all-in", "capex-street", "capex-launch-list"]
"""How an owned-basis cost is built: a modelled all-in owning cost per GPU-hour
(SemiAnalysis), or a capex build-up from an all-in capex (server share, NICs, networking),
a card's street price (no server or network) or a launch list price."""

CapexKind = Literal["all-in", "street", "launch-list"]


class RentTier(Sourced):
    """A rental price preset: exactly one of a USD hourly, CNY hourly or CNY monthly price.

    `kind` says what the price is (`TierKind`); `provider` who sells it (a slug, so one
    provider's prices for two SKUs can be matched). `includes_power`: the contract price
    already pays for electricity (cloud instances do; a bare-metal server lease usually does
    not, then the cost model adds power).
    """

    tier: str = Field(pattern=_SLUG_PATTERN)
    kind: TierKind
    provider: str = Field(pattern=_SLUG_PATTERN)
    usd_per_gpu_hour: float | None = Field(default=None, gt=0)
    cny_per_gpu_hour: float | None = Field(default=None, gt=0)
    cny_per_gpu_month: float | None = Field(default=None, gt=0)
    includes_power: bool

    @model_validator(mode="after")
    def _one_price(self) -> RentTier:
        prices = (self.usd_per_gpu_hour, self.cny_per_gpu_hour, self.cny_per_gpu_month)
        if sum(p is not None for p in prices) != 1:
            raise ValueError(
                "give exactly one of usd_per_gpu_hour, cny_per_gpu_hour or cny_per_gpu_month"
            )
        return self

    @property
    def currency(self) -> Literal["USD", "CNY"]:
        """The currency the source quotes the price in."""
        return "USD" if self.usd_per_gpu_hour is not None else "CNY"


class OwnedTier(Sourced):
    """A modelled all-in cost of owning one GPU for an hour (capex, power, hosting, opex)."""

    tier: str = Field(pattern=_SLUG_PATTERN)
    kind: Literal["owned-modelled"] = "owned-modelled"
    provider: str = Field(pattern=_SLUG_PATTERN)
    usd_per_gpu_hour: float = Field(gt=0)


class CapexFigure(Figure):
    """Purchase cost per GPU (USD) and what it covers (`CapexKind`): all-in (server share,
    NICs, switches), a card's street price, or a launch list price."""

    kind: CapexKind


class NoPublicFigure(StrictConfig):
    """A price that was looked for and not found: what, where it was looked for, when.

    A profile says so instead of inventing a figure; cost commands print how to supply one.
    """

    what: Literal["rent", "capex"]
    checked: str = Field(pattern=_DATE_PATTERN)
    where: str = Field(min_length=3)
    note: str | None = None

    @field_validator("checked", mode="before")
    @classmethod
    def _date_as_text(cls, value: Any) -> Any:
        return date_as_text(value)


class Prices(StrictConfig):
    """Price presets. `default_rent_tier` names the rent tier used when none is asked for;
    the first tier of each kind in `rent` is that kind's default.

    A SKU with no sourced price has no rent tiers and a `no_public_figure` entry saying
    where one was looked for (the user gives a price); one is never invented.
    """

    default_rent_tier: str | None = None
    rent: list[RentTier] = Field(default_factory=list)
    owned: list[OwnedTier] = Field(default_factory=list)
    capex_usd_per_gpu: CapexFigure | None = Field(
        default=None, description="purchase cost per GPU; `kind` says what it covers"
    )
    no_public_figure: list[NoPublicFigure] = Field(default_factory=list)

    @model_validator(mode="after")
    def _tiers_consistent(self) -> Prices:
        names = [t.tier for t in self.rent] + [t.tier for t in self.owned]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"tier names must be unique across rent and owned: {duplicates}")
        if self.rent and self.default_rent_tier not in {t.tier for t in self.rent}:
            raise ValueError(
                f"default_rent_tier {self.default_rent_tier!r} is not one of the rent tiers "
                f"{[t.tier for t in self.rent]}"
            )
        kinds = set(get_args(TierKind)) | set(get_args(OwnedKind))
        clashes = sorted(n for n in names if n in kinds)
        if clashes:
            raise ValueError(f"tier names must not be price kinds: {clashes}")
        missing = {n.what for n in self.no_public_figure}
        if not self.rent and "rent" not in missing:
            raise ValueError("no rent tier: add a no_public_figure entry (what: rent) saying so")
        if self.rent and "rent" in missing:
            raise ValueError("rent tiers are given, so no_public_figure cannot list rent")
        if self.capex_usd_per_gpu is not None and "capex" in missing:
            raise ValueError("capex_usd_per_gpu is given, so no_public_figure cannot list capex")
        return self

    def rent_tier(self, name: str | None) -> RentTier | None:
        """The rent tier called `name`, else the first tier of kind `name` (the kind's
        default), the default tier when `name` is None; None when there is none."""
        wanted = name or self.default_rent_tier
        if wanted is None:
            return None
        named = next((t for t in self.rent if t.tier == wanted), None)
        return named or next(iter(self.rent_of_kind(wanted)), None)

    def owned_tier(self, name: str) -> OwnedTier | None:
        """The owned tier called `name`, else the first one when `name` is its kind
        (`owned-modelled`); None when there is none."""
        named = next((t for t in self.owned if t.tier == name), None)
        if named is None and name == "owned-modelled" and self.owned:
            return self.owned[0]
        return named

    def rent_of_kind(self, kind: str) -> list[RentTier]:
        """Rent tiers of `kind`, in file order (the first is that kind's default)."""
        return [t for t in self.rent if t.kind == kind]

    def not_found(self, what: str) -> NoPublicFigure | None:
        """The profile's statement that no public `what` (rent, capex) figure exists."""
        return next((n for n in self.no_public_figure if n.what == what), None)


class Band(StrictConfig):
    """One acceptance reference band: the minimum (or margin) and how it was chosen."""

    value: float = Field(gt=0)
    basis: str = Field(min_length=3, description="e.g. '70 % of the dense spec 989 TFLOPS'")


class InferenceBand(Band):
    """Expected inference throughput for a named reference model and workload."""

    model: str
    workload: str


class FractionBand(StrictConfig):
    value: float = Field(gt=0, lt=1)
    basis: str = Field(min_length=3)


class Acceptance(StrictConfig):
    """Reference bands for `bench accept`. Absent bands are simply not checked."""

    gemm_bf16_tflops_min: Band | None = None
    gemm_fp8_tflops_min: Band | None = None
    memory_bandwidth_gbps_min: Band | None = None
    h2d_gbps_min: Band | None = None
    allreduce_busbw_gbps_min: Band | None = None
    inference_output_tok_per_s_min: InferenceBand | None = None
    outlier_margin_fraction: FractionBand | None = None


class HardwareProfile(StrictConfig):
    """One SKU: specs, power, price presets and acceptance bands, every figure sourced."""

    schema_version: Literal[1] = 1
    sku: str = Field(pattern=_SLUG_PATTERN)
    name: str
    vendor: str
    kind: Literal["gpu", "cpu"]
    gpus_per_node: int = Field(ge=1)
    memory_gb: Figure
    memory_bandwidth_gbps: Figure
    bf16_dense_tflops: Figure | None = None
    fp8_dense_tflops: Figure | None = None
    int8_dense_tops: Figure | None = None
    board_power_w: Figure
    scaleup_link: TextFigure | None = None
    scaleup_bandwidth_gbps: Figure | None = Field(
        default=None, description="bidirectional per GPU (NVLink, Infinity Fabric, HCCS)"
    )
    host_link: TextFigure | None = None
    server_power_w: Figure | None = Field(
        default=None, description="maximum input power of a whole `gpus_per_node` server"
    )
    allin_power_w_per_gpu: Figure | None = Field(
        default=None, description="provisioned utility power per GPU incl. facility (no PUE on top)"
    )
    node_overhead_factor: Figure | None = Field(
        default=None, description="server power per GPU ÷ board power (CPU, fans, NICs)"
    )
    launch: TextFigure | None = None
    prices: Prices
    acceptance: Acceptance | None = None
    notes: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _compute_figure(self) -> HardwareProfile:
        if self.kind == "gpu" and self.bf16_dense_tflops is None and self.int8_dense_tops is None:
            raise ValueError("a GPU profile needs bf16_dense_tflops or int8_dense_tops")
        return self

    def figures(self) -> dict[str, Sourced]:
        """Every sourced figure in the profile by dotted path (for listing and tests)."""
        found: dict[str, Sourced] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, Sourced):
                found[name] = value
        for i, tier in enumerate(self.prices.rent):
            found[f"prices.rent.{i}"] = tier
        for i, owned in enumerate(self.prices.owned):
            found[f"prices.owned.{i}"] = owned
        if self.prices.capex_usd_per_gpu is not None:
            found["prices.capex_usd_per_gpu"] = self.prices.capex_usd_per_gpu
        return found
