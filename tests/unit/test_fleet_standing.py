"""Fleet ranking and the outlier rule, from numbers a person can check by hand."""

from __future__ import annotations

import pytest

from bench.fleet.standing import NodeFigure, standings


def _by_name(rows):  # type: ignore[no-untyped-def]
    return {r.name: r for r in rows}


def test_slow_node_is_flagged_against_the_median_of_the_others() -> None:
    # c: 50 / median(100, 98) = 50 / 99 = 0.505 < 0.90 → outlier
    # a: 100 / median(98, 50) = 100 / 74 = 1.351; b: 98 / median(100, 50) = 98 / 75 = 1.307
    rows = standings(
        [
            NodeFigure(name=n, sku="h100-sxm", value=v)
            for n, v in (("a", 100), ("b", 98), ("c", 50))
        ],
        {"h100-sxm": 0.10},
    )
    got = _by_name(rows)
    assert [r.name for r in rows] == ["a", "b", "c"]
    assert [got[n].rank for n in "abc"] == [1, 2, 3]
    assert got["c"].ratio == pytest.approx(50 / 99)
    assert got["a"].ratio == pytest.approx(100 / 74)
    assert got["b"].ratio == pytest.approx(98 / 75)
    assert [got[n].outlier for n in "abc"] == [False, False, True]
    assert all(r.of == 3 for r in rows)


def test_margin_boundary_is_strict() -> None:
    # d: 90 / median(100, 100) = 0.90, not < 1 − 0.10 → not an outlier; e: 89 → 0.89 → outlier
    figures = [NodeFigure(name=n, sku="s", value=100.0) for n in ("a", "b")]
    at_edge = _by_name(standings([*figures, NodeFigure(name="d", sku="s", value=90.0)], {"s": 0.1}))
    below = _by_name(standings([*figures, NodeFigure(name="e", sku="s", value=89.0)], {"s": 0.1}))
    assert at_edge["d"].ratio == pytest.approx(0.90) and not at_edge["d"].outlier
    assert below["e"].ratio == pytest.approx(0.89) and below["e"].outlier


def test_skus_are_ranked_apart_with_their_own_margin() -> None:
    # l40s nodes are slower than h100 nodes but not outliers among themselves; with a 5 %
    # margin, y: 47 / 50 = 0.94 < 0.95 is one; with 10 % it would not be.
    figures = [
        NodeFigure(name="h1", sku="h100-sxm", value=100.0),
        NodeFigure(name="h2", sku="h100-sxm", value=96.0),
        NodeFigure(name="x", sku="l40s", value=50.0),
        NodeFigure(name="y", sku="l40s", value=47.0),
    ]
    got = _by_name(standings(figures, {"h100-sxm": 0.10, "l40s": 0.05}))
    assert got["h2"].ratio == pytest.approx(0.96) and not got["h2"].outlier
    assert got["x"].rank == 1 and got["x"].of == 2
    assert got["y"].ratio == pytest.approx(0.94) and got["y"].outlier
    assert got["y"].margin == 0.05


def test_unmeasured_nodes_come_last_unranked_and_lone_nodes_have_no_ratio() -> None:
    figures = [
        NodeFigure(name="dead", sku="a100", value=None),
        NodeFigure(name="ok", sku="a100", value=80.0),
        NodeFigure(name="solo", sku="b200", value=500.0),
    ]
    rows = standings(figures, {"a100": 0.1, "b200": 0.1})
    assert [r.name for r in rows] == ["ok", "dead", "solo"]
    got = _by_name(rows)
    assert got["dead"].rank is None and got["dead"].value is None and not got["dead"].outlier
    assert got["ok"].rank == 1 and got["ok"].of == 1 and got["ok"].ratio is None
    assert got["solo"].ratio is None and not got["solo"].outlier
