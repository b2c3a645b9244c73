"""A small store with a known demand: a weekly season and a holiday effect planted in daily sales."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from marketloop.store import schema
from marketloop.store.bulk import insert_frame
from marketloop.store.engine import open_store

START = dt.date(2024, 1, 1)  # a Monday
DAYS = 546
#: planted weekday profile (Monday first) and holiday multiplier
WEEKDAY = np.array([0.8, 0.9, 1.0, 1.0, 1.1, 1.6, 1.3])
HOLIDAY_EFFECT = 2.0
BASE = {"P1": 30.0, "P2": 12.0, "P3": 6.0}
CATEGORY = {"P1": "home", "P2": "home", "P3": "garden"}


def holidays() -> list[dt.date]:
    """Twice a month on varying weekdays, plus days inside the last 28 (the forecast horizon)."""
    days = {START + dt.timedelta(days=d) for d in range(9, DAYS + 40, 17)}
    return sorted(days)


def planted(day: dt.date) -> float:
    return float(WEEKDAY[day.weekday()] * (HOLIDAY_EFFECT if day in set(holidays()) else 1.0))


def build_store(path, days: int = DAYS, stock: dict[str, int] | None = None, seed: int = 0):
    rng = np.random.default_rng(seed)
    orders, lines = [], []
    k = 0
    for d in range(days):
        day = START + dt.timedelta(days=d)
        for pid, base in BASE.items():
            units = int(rng.poisson(base * planted(day)))
            if units == 0:
                continue
            oid = f"O{k}"
            k += 1
            ts = dt.datetime.combine(day, dt.time(12))
            orders.append(
                {
                    "order_id": oid,
                    "customer_id": None,
                    "ordered_at": ts,
                    "status": "completed",
                    "is_return": False,
                    "total": units * 10.0,
                }
            )
            lines.append(
                {
                    "order_id": oid,
                    "line_no": 1,
                    "product_id": pid,
                    "quantity": units,
                    "unit_price": 10.0,
                    "discount": 0.0,
                }
            )
    store = open_store(f"duckdb:///{path}")
    products = pd.DataFrame(
        {
            "product_id": list(BASE),
            "name": [f"Product {p}" for p in BASE],
            "category": [CATEGORY[p] for p in BASE],
            "price": 10.0,
            "cost": 6.0,
            "stock": [(stock or {}).get(p) for p in BASE],
            "is_product": True,
            "hidden": False,
        }
    )
    with store.begin() as conn:
        insert_frame(conn, schema.products, products)
        insert_frame(conn, schema.orders, pd.DataFrame(orders))
        insert_frame(conn, schema.order_lines, pd.DataFrame(lines))
        conn.execute(
            schema.calendar.insert(),
            [
                {"day": h, "kind": "holiday", "name": f"Holiday {h}", "region": "global", "discount": None}
                for h in holidays()
            ],
        )
    return store


@pytest.fixture(scope="module")
def known_store(tmp_path_factory: pytest.TempPathFactory):
    store = build_store(tmp_path_factory.mktemp("forecast") / "known.duckdb", stock={"P1": 200, "P2": 5000, "P3": 0})
    yield store
    store.close()
