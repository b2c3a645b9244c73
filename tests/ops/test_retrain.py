"""Gated retraining: a retrained recommender that is worse than the served one on the latest window is not
promoted (and alerts); a better one is; unchanged data retrains nothing. The job records both figures."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from marketloop.clock import SimClock
from marketloop.config import load_settings
from marketloop.ops.alerts import list_alerts
from marketloop.ops.schedule import Scheduler
from marketloop.recs.registry import ModelRegistry
from marketloop.recs.training import train_from_store
from marketloop.store import open_store, schema
from marketloop.store.bulk import insert_frame

START = dt.datetime(2025, 1, 1)
USERS, CATS, PER_CAT = 300, 8, 10


def _orders(rows: list[tuple[str, str, float]], tag: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    orders = pd.DataFrame(
        {
            "order_id": [f"{tag}{i}" for i in range(len(rows))],
            "customer_id": [u for u, _, _ in rows],
            "ordered_at": [START + dt.timedelta(days=d) for _, _, d in rows],
            "status": "completed",
            "is_return": False,
            "total": 10.0,
        }
    )
    lines = pd.DataFrame(
        {
            "order_id": orders["order_id"],
            "line_no": 1,
            "product_id": [p for _, p, _ in rows],
            "quantity": 1,
            "unit_price": 10.0,
        }
    )
    return orders, lines


def _write(store, rows, tag) -> None:
    orders, lines = _orders(rows, tag)
    with store.begin() as conn:
        insert_frame(conn, schema.orders, orders)
        insert_frame(conn, schema.order_lines, lines)


def _taste_rows(rng, start: float, end: float, per_user: int) -> list[tuple[str, str, float]]:
    rows = []
    for u in range(USERS):
        cat = u % CATS
        weights = 1.0 / np.arange(1, PER_CAT + 1)
        items = rng.choice(PER_CAT, per_user, p=weights / weights.sum())
        rows += [(f"u{u}", f"p{cat * PER_CAT + i}", rng.uniform(start, end)) for i in items]
    return rows


@pytest.fixture
def shop(tmp_path):
    rng = np.random.default_rng(5)
    store = open_store(f"duckdb:///{tmp_path / 'recs.duckdb'}")
    products = pd.DataFrame(
        {
            "product_id": [f"p{i}" for i in range(CATS * PER_CAT)],
            "name": [f"Item {i} of range {i // PER_CAT}" for i in range(CATS * PER_CAT)],
            "category": [f"cat{i // PER_CAT}" for i in range(CATS * PER_CAT)],
            "price": 10.0,
            "is_product": True,
            "hidden": False,
        }
    )
    customers = pd.DataFrame({"customer_id": [f"u{u}" for u in range(USERS)], "is_guest": False})
    with store.begin() as conn:
        insert_frame(conn, schema.products, products)
        insert_frame(conn, schema.customers, customers)
    _write(store, _taste_rows(rng, 0, 60, 12), "a")
    train_from_store(store, tmp_path / "models", model="itemknn", encoder="hashing", cache_dir=str(tmp_path / "cache"))
    yield store, rng, tmp_path
    store.close()


def _scheduler(store, tmp_path, now):
    settings = load_settings(
        db_url=str(store.url),
        run_schedules=True,
        models_dir=tmp_path / "models",
        cache_dir=tmp_path / "cache",
        recs_retrain_model="itemknn",
        recs_encoder="hashing",
        recs_gate_window_days=14,
    )
    return Scheduler(store, settings, SimClock(now))


def test_a_retrain_worse_than_the_served_model_is_not_promoted(shop) -> None:
    store, rng, tmp_path = shop
    # a broken feed: a month of purchases of random products, then a normal fortnight (the latest window)
    junk = [
        (f"u{u}", f"p{rng.integers(0, CATS * PER_CAT)}", rng.uniform(60, 90)) for u in range(USERS) for _ in range(40)
    ]
    _write(store, junk, "j")
    _write(store, _taste_rows(rng, 90.5, 104, 3), "b")
    run = _scheduler(store, tmp_path, START + dt.timedelta(days=105)).run("recs")
    gate = run["figures"]
    assert run["status"] == "kept", run
    assert gate["decision"] == "kept" and gate["current_version"] == 1 and gate["promoted_version"] is None
    assert gate["candidate"]["ndcg@10"] < 0.95 * gate["current"]["ndcg@10"]
    reg = ModelRegistry(store, tmp_path / "models")
    assert reg.promoted("itemknn").version == 1 and [v.version for v in reg.versions("itemknn")] == [1]
    (alert,) = list_alerts(store)
    assert alert["kind"] == "retrain" and alert["subject"] == "recs:itemknn" and "keeps serving" in alert["message"]


def test_a_retrain_that_is_not_worse_is_promoted_with_its_figures(shop) -> None:
    store, rng, tmp_path = shop
    _write(store, _taste_rows(rng, 60, 104, 8), "b")
    sched = _scheduler(store, tmp_path, START + dt.timedelta(days=105))
    run = sched.run("recs")
    assert run["status"] == "ok", run
    gate = run["figures"]
    assert gate["decision"] == "promoted" and gate["promoted_version"] == 2
    assert gate["candidate"]["ndcg@10"] >= 0.95 * gate["current"]["ndcg@10"]
    reg = ModelRegistry(store, tmp_path / "models")
    promoted = reg.promoted("itemknn")
    assert promoted.version == 2 and promoted.metrics["gate"]["decision"] == "promoted"
    assert reg.promoted("trending").version == 2  # the companions are promoted with it
    again = sched.run("recs")  # nothing new since: nothing to do
    assert again["status"] == "skipped" and "no new interactions" in again["message"]
    assert list_alerts(store) == []
