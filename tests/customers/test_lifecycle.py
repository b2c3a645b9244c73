"""Last activity, days inactive and the lifecycle stage rule on a store with a known answer."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from marketloop.customers.lifecycle import activity_summary, lifecycle_stages
from marketloop.store import open_store, schema

AS_OF = dt.date(2025, 12, 31)
DAY = dt.datetime(2025, 12, 31, 12)


def _order(oid: str, customer: str | None, days_ago: int, status: str = "completed") -> dict:
    return {
        "order_id": oid,
        "customer_id": customer,
        "ordered_at": DAY - dt.timedelta(days=days_ago),
        "status": status,
        "is_return": False,
        "total": 10.0,
    }


def _events(customer: str, days_ago: list[int], kind: str = "view") -> list[dict]:
    return [
        {
            "event_id": f"{customer}-{kind}-{d}",
            "customer_id": customer,
            "event_type": kind,
            "ts": DAY - dt.timedelta(days=d),
        }
        for d in days_ago
    ]


@pytest.fixture()
def store(tmp_path):
    st = open_store(f"duckdb:///{tmp_path / 'life.duckdb'}")
    orders = [
        _order("o1", "fresh", 10),  # first order 10 days ago -> new
        _order("o2", "weekly", 200),  # browses every 10 days, last 5 days ago -> active
        _order("o3", "gone", 300),  # browsed every 10 days until 150 days ago -> churned
        _order("o4", "slipping", 300),  # every 20 days until 50 days ago (2.5 gaps of ~20) -> at risk
        _order("o5", "orders_only", 100),  # no events at all: the order is the last activity
        _order("o6", "orders_only", 40, status="cancelled"),  # any order counts as activity
        _order("o7", None, 1),  # guest orders are nobody's activity
        _order("o8", "future", -3),  # after as_of: not seen
    ]
    events = (
        _events("weekly", list(range(5, 200, 10)))
        + _events("gone", list(range(150, 300, 10)))
        + _events("slipping", list(range(50, 300, 20)), "add_to_cart")
        + _events("browser", [3, 30])  # events but no order
        + _events("fresh", [2])
        + _events("weekly", [-1])
    )  # the last one is after as_of
    with st.begin() as conn:
        conn.execute(schema.orders.insert(), orders)
        conn.execute(schema.events.insert(), events)
    yield st
    st.close()


def test_activity_summary_takes_events_and_orders_up_to_as_of(store) -> None:
    act = activity_summary(store, AS_OF)
    assert sorted(act.index) == ["browser", "fresh", "gone", "orders_only", "slipping", "weekly"]
    assert act.loc["weekly", "last_active_at"] == DAY - dt.timedelta(days=5)  # the event after as_of is left out
    assert act.loc["orders_only", "last_active_at"] == DAY - dt.timedelta(days=40)  # the cancelled order
    assert act.loc["browser", "last_active_at"] == DAY - dt.timedelta(days=3)
    assert act.loc["weekly", "active_days"] == 21  # 20 browsing days plus the order day
    assert act.loc["fresh", "active_days"] == 2


def test_stage_rule_on_a_known_answer(store) -> None:
    first = pd.Series(
        {
            c: DAY - dt.timedelta(days=d)
            for c, d in (
                ("fresh", 10),
                ("weekly", 200),
                ("gone", 300),
                ("slipping", 300),
                ("orders_only", 100),
                ("no_activity", 200),
            )
        }
    )
    out = lifecycle_stages(first, activity_summary(store, AS_OF), AS_OF)
    assert out["lifecycle_stage"].to_dict() == {
        "fresh": "new",
        "weekly": "active",
        "gone": "churned",
        "slipping": "at_risk",
        "orders_only": "active",
        "no_activity": "churned",
    }
    assert out["days_inactive"].to_dict() == {
        "fresh": 2,
        "weekly": 5,
        "gone": 150,
        "slipping": 50,
        "orders_only": 40,
        "no_activity": None,
    }
    # The median cadence m over the profiled customers with two active days or more: own mean gaps are
    # fresh 8, weekly 9.75, gone 10, slipping 250 / 13, orders_only 60 -> m = 10 (the browser without an
    # order is not among them); a customer's cadence is (span + m) / active days.
    m = 10
    gaps = out["activity_gap_days"]
    assert gaps["gone"] == pytest.approx((150 + m) / 16, abs=0.05)  # silent 15 gaps: churned
    assert gaps["slipping"] == pytest.approx((250 + m) / 14, abs=0.05)  # silent 2.7 gaps: at risk
    assert gaps["orders_only"] == pytest.approx((60 + m) / 2, abs=0.05)  # silent 1.1 gaps: active
    assert pd.isna(gaps["no_activity"])
