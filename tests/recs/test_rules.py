"""Each business rule, on the checkerboard catalogue (a2 out of stock, b4 hidden, b3 stock unknown)."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from marketloop.recs.rules import Rules, apply_rules

ALL = [f"a{j}" for j in range(5)] + [f"b{j}" for j in range(5)]


def run(catalog, rules, n=10, bought=None, order=ALL):
    idx = np.array([list(catalog.items).index(i) for i in order])
    bought_idx = None if bought is None else np.array([list(catalog.items).index(i) for i in bought])
    sel, scores = apply_rules(idx, np.linspace(1, 0, len(idx)), catalog, rules, n, bought=bought_idx)
    return list(catalog.items[sel])


def off(**kw):
    base = dict(exclude_bought=False, exclude_out_of_stock=False, exclude_hidden=False)
    return Rules(**{**base, **kw})


def test_no_rules_keeps_order(board_catalog):
    assert run(board_catalog, off()) == ALL


def test_exclude_bought_with_rebuy_categories(board_catalog):
    assert run(board_catalog, off(exclude_bought=True), bought=["a0", "b0"]) == [
        i for i in ALL if i not in ("a0", "b0")
    ]
    kept = run(board_catalog, off(exclude_bought=True, rebuy_categories=["kitchen"]), bought=["a0", "b0"])
    assert "b0" in kept and "a0" not in kept


def test_out_of_stock_and_hidden(board_catalog):
    assert "a2" not in run(board_catalog, off(exclude_out_of_stock=True))
    assert "b3" in run(board_catalog, off(exclude_out_of_stock=True))  # unknown stock passes
    assert "b4" not in run(board_catalog, off(exclude_hidden=True))


def test_category_brand_price_filters(board_catalog):
    assert run(board_catalog, off(categories=["kitchen"])) == [f"b{j}" for j in range(5)]
    assert run(board_catalog, off(brands=["acme"])) == ["a0", "a1", "b0", "b1"]
    assert run(board_catalog, off(min_price=20, max_price=30)) == ["a1", "a2", "b2"]


def test_exclude_list_and_n(board_catalog):
    assert run(board_catalog, off(exclude_items=["a0", "a1"]), n=2) == ["a2", "a3"]


def test_diversity_cap(board_catalog):
    assert run(board_catalog, off(max_per_category=2)) == ["a0", "a1", "b0", "b1"]


def test_margin_boost_moves_high_margin_up(board_catalog):
    # margin rate of a4 = (50 - 5) / 50 = 0.9, of a0 = 0.5: a big boost lifts a4 above a0
    plain = run(board_catalog, off(), order=["a0", "a4"])
    boosted = run(board_catalog, off(margin_boost=5.0), order=["a0", "a4"])
    assert plain == ["a0", "a4"] and boosted == ["a4", "a0"]


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"max_per_category": 0}, "max_per_category"),
        ({"margin_boost": -1}, "margin_boost"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_rule_options(kw, field):
    with pytest.raises(ValidationError, match=field):
        Rules(**kw)


def test_positions_outside_the_catalogue_are_dropped_and_unknown_margins_count_zero(board_catalog):
    idx = np.array([-1, 0, 1])
    sel, scores = apply_rules(idx, np.array([9.0, 1.0, 0.5]), board_catalog, off(), 10)
    assert sel.tolist() == [0, 1] and scores.tolist() == [1.0, 0.5]
    from marketloop.recs.rules import _margin

    assert _margin(50.0, 5.0) == 0.9 and _margin(0.0, 5.0) == 0.0 and _margin(float("nan"), 1.0) == 0.0
