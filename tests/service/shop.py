"""A small analysed and trained shop shared by the data-route tests (overview, customers, products, recs).

Built once per test session (profiles take ~10 s, recommendation training ~1 s) and read only by the
tests. Its structure gives known answers:

- ``c0`` buys garden products every few days until the last day: a Champion whose top interest is garden;
- ``hidden1`` (garden, hidden) and ``nostock1`` (kitchen, stock 0) sell well but must never be recommended;
- ``new1`` (garden) was never bought: similar items come from its text;
- ``bt1`` and ``bt2`` (tools) are always bought together, by customers ``t0`` .. ``t19`` only;
- ``prospect`` is a known customer with consents but no orders; ``fee`` is postage, not a product.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from marketloop.customers.profile import refresh_profiles
from marketloop.recs.training import train_from_store
from marketloop.store import open_store, schema

START = dt.datetime(2023, 1, 1)
END = dt.datetime(2024, 6, 30, 18, 0)
CATEGORIES = ("garden", "kitchen", "toys", "books")
NOUNS = {"garden": "spade", "kitchen": "pan", "toys": "puzzle", "books": "novel"}


@dataclass
class Shop:
    url: str
    store: object
    models_dir: Path
    orders: list[dict]
    lines: list[dict]
    products: list[dict]


def _products() -> list[dict]:
    rows = []
    for i in range(24):
        cat = CATEGORIES[i % 4]
        rows.append(
            {
                "product_id": f"p{i}",
                "name": f"{cat.title()} {NOUNS[cat]} {i}",
                "category": cat,
                "brand": f"brand{i % 3}",
                "price": float(5 + 5 * (i % 8)),
                "cost": float(2 + 2 * (i % 8)),
                "stock": 50,
                "description": f"A {cat} {NOUNS[cat]} for every {cat} lover.",
                "is_product": True,
                "hidden": False,
                "currency": "EUR",
            }
        )
    extra = [
        ("hidden1", "Garden spade deluxe", "garden", {"hidden": True}),
        ("nostock1", "Kitchen pan deluxe", "kitchen", {"stock": 0}),
        ("new1", "Garden spade new", "garden", {}),
        ("bt1", "Tools hammer", "tools", {}),
        ("bt2", "Tools nails", "tools", {}),
        ("fee", "Postage", None, {"is_product": False}),
    ]
    for pid, name, cat, flags in extra:
        rows.append(
            {
                "product_id": pid,
                "name": name,
                "category": cat,
                "brand": "brand0",
                "price": 20.0,
                "cost": 8.0,
                "stock": 50,
                "description": f"A {cat} product." if cat else "Shipping fee.",
                "is_product": True,
                "hidden": False,
                "currency": "EUR",
                **flags,
            }
        )
    return rows


def _orders(products: list[dict], seed: int = 11) -> tuple[list[dict], list[dict]]:
    rng = np.random.default_rng(seed)
    price = {p["product_id"]: p["price"] for p in products}
    span = (END - START).total_seconds() / 86_400
    orders: list[dict] = []
    lines: list[dict] = []

    def order(customer: str | None, days: float, items: list[str], status: str = "completed") -> None:
        oid = f"o{len(orders)}"
        qty = [int(rng.integers(1, 3)) for _ in items]
        lines.extend(
            {"order_id": oid, "line_no": n, "product_id": pid, "quantity": q, "unit_price": price[pid]}
            for n, (pid, q) in enumerate(zip(items, qty, strict=True), 1)
        )
        total = round(sum(q * price[pid] for pid, q in zip(items, qty, strict=True)), 2)
        orders.append(
            {
                "order_id": oid,
                "customer_id": customer,
                "ordered_at": START + dt.timedelta(days=days),
                "status": status,
                "is_return": False,
                "total": total,
                "currency": "EUR",
                "channel": "web",
            }
        )
        if customer and rng.random() < 0.04:  # a partial return a week later
            orders.append(
                {
                    "order_id": f"r{len(orders)}",
                    "customer_id": customer,
                    "status": "returned",
                    "ordered_at": START + dt.timedelta(days=min(days + 7, span)),
                    "is_return": True,
                    "total": -round(total / 2, 2),
                    "currency": "EUR",
                    "channel": "web",
                }
            )

    t = 2.0
    while t < span:  # c0: garden, every few days, to the very end
        garden = [f"p{4 * int(rng.integers(6))}" for _ in range(int(rng.integers(1, 3)))]
        order("c0", t, garden + (["hidden1"] if rng.random() < 0.3 else []))
        t += float(rng.uniform(2, 6))
    order("c0", span - 0.01, ["p0"])
    for c in range(1, 160):  # each buys at a personal rate from a start day until a personal end day
        rate, fav = float(rng.gamma(2.0, 1 / 40)), CATEGORIES[c % 4]
        t = float(rng.uniform(0, 300))
        end = min(span, t + float(rng.exponential(300)))
        while t < end:
            cat = fav if rng.random() < 0.8 else CATEGORIES[int(rng.integers(4))]
            items = [f"p{CATEGORIES.index(cat) + 4 * int(rng.integers(6))}" for _ in range(int(rng.integers(1, 3)))]
            if cat == "kitchen" and rng.random() < 0.3:
                items.append("nostock1")
            order(f"c{c}", t, items)
            t += float(rng.exponential(1 / rate))
    for k in range(20):
        order(f"t{k}", float(rng.uniform(200, span - 1)), ["bt1", "bt2"])
    for _ in range(5):  # guest orders: revenue, but no customer
        order(None, float(rng.uniform(0, span)), ["p1"])
    return orders, lines


def build_shop(root: Path) -> Shop:
    products = _products()
    orders, lines = _orders(products)
    customers = sorted({o["customer_id"] for o in orders if o["customer_id"]}) + ["prospect"]
    url = f"duckdb:///{root / 'shop.duckdb'}"
    store = open_store(url)
    with store.begin() as conn:
        conn.execute(schema.products.insert(), products)
        conn.execute(
            schema.customers.insert(),
            [
                {
                    "customer_id": c,
                    "country": "DE" if i % 2 else "FR",
                    "language": "de" if i % 2 else "fr",
                    "time_zone": "Europe/Berlin",
                    "first_name": "Ann",
                    "email_hash": "0" * 64,
                    "is_guest": False,
                    "signup_at": START,
                }
                for i, c in enumerate(customers)
            ],
        )
        conn.execute(schema.orders.insert(), orders)
        conn.execute(schema.order_lines.insert(), lines)
        conn.execute(
            schema.consents.insert(),
            [
                {"customer_id": "c0", "channel": "email", "status": "granted", "updated_at": START, "source": "signup"},
                {"customer_id": "c0", "channel": "sms", "status": "revoked", "updated_at": END, "source": "api"},
                {
                    "customer_id": "prospect",
                    "channel": "email",
                    "status": "granted",
                    "updated_at": END,
                    "source": "signup",
                },
            ],
        )
        conn.execute(
            schema.events.insert(),
            [
                {
                    "event_id": f"e{i}",
                    "customer_id": "c1",
                    "event_type": "view",
                    "product_id": "p6",
                    "ts": END - dt.timedelta(days=i),
                }
                for i in range(3)
            ],
        )
    refresh_profiles(store)
    train_from_store(store, root / "models", model="hybrid", encoder="hashing", cache_dir=None, val_days=60)
    return Shop(url, store, root / "models", orders, lines, products)


_SHOP: dict[Path, Shop] = {}


def shared_shop(request) -> Shop:
    """The session's shop, built on first use (module fixtures of several test files share it) and
    closed when the session ends."""
    factory = request.getfixturevalue("tmp_path_factory")
    base = factory.getbasetemp()
    if base not in _SHOP:
        shop = _SHOP[base] = build_shop(factory.mktemp("shop"))
        request.config.add_cleanup(shop.store.close)
    return _SHOP[base]
