"""Fixtures for the customer-intelligence tests: a small synthetic store with known structure."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from marketloop.store import open_store, schema

START = dt.datetime(2023, 1, 1)
END_DAY = dt.date(2024, 6, 30)
CATEGORIES = ("garden", "kitchen", "toys", "books")


def shared_data_dir() -> Path:
    """`MARKETLOOP_SHARED_DATA`, else `<repo>/../shared/data`, else /work/shared/data."""
    env = os.environ.get("MARKETLOOP_SHARED_DATA")
    candidates = [Path(env)] if env else []
    candidates += [Path(__file__).resolve().parents[2] / ".." / "shared" / "data", Path("/work/shared/data")]
    for path in candidates:
        if path.is_dir():
            return path
    pytest.skip("shared datasets not found (set MARKETLOOP_SHARED_DATA to the folder holding cdnow_transactions/)")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    return shared_data_dir()


def synthetic_orders(n_customers: int = 400, seed: int = 7) -> tuple[list[dict], list[dict], list[dict]]:
    """Customers buy at a personal rate until they lapse (BG/NBD-like); each has a favourite category.

    Customer ids are ``c<number>``; customer ``c0`` buys often until the end and loves ``garden``.
    """
    rng = np.random.default_rng(seed)
    products = []
    for i in range(24):
        products.append(
            {
                "product_id": f"p{i}",
                "name": f"Product {i}",
                "category": CATEGORIES[i % 4],
                "brand": f"brand{i % 3}",
                "price": float(5 + 5 * (i % 8)),
                "is_product": True,
                "hidden": False,
            }
        )
    span = (dt.datetime.combine(END_DAY, dt.time()) - START).days
    orders, lines = [], []
    n = 0
    for c in range(n_customers):
        rate = rng.gamma(1.5, 1 / 40) if c else 0.2  # purchases per day
        p_drop = rng.beta(1, 4) if c else 0.0
        favourite = c % 4
        t = rng.uniform(0, 250) if c else 1.0
        while t < span:
            n += 1
            cats = favourite if rng.random() < 0.8 else rng.integers(4)
            pids = [int(cats + 4 * rng.integers(6)) for _ in range(rng.integers(1, 4))]
            total = 0.0
            for line_no, pid in enumerate(pids, 1):
                qty = int(rng.integers(1, 3))
                price = products[pid]["price"]
                total += qty * price
                lines.append(
                    {
                        "order_id": f"o{n}",
                        "line_no": line_no,
                        "product_id": f"p{pid}",
                        "quantity": qty,
                        "unit_price": price,
                    }
                )
            orders.append(
                {
                    "order_id": f"o{n}",
                    "customer_id": f"c{c}",
                    "ordered_at": START + dt.timedelta(days=float(t)),
                    "status": "completed",
                    "is_return": False,
                    "total": total,
                }
            )
            if rng.random() < 0.05:  # a return of the same order a week later
                n += 1
                orders.append(
                    {
                        "order_id": f"o{n}",
                        "customer_id": f"c{c}",
                        "ordered_at": START + dt.timedelta(days=float(t) + 7),
                        "status": "returned",
                        "is_return": True,
                        "total": -total / 2,
                    }
                )
            if c and rng.random() < p_drop:
                break
            t += rng.exponential(1 / rate)
    for _ in range(30):  # guest orders never enter customer models
        n += 1
        orders.append(
            {
                "order_id": f"o{n}",
                "customer_id": None,
                "ordered_at": START + dt.timedelta(days=float(rng.uniform(0, span))),
                "status": "completed",
                "is_return": False,
                "total": 20.0,
            }
        )
    orders = [o for o in orders if o["ordered_at"] < dt.datetime.combine(END_DAY + dt.timedelta(days=1), dt.time())]
    keep = {o["order_id"] for o in orders}
    return orders, [line for line in lines if line["order_id"] in keep], products


@pytest.fixture(scope="session")
def synthetic_frames():
    return synthetic_orders()


@pytest.fixture()
def store(tmp_path, synthetic_frames):
    orders, lines, products = synthetic_frames
    st = open_store(f"duckdb:///{tmp_path / 'shop.duckdb'}")
    with st.begin() as conn:
        conn.execute(schema.products.insert(), products)
        conn.execute(schema.orders.insert(), orders)
        conn.execute(schema.order_lines.insert(), lines)
        conn.execute(
            schema.events.insert(),
            [
                {
                    "event_id": f"e{i}",
                    "customer_id": "c1",
                    "event_type": "view",
                    "product_id": "p5",
                    "ts": dt.datetime(2024, 6, 1) + dt.timedelta(hours=i),
                }
                for i in range(20)
            ],
        )
    yield st
    st.close()


def tx_frame(rows: list[tuple[str | None, str, float]]) -> pd.DataFrame:
    """A canonical transactions frame from (customer, ISO date, amount) tuples."""
    from marketloop.customers.transactions import finish_frame

    frame = pd.DataFrame(rows, columns=["customer_id", "ts", "amount"])
    return finish_frame(frame.assign(ts=pd.to_datetime(frame["ts"])))
