"""Price bases: which price of each SKU a comparison uses, what kind of price it is, and
whether the prices of several SKUs are like for like.

A price has a kind (`bench.hardware.schema.TierKind` for rent: on-demand, marketplace, spot,
1/3/5-year contracts; `OwnedKind` for the owned basis: a modelled owning cost or a capex
build-up from an all-in, street or launch-list capex). Ranking a 3-year contract price
against an on-demand list price, or an all-in capex against a card's street price, makes a
card look several times cheaper than it is; so SKUs are ranked only on prices of one kind
(`check_like_for_like`) unless the person allows a mixed basis, and then every verdict says
so.

`choose_prices` picks one price per SKU: the SKU's default (selector None), the matching
tier of a kind (selector `on-demand`, … — when several providers sell that kind, one that
every compared SKU has is preferred, so two cards are priced by the same provider where
possible), a tier by name, or the person's own price (`--price SKU=VALUE`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, get_args

from bench.cost.assumptions import CostAssumptions
from bench.cost.breakdown import tier_price_usd
from bench.errors import UserError
from bench.hardware.schema import CapexKind, HardwareProfile, OwnedKind, RentTier, TierKind
from bench.records import Record

RENT_KINDS: tuple[str, ...] = get_args(TierKind)
OWNED_KINDS: tuple[str, ...] = get_args(OwnedKind)
YOUR_PRICE = "your price"


class PriceChoice(Record):
    """The price one SKU is compared on.

    `usd_per_gpu_hour` is the contract (rent) or modelled owning price per GPU-hour in USD;
    a capex build-up has `capex_usd_per_gpu` instead. `given` is a price typed by the person
    (`--price`), in the report currency, as typed.
    """

    sku: str
    basis: Literal["rent", "owned"]
    kind: str
    label: str
    provider: str | None = None
    date: str | None = None
    source: str | None = None
    usd_per_gpu_hour: float | None = None
    capex_usd_per_gpu: float | None = None
    includes_power: bool = True
    given: float | None = None

    @property
    def text(self) -> str:
        """'runpod-secure (on-demand, 2026-09-25)' — what a row shows about its price."""
        return f"{self.label} ({self.kind}, {self.date or 'date: yours'})"

    def assumptions(self, a: CostAssumptions) -> CostAssumptions:
        """`a` set up so that `gpu_hour_cost` prices exactly this choice."""
        update: dict[str, object]
        if self.basis == "rent":
            if self.given is not None:
                update = {"price_tier": None, "rent_price_per_gpu_hour": self.given,
                          "rent_includes_power": True}  # fmt: skip
            else:
                update = {"price_tier": self.label, "rent_price_per_gpu_hour": None}
        elif self.kind == "owned-modelled":
            update = {"price_tier": self.label, "capex_per_gpu": None}
        else:
            update = {"price_tier": None, "capex_per_gpu": self.given}
        return a.model_copy(update={"basis": self.basis, **update})


class Unpriced(Record):
    """A SKU that has no price of the kind asked for, and how to give one."""

    sku: str
    reason: str
    fix: str


def _rent_choice(p: HardwareProfile, tier: RentTier, a: CostAssumptions) -> PriceChoice:
    return PriceChoice(
        sku=p.sku,
        basis="rent",
        kind=tier.kind,
        label=tier.tier,
        provider=tier.provider,
        date=tier.date,
        source=tier.source,
        usd_per_gpu_hour=tier_price_usd(tier, a),
        includes_power=tier.includes_power,
    )


def _supply(sku: str, basis: str) -> str:
    what = "rent per GPU-hour" if basis == "rent" else "all-in capex per GPU"
    return f"supply one: --price {sku}=VALUE ({what}, in the report currency)"


def _no_price(p: HardwareProfile, basis: str, asked: str | None) -> Unpriced:
    missing = p.prices.not_found("rent" if basis == "rent" else "capex")
    if missing is not None:
        reason = (
            f"no public {missing.what} figure (looked for in {missing.where}, {missing.checked})"
        )
    elif asked is None:
        reason = f"no {basis}-basis price in its profile"
    else:
        have = [t.tier for t in p.prices.rent] if basis == "rent" else _owned_names(p)
        reason = f"no {asked} price in its profile (it has: {', '.join(have) or 'none'})"
    return Unpriced(sku=p.sku, reason=reason, fix=_supply(p.sku, basis))


def _owned_names(p: HardwareProfile) -> list[str]:
    names = [t.tier for t in p.prices.owned]
    capex = p.prices.capex_usd_per_gpu
    return names + ([f"capex-{capex.kind}"] if capex is not None else [])


def _common_provider(profiles: list[HardwareProfile], kind: str) -> str | None:
    """The first provider (in the first profile's order) selling `kind` for every profile."""
    having = [p for p in profiles if p.prices.rent_of_kind(kind)]
    if len(having) < 2:
        return None
    for tier in having[0].prices.rent_of_kind(kind):
        if all(
            any(t.provider == tier.provider for t in q.prices.rent_of_kind(kind)) for q in having
        ):
            return tier.provider
    return None


def _rent(
    p: HardwareProfile, selector: str | None, provider: str | None, a: CostAssumptions
) -> PriceChoice | Unpriced:
    if selector is None:
        tier = p.prices.rent_tier(None)
    elif selector in RENT_KINDS:
        tiers = p.prices.rent_of_kind(selector)
        tier = next((t for t in tiers if t.provider == provider), tiers[0] if tiers else None)
    else:
        tier = next((t for t in p.prices.rent if t.tier == selector), None)
    return _no_price(p, "rent", selector) if tier is None else _rent_choice(p, tier, a)


def _capex_choice(p: HardwareProfile, kind: CapexKind, value: float) -> PriceChoice:
    capex = p.prices.capex_usd_per_gpu
    assert capex is not None
    return PriceChoice(
        sku=p.sku,
        basis="owned",
        kind=f"capex-{kind}",
        label=f"capex build-up ({kind} ${value:,.0f}/GPU)",
        date=capex.date,
        source=capex.source,
        capex_usd_per_gpu=value,
    )


def _owned(p: HardwareProfile, selector: str | None) -> PriceChoice | Unpriced:
    capex = p.prices.capex_usd_per_gpu
    if capex is not None and selector in (None, f"capex-{capex.kind}"):
        return _capex_choice(p, capex.kind, capex.value)
    tier = p.prices.owned_tier(selector or "owned-modelled")
    if tier is None or (selector is not None and selector.startswith("capex-")):
        return _no_price(p, "owned", selector)
    return PriceChoice(
        sku=p.sku,
        basis="owned",
        kind=tier.kind,
        label=tier.tier,
        provider=tier.provider,
        date=tier.date,
        source=tier.source,
        usd_per_gpu_hour=tier.usd_per_gpu_hour,
    )


def _given(
    p: HardwareProfile, basis: str, kind: str, value: float, a: CostAssumptions
) -> PriceChoice:
    usd = a.to_usd(value)
    if basis == "rent":
        return PriceChoice(sku=p.sku, basis="rent", kind=kind, label=YOUR_PRICE,
                           usd_per_gpu_hour=usd, given=value)  # fmt: skip
    return PriceChoice(sku=p.sku, basis="owned", kind="capex-all-in", label=YOUR_PRICE,
                       capex_usd_per_gpu=usd, given=value)  # fmt: skip


def check_selector(basis: str, selector: str | None, profiles: list[HardwareProfile]) -> None:
    """A `--price-tier` must be a price kind of the basis or a tier some SKU has.

    Raises:
        UserError: neither (the message lists the kinds).
    """
    if selector is None:
        return
    kinds = RENT_KINDS if basis == "rent" else OWNED_KINDS
    names = {
        t.tier for p in profiles for t in (p.prices.rent if basis == "rent" else p.prices.owned)
    }
    if selector not in kinds and selector not in names:
        raise UserError(
            f"{selector!r} is not a {basis} price kind or a {basis} tier of these SKUs",
            field="--price-tier",
            fix=f"give a kind: {', '.join(kinds)}; or a tier name (bench hardware show SKU)",
        )


def choose_prices(
    profiles: Mapping[str, HardwareProfile],
    a: CostAssumptions,
    *,
    selector: str | None,
    given: Mapping[str, float],
) -> dict[str, PriceChoice | Unpriced]:
    """One price per SKU on `a.basis` (see the module docstring for the selection rule).

    `given` maps SKU → the person's price in the report currency: rent per GPU-hour
    (power included) on the rent basis, all-in capex per GPU on the owned basis. It takes
    the kind the other SKUs are compared on.

    Raises:
        UserError: `selector` is not a kind or tier of the basis; `given` names a SKU that
            is not compared.
    """
    unknown = sorted(set(given) - set(profiles))
    if unknown:
        raise UserError(
            f"--price names SKUs that are not compared: {', '.join(unknown)}",
            field="--price",
            fix=f"use one of: {', '.join(profiles)}",
        )
    check_selector(a.basis, selector, list(profiles.values()))
    out: dict[str, PriceChoice | Unpriced] = {}
    provider = (
        _common_provider(list(profiles.values()), selector) if selector in RENT_KINDS else None
    )
    for sku, p in profiles.items():
        if sku not in given:
            out[sku] = _rent(p, selector, provider, a) if a.basis == "rent" else _owned(p, selector)
    kinds = {c.kind for c in out.values() if isinstance(c, PriceChoice)}
    if selector in RENT_KINDS:
        kind = selector
    else:
        kind = next(iter(kinds)) if len(kinds) == 1 else YOUR_PRICE
    for sku, value in given.items():
        out[sku] = _given(profiles[sku], a.basis, kind, value, a)
    return {sku: out[sku] for sku in profiles}


def available_kinds(p: HardwareProfile, basis: str) -> set[str]:
    """The kinds of price a SKU's profile has on `basis`."""
    if basis == "rent":
        return {t.kind for t in p.prices.rent}
    capex = p.prices.capex_usd_per_gpu
    return {t.kind for t in p.prices.owned} | ({f"capex-{capex.kind}"} if capex else set())


def check_like_for_like(
    choices: Mapping[str, PriceChoice | Unpriced],
    profiles: Mapping[str, HardwareProfile],
    *,
    allow_mixed: bool,
) -> str | None:
    """None when every priced SKU's price is of one kind; else a note (mixed allowed).

    Raises:
        UserError: prices of different kinds and `allow_mixed` is false; the message names
            each SKU's tier, kind and date, and a kind every SKU has when there is one.
    """
    priced = [c for c in choices.values() if isinstance(c, PriceChoice)]
    kinds = sorted({c.kind for c in priced})
    if len(kinds) <= 1:
        return None
    listing = "; ".join(f"{c.sku}: {c.text}" for c in priced)
    if allow_mixed:
        return f"MIXED BASIS ({', '.join(kinds)}): {listing} — not like for like"
    common = set.intersection(*(available_kinds(profiles[c.sku], c.basis) for c in priced))
    ordered = [k for k in (*RENT_KINDS, *OWNED_KINDS) if k in common]
    hint = (
        f"--price-tier {ordered[0]} (kinds every SKU has: {', '.join(ordered)})"
        if ordered
        else "--price SKU=VALUE for each SKU"
    )
    raise UserError(
        f"the SKUs' prices are of different kinds ({', '.join(kinds)}): {listing}",
        field="--price-tier",
        fix=f"compare on one kind: {hint}; or pass --allow-mixed-basis to rank them anyway",
    )
