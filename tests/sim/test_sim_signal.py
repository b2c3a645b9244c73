"""The history a model can see carries a weak but real signal about the hidden truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from marketloop.sim import SimWorld, generate_store
from marketloop.sim.text import CATEGORIES


@pytest.fixture(scope="module")
def year_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A full year: the signal builds up over time, as in a real store's history."""
    out = tmp_path_factory.mktemp("sim-year") / "store"
    generate_store(out, customers=8_000, products=300, days=365, seed=21)
    return out


@pytest.fixture(scope="module")
def history(year_store: Path) -> pd.DataFrame:
    world = SimWorld.load(year_store)
    events = pq.read_table(
        year_store / "events", columns=["customer_id", "session_id", "event_type", "product_id", "ts"]
    ).to_pandas()
    orders = pq.read_table(year_store / "orders").to_pandas()
    orders = orders[~orders["is_return"]]
    end = events["ts"].max()
    per = pd.DataFrame(
        {
            "sessions": events.groupby("customer_id")["session_id"].nunique(),
            "carts": events[events["event_type"] == "add_to_cart"].groupby("customer_id")["session_id"].nunique(),
            "days_since_last": (end - events.groupby("customer_id")["ts"].max()).dt.days,
            "orders": orders.groupby("customer_id").size(),
            "order_value": orders.groupby("customer_id")["total"].mean(),
        }
    )
    truth = world.truth.set_index("customer_id")
    frame = truth.join(per, how="left")
    frame[["sessions", "carts", "orders"]] = frame[["sessions", "carts", "orders"]].fillna(0)
    frame["abandon"] = (frame["carts"] - frame["orders"]).clip(lower=0) / frame["sessions"].where(frame["sessions"] > 0)
    return frame


def spearman(a: pd.Series, b: pd.Series) -> float:
    return float(np.corrcoef(a.rank(), b.rank())[0, 1])


def test_purchase_rate_shows_in_order_counts(history: pd.DataFrame) -> None:
    alive = history[history["lifecycle_stage"] != "churned"]
    rate = alive["browse_rate"] * alive["cart_rate"] * alive["checkout_rate"]
    quintile = pd.qcut(rate, 5, labels=False)
    orders = alive.groupby(quintile)["orders"].mean()
    assert orders[4] > 2 * orders[0]  # visible...
    assert spearman(rate, alive["orders"]) < 0.6  # ...but noisy, as in real data


def test_lifecycle_shows_in_recency(history: pd.DataFrame) -> None:
    recency = history.groupby("lifecycle_stage")["days_since_last"].median()
    assert recency["churned"] > recency["at_risk"] > recency["active"]
    assert (
        history.loc[history["lifecycle_stage"] == "churned", "sessions"].mean()
        < 0.5 * history.loc[history["lifecycle_stage"] == "active", "sessions"].mean()
    )


def test_persuadables_abandon_more_carts_and_sleeping_dogs_are_older(history: pd.DataFrame) -> None:
    alive = history[history["lifecycle_stage"] != "churned"]
    abandon = alive.groupby("response_type")["abandon"].mean()
    assert abandon["persuadable"] > abandon.drop("persuadable").max()
    tenure = alive.groupby("response_type")["signup_day"].median()
    assert tenure["sleeping_dog"] < tenure["persuadable"]  # signed up earlier


def test_basket_and_category_preferences_show(history: pd.DataFrame, year_store: Path) -> None:
    store_dir = year_store
    buyers = history.dropna(subset=["order_value"])
    assert spearman(buyers["basket_value"], buyers["order_value"]) > 0.2
    events = pq.read_table(store_dir / "events", columns=["customer_id", "event_type", "product_id"]).to_pandas()
    products = pq.read_table(store_dir / "products.parquet", columns=["product_id", "category"]).to_pandas()
    views = events[events["event_type"] == "view"].merge(products, on="product_id")
    counts = views.groupby("customer_id").size()
    top_viewed = views.groupby(["customer_id", "category"]).size().groupby(level=0).idxmax().map(lambda k: k[1])
    busy = counts[counts >= 15].index
    by_name = {c.name: c.slug for c in CATEGORIES}
    agree = (top_viewed.loc[busy].map(by_name) == history.loc[busy, "top_category"]).mean()
    assert agree > 0.5


def test_some_purchases_repeat_earlier_ones(year_store: Path) -> None:
    lines = pq.read_table(year_store / "order_lines").to_pandas()
    orders = pq.read_table(year_store / "orders").to_pandas()
    bought = lines.merge(orders[~orders["is_return"]][["order_id", "customer_id", "ordered_at"]], on="order_id")
    bought = bought.sort_values("ordered_at")
    first_time = bought.groupby("customer_id")["ordered_at"].transform("min")
    later = bought[bought["ordered_at"] > first_time]
    earlier = bought.merge(
        later[["customer_id", "product_id", "ordered_at"]], on=["customer_id", "product_id"], suffixes=("", "_later")
    )
    repeats = earlier[earlier["ordered_at"] < earlier["ordered_at_later"]][
        ["customer_id", "product_id", "ordered_at_later"]
    ].drop_duplicates()
    share = len(repeats) / len(later)
    assert 0.05 < share < 0.5  # buy-again exists, as in real stores, without dominating
