"""A tiny shop for the content, consent and privacy route tests: three customers, four products with
orders, reviews with a known verdict (P1: the fit is loved; P4: the quality is criticised)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

from marketloop.store import open_store, schema
from tests.service.conftest import Api, make_api

T0 = dt.datetime(2026, 1, 5, 10, 0)

P1_REVIEWS = [
    "Love the fit, so flattering.",
    "The fit is perfect and the fabric is soft.",
    "Beautiful dress, the fit is great.",
    "Great fit, lovely colour.",
    "The material is itchy and cheap.",
    "Fabric is thin, see-through. Disappointed.",
]
P4_REVIEWS = [
    "Terrible quality, it fell apart.",
    "Awful, the seams ripped. Poor quality.",
    "Bad quality, returned it.",
    "Nice colour.",
]


def seed_shop(store) -> None:
    with store.begin() as c:
        c.execute(
            schema.customers.insert(),
            [
                {"customer_id": "C1", "first_name": "Anna", "language": "en", "email_hash": "h1", "is_guest": False},
                {"customer_id": "C2", "first_name": "Ben", "language": "en", "email_hash": "h2", "is_guest": False},
                {"customer_id": "C3", "first_name": "丽华", "language": "zh-CN", "email_hash": None, "is_guest": False},
            ],
        )
        c.execute(
            schema.products.insert(),
            [
                {
                    "product_id": "P1",
                    "name": "Linen Summer Dress",
                    "description": "A light linen dress for warm days",
                    "category": "Dresses",
                    "price": 49.0,
                    "currency": "GBP",
                    "is_product": True,
                    "hidden": False,
                },
                {
                    "product_id": "P2",
                    "name": "Wool Scarf",
                    "description": "Soft merino wool scarf",
                    "category": "Accessories",
                    "price": 19.5,
                    "currency": "GBP",
                    "is_product": True,
                    "hidden": False,
                },
                {
                    "product_id": "P3",
                    "name": "Pack of 12 Tealights",
                    "description": "Unscented tealights",
                    "category": "Home",
                    "price": 3.25,
                    "currency": "GBP",
                    "is_product": True,
                    "hidden": False,
                },
                {
                    "product_id": "P4",
                    "name": "Denim Jacket",
                    "description": "Classic blue denim jacket",
                    "category": "Jackets",
                    "price": 65.0,
                    "currency": "GBP",
                    "is_product": True,
                    "hidden": False,
                },
            ],
        )
        c.execute(
            schema.orders.insert(),
            [
                {
                    "order_id": "581234",
                    "customer_id": "C1",
                    "ordered_at": T0,
                    "status": "pending",
                    "is_return": False,
                    "currency": "GBP",
                    "total": 68.5,
                },
                {
                    "order_id": "581235",
                    "customer_id": "C2",
                    "ordered_at": T0 + dt.timedelta(days=2),
                    "status": "completed",
                    "is_return": False,
                    "currency": "GBP",
                    "total": 3.25,
                },
            ],
        )
        c.execute(
            schema.order_lines.insert(),
            [
                {"order_id": "581234", "line_no": 1, "product_id": "P1", "quantity": 1, "unit_price": 49.0},
                {"order_id": "581234", "line_no": 2, "product_id": "P2", "quantity": 1, "unit_price": 19.5},
                {"order_id": "581235", "line_no": 1, "product_id": "P3", "quantity": 1, "unit_price": 3.25},
            ],
        )
        c.execute(
            schema.reviews.insert(),
            [
                {
                    "review_id": f"R1{i}",
                    "product_id": "P1",
                    "customer_id": "C2",
                    "rating": 5 if i < 4 else 2,
                    "title": None,
                    "body": t,
                }
                for i, t in enumerate(P1_REVIEWS)
            ]
            + [
                {
                    "review_id": f"R4{i}",
                    "product_id": "P4",
                    "customer_id": "C1",
                    "rating": 1 if i < 3 else 4,
                    "title": None,
                    "body": t,
                }
                for i, t in enumerate(P4_REVIEWS)
            ],
        )
        c.execute(
            schema.consents.insert(),
            [
                {
                    "customer_id": cid,
                    "channel": "email",
                    "status": "granted",
                    "updated_at": T0,
                    "source": "customers.csv",
                }
                for cid in ("C1", "C2")
            ],
        )


def shop_api(tmp: Path, **settings) -> Iterator[Api]:
    """An API on a seeded store; every secret and model folder lives under `tmp` (module-scoped fixtures
    run before the per-test settings isolation, so nothing may fall back to the working directory)."""
    store = open_store(f"duckdb:///{tmp / 'shop.duckdb'}")
    seed_shop(store)
    yield from make_api(tmp, store=store, secret_file=tmp / "pii.key", models_dir=tmp / "models", **settings)
    store.close()
