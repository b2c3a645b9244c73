"""Attribution inside the window, intention to treat, and profit, on a hand-made store with known answers."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from marketloop.measure.attribution import add_profit, campaign_outcomes, cost_ratio
from marketloop.store import schema

from .conftest import T0

DAY = dt.timedelta(days=1)


def _send(send_id: str, customer: str, status: str, sent_at, holdout=False, discount=0.0, group="g"):
    return {
        "send_id": send_id,
        "campaign_id": "c",
        "customer_id": customer,
        "channel": "email",
        "variant": "a",
        "is_holdout": holdout,
        "idempotency_key": send_id * 2,
        "status": status,
        "created_at": T0 - DAY,
        "sent_at": sent_at,
        "attempts": 1 if sent_at else 0,
        "payload_json": json.dumps({"group": group, "discount": discount, "window_days": 7}),
    }


def _order(order_id: str, customer: str, at, total: float, status="completed", is_return=False):
    return {
        "order_id": order_id,
        "customer_id": customer,
        "ordered_at": at,
        "status": status,
        "is_return": is_return,
        "total": total,
    }


@pytest.fixture
def outcomes(store):
    with store.begin() as c:
        c.execute(
            schema.sends.insert(),
            [
                _send("s1", "a", "sent", T0, discount=0.2),  # buys on day 3 (in), day 8 (out)
                _send("s2", "b", "sent", T0 + DAY),  # bought the day before its send: not attributed
                _send("s3", "c", "skipped", None),  # treated but skipped: window from campaign start (T0)
                _send("s4", "d", "holdout", None, holdout=True),  # holdout: window from T0
                _send("s5", "e", "holdout", None, holdout=True),  # a cancelled order and a return: not conversions
            ],
        )
        c.execute(
            schema.orders.insert(),
            [
                _order("o1", "a", T0 + 3 * DAY, 80.0),
                _order("o2", "a", T0 + 8 * DAY, 50.0),
                _order("o3", "b", T0 + 0.5 * DAY, 40.0),
                _order("o4", "c", T0 + 6.9 * DAY, 30.0),
                _order("o5", "d", T0 + 2 * DAY, 100.0),
                _order("o6", "d", T0 + 4 * DAY, 20.0),
                _order("o7", "e", T0 + DAY, 60.0, status="cancelled"),
                _order("o8", "e", T0 + DAY, -10.0, is_return=True),
            ],
        )
        c.execute(
            schema.send_outcomes.insert(),
            [
                {"send_id": "s1", "kind": "delivered", "ts": T0, "value": None},
                {"send_id": "s1", "kind": "open", "ts": T0 + DAY, "value": None},
                {"send_id": "s2", "kind": "delivered", "ts": T0 + DAY, "value": None},
            ],
        )
        c.execute(
            schema.products.insert(),
            [{"product_id": "p", "name": "P", "price": 10.0, "cost": 6.0, "is_product": True, "hidden": False}],
        )
    return campaign_outcomes(store, "c", window_days=7).set_index("send_id")


def test_orders_count_only_inside_each_sends_window(outcomes):
    assert outcomes["orders"].to_dict() == {"s1": 1, "s2": 0, "s3": 1, "s4": 2, "s5": 0}
    assert outcomes["revenue"].to_dict() == {"s1": 80.0, "s2": 0.0, "s3": 30.0, "s4": 120.0, "s5": 0.0}
    assert outcomes["converted"].sum() == 3
    assert outcomes.loc["s1", "opened"] and not outcomes.loc["s2", "opened"]
    assert outcomes.loc["s3", "anchor_at"] == T0  # never sent: measured from the campaign's first send


def test_profit_charges_the_undiscounted_cost_of_goods_and_the_message(store, outcomes):
    ratio = cost_ratio(store)
    assert ratio == pytest.approx(0.6)
    profit = add_profit(outcomes.reset_index(), ratio).set_index("send_id")["profit"]
    # s1: 80 paid after 20 % off -> list price 100 -> cost 60; minus the e-mail's 0.002
    assert profit["s1"] == pytest.approx(80 - 60 - 0.002)
    assert profit["s3"] == pytest.approx(30 - 18)  # skipped: no message cost
    assert profit["s2"] == pytest.approx(-0.002)
