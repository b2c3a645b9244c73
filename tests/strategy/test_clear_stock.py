"""Clear-stock goals: the planner targets by predicted extra units of the overstocked products, stops once the
units to move are reached, and features those products; goals without a scope are refused."""

from __future__ import annotations

import datetime as dt
import json
import shutil

import pandas as pd
import pytest

from marketloop.errors import InputError
from marketloop.store import schema
from marketloop.store.bulk import insert_frame
from marketloop.store.engine import open_store
from marketloop.strategy.goal import parse_goal
from marketloop.strategy.planner import plan_campaign

GOAL = {
    "name": "Clear dresses",
    "objective": "clear_stock",
    "discounts": [0.0, 0.2],
    "clear": {"categories": ["women"]},
}


def _store_with_overstock(known_store_url, tmp_path, excess: float):
    src = known_store_url[0].removeprefix("duckdb:///")
    dst = tmp_path / "clear.duckdb"
    shutil.copy(src, dst)
    store = open_store(f"duckdb:///{dst}")
    row = {
        "product_id": "P1",
        "run_id": "fc-test",
        "computed_at": dt.datetime(2026, 3, 1),
        "stock": int(excess + 50),
        "daily_demand": 0.5,
        "days_of_cover": (excess + 50) / 0.5,
        "window_days": 14,
        "p_stockout": 0.0,
        "overstock_days": 90,
        "overstock_units": excess,
        "p_overstock": 1.0,
        "risk": "overstock",
    }
    with store.begin() as conn:
        insert_frame(conn, schema.stock_cover, pd.DataFrame([row]))
    return store


def test_clear_stock_targets_persuadables_and_features_the_overstock(known_store_url, tmp_path) -> None:
    store = _store_with_overstock(known_store_url, tmp_path, excess=5000.0)
    result = plan_campaign(store, parse_goal(GOAL), n_boot=50)
    kinds = known_store_url[1]
    audience = result.audience
    assert len(audience) > 0
    included = audience["customer_id"].map(kinds).value_counts()
    # every persuadable (a message moves them); no sleeping dog (a message puts them off)
    assert included.get("persuadable", 0) >= 990 and included.get("sleeping_dog", 0) == 0
    assert set(audience["products_json"].map(lambda s: tuple(json.loads(s)))) == {("P1",)}
    facts = result.facts["clear_stock"]
    assert facts["units_to_move"] == 5000.0 and facts["predicted_units"] > 0
    assert "Stock to clear" in result.plan.rationale
    store.close()


def test_clear_stock_stops_once_the_units_are_moved(known_store_url, tmp_path) -> None:
    store = _store_with_overstock(known_store_url, tmp_path, excess=5.0)
    result = plan_campaign(store, parse_goal(GOAL), n_boot=50)
    left = result.decisions[result.decisions["reason"] == "stock_cleared"]
    assert len(left) > 100 and result.decisions["included"].sum() < 200
    assert result.facts["clear_stock"]["predicted_units"] <= 5.0 + 2.0  # the last customer may overshoot a little
    store.close()


@pytest.mark.parametrize(
    ("goal", "message"),
    [
        ({"objective": "clear_stock"}, "needs \\[clear\\] with categories and / or product_ids"),
        ({"objective": "clear_stock", "clear": {}}, "needs \\[clear\\]"),
        ({"clear": {"categories": ["women"]}}, "only for objective"),
        ({"objective": "clear_stock", "clear": {"brands": ["x"]}}, "unknown field"),
    ],
)
def test_bad_clear_stock_goals(goal, message) -> None:
    with pytest.raises(InputError, match=message):
        parse_goal({"name": "x", **goal})


def test_no_overstock_is_a_clear_error(known_store_url, tmp_path) -> None:
    src = known_store_url[0].removeprefix("duckdb:///")
    shutil.copy(src, tmp_path / "none.duckdb")
    with open_store(f"duckdb:///{tmp_path / 'none.duckdb'}") as store:
        with pytest.raises(InputError, match="no overstocked product"):
            plan_campaign(store, parse_goal(GOAL), n_boot=20)
