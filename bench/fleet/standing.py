"""Ranking the nodes of a fleet and flagging outliers. Pure functions.

Nodes are compared only with nodes of the same SKU, on a figure where higher is better
(output tok/s by default). The rule is the acceptance rule for GPUs of one node
(`bench.accept.checklib.outliers`), applied to nodes:

    ratio(node)   = value(node) / median(values of the other nodes of its SKU)
    outlier(node) ⇔ ratio(node) < 1 − margin

Example, margin 0.10, one SKU {a: 100, b: 98, c: 50}: c → 50 / median(100, 98) = 0.505,
an outlier; a → 100 / median(98, 50) = 1.35; b → 98 / median(100, 50) = 1.31. A SKU with
one measured node has no median to compare with (ratio None, never an outlier). The
margin is the SKU's `acceptance.outlier_margin_fraction` (hardware/<sku>.yaml; 10 % when
it has none) unless one is given.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pydantic import Field

from bench.accept.checklib import sibling_ratios
from bench.records import Record


class NodeFigure(Record):
    """One node's measured figure (None when it has none: failed, or not in the store)."""

    name: str
    sku: str
    value: float | None = None


class NodeStanding(Record):
    """A node's place in its SKU: rank 1 is the best; `ratio` to the others' median."""

    name: str
    sku: str
    value: float | None = None
    rank: int | None = Field(default=None, description="1 = best of its SKU")
    of: int = Field(default=0, description="measured nodes of its SKU")
    ratio: float | None = None
    margin: float
    outlier: bool = False


def standings(
    figures: Sequence[NodeFigure], margin_by_sku: Mapping[str, float]
) -> list[NodeStanding]:
    """Rank each SKU's nodes by value (descending) and flag outliers (module docstring).

    Returned sorted by SKU, then rank; nodes without a value come last in their SKU.
    `margin_by_sku[sku]` is the fraction (0.10 = 10 %).
    """
    out: list[NodeStanding] = []
    for sku in sorted({f.sku for f in figures}):
        group = [f for f in figures if f.sku == sku]
        measured = sorted(
            (f for f in group if f.value is not None), key=lambda f: (-(f.value or 0.0), f.name)
        )
        ratios = sibling_ratios({i: f.value or 0.0 for i, f in enumerate(measured)})
        margin = margin_by_sku[sku]
        for i, f in enumerate(measured):
            ratio = ratios.get(i)
            out.append(
                NodeStanding(
                    name=f.name,
                    sku=sku,
                    value=f.value,
                    rank=i + 1,
                    of=len(measured),
                    ratio=ratio,
                    margin=margin,
                    outlier=ratio is not None and ratio < 1.0 - margin,
                )
            )
        for f in sorted((f for f in group if f.value is None), key=lambda f: f.name):
            out.append(NodeStanding(name=f.name, sku=sku, of=len(measured), margin=margin))
    return out
