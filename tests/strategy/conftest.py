"""A small store whose right targeting is known by construction, with a randomised test in its history.

Four kinds of customers, told apart by what the store holds:
- persuadable: browses and abandons carts, never ordered; e-mail lifts purchase 5 % -> 25 % (20 % off: 30 %);
- sure thing: ordered often and recently; buys 60 % of the time whatever happens;
- sleeping dog: one order long ago, no visits; an e-mail cuts purchase from 30 % to 10 %;
- lost cause: signed up, a few views; buys 2 % of the time whatever happens.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from marketloop.store import schema
from marketloop.store.bulk import insert_frame
from marketloop.store.engine import Store, open_store

NOW = dt.datetime(2026, 3, 1, 8, 0)
KINDS = ("persuadable", "sure_thing", "sleeping_dog", "lost_cause")
#: purchase probability by kind and arm (control, email-0, email-20)
RATES = {
    "persuadable": (0.05, 0.25, 0.30),
    "sure_thing": (0.6, 0.6, 0.62),
    "sleeping_dog": (0.3, 0.1, 0.12),
    "lost_cause": (0.02, 0.02, 0.02),
}
PER_KIND = 1_000


def _build(store: Store, seed: int = 0) -> dict[str, str]:
    rng = np.random.default_rng(seed)
    kinds = {}
    customers, events, orders, lines, consents = [], [], [], [], []
    for kind in KINDS:
        for i in range(PER_KIND):
            cid = f"{kind[:2].upper()}{i:05d}"
            kinds[cid] = kind
            tenure = {"persuadable": 200, "sure_thing": 400, "sleeping_dog": 1500, "lost_cause": 60}[kind]
            customers.append(
                {
                    "customer_id": cid,
                    "country": "DE",
                    "time_zone": "Europe/Berlin",
                    "signup_at": NOW - dt.timedelta(days=tenure),
                    "is_guest": False,
                }
            )
            consents.append(
                {
                    "customer_id": cid,
                    "channel": "email",
                    "status": "granted",
                    "updated_at": NOW - dt.timedelta(days=tenure),
                }
            )
            n_orders = {"persuadable": 0, "sure_thing": 6, "sleeping_dog": 1, "lost_cause": 0}[kind]
            for j in range(n_orders):
                ago = 700 + 30 * j if kind == "sleeping_dog" else 10 + 25 * j
                oid = f"O{cid}{j}"
                orders.append(
                    {
                        "order_id": oid,
                        "customer_id": cid,
                        "ordered_at": NOW - dt.timedelta(days=ago),
                        "status": "completed",
                        "is_return": False,
                        "total": 100.0,
                    }
                )
                lines.append(
                    {
                        "order_id": oid,
                        "line_no": 1,
                        "product_id": "P1",
                        "quantity": 1,
                        "unit_price": 100.0,
                        "discount": 0.0,
                    }
                )
            n_events = {"persuadable": 12, "sure_thing": 4, "sleeping_dog": 0, "lost_cause": 2}[kind]
            for j in range(n_events):
                etype = "add_to_cart" if kind == "persuadable" and j % 2 else "view"
                events.append(
                    {
                        "event_id": f"E{cid}{j}",
                        "customer_id": cid,
                        "session_id": f"S{cid}{j // 3}",
                        "event_type": etype,
                        "product_id": "P1",
                        "ts": NOW - dt.timedelta(days=1 + 3 * j),
                    }
                )
    sends, outcomes = [], []
    arms = [("control", 0.0), ("email-0", 0.0), ("email-20", 0.2)]
    sent = NOW - dt.timedelta(hours=1)
    for cid, kind in kinds.items():
        a = int(rng.integers(0, 3))
        name, discount = arms[a]
        sid = f"T-{cid}"
        sends.append(
            {
                "send_id": sid,
                "campaign_id": "test-1",
                "customer_id": cid,
                "channel": "email",
                "variant": name,
                "is_holdout": a == 0,
                "idempotency_key": sid,
                "status": "holdout" if a == 0 else "delivered",
                "payload_json": json.dumps({"discount": discount}),
                "created_at": sent,
                "sent_at": sent,
            }
        )
        if rng.random() < RATES[kind][a]:
            outcomes.append(
                {
                    "send_id": sid,
                    "kind": "conversion",
                    "ts": sent + dt.timedelta(days=2),
                    "value": 100.0 * (1 - discount),
                }
            )
        if a and rng.random() < 0.3:
            outcomes.append({"send_id": sid, "kind": "open", "ts": sent + dt.timedelta(hours=3), "value": None})
    with store.begin() as conn:
        conn.execute(
            schema.products.insert(),
            [
                {
                    "product_id": "P1",
                    "name": "Linen Dress",
                    "category": "women",
                    "price": 100.0,
                    "cost": 60.0,
                    "is_product": True,
                    "hidden": False,
                }
            ],
        )
        insert_frame(conn, schema.customers, pd.DataFrame(customers))
        insert_frame(conn, schema.consents, pd.DataFrame(consents))
        insert_frame(conn, schema.orders, pd.DataFrame(orders))
        insert_frame(conn, schema.order_lines, pd.DataFrame(lines))
        insert_frame(conn, schema.events, pd.DataFrame(events))
        conn.execute(
            schema.campaigns.insert(),
            [
                {
                    "campaign_id": "test-1",
                    "name": "Spring test",
                    "status": "completed",
                    "created_at": sent,
                    "updated_at": sent,
                }
            ],
        )
        insert_frame(conn, schema.sends, pd.DataFrame(sends))
        insert_frame(conn, schema.send_outcomes, pd.DataFrame(outcomes))
    return kinds


@pytest.fixture(scope="session")
def known_store_url(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, str]]:
    path = Path(tmp_path_factory.mktemp("strategy")) / "known.duckdb"
    url = f"duckdb:///{path}"
    with open_store(url) as store:
        kinds = _build(store)
    return url, kinds
