"""GET /v1/overview: headline figures, the monthly series and the empty-state hint."""

from __future__ import annotations

import datetime as dt

import pytest

from marketloop.store import schema
from tests.service.conftest import ROLES, assert_error, make_api
from tests.service.shop import shared_shop

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:httpx.*")

ORDERS = [  # (order, customer, day, total, is_return)
    ("O1", "A", dt.datetime(2024, 1, 1, 10), 100.0, False),
    ("O2", "A", dt.datetime(2024, 3, 20, 10), 50.0, False),
    ("O3", "B", dt.datetime(2024, 3, 25, 10), 30.0, False),
    ("R1", "A", dt.datetime(2024, 3, 21, 10), -10.0, True),
    ("O4", None, dt.datetime(2024, 3, 30, 10), 40.0, False),
]


@pytest.fixture(scope="module")
def shop_api(request, tmp_path_factory):
    shop = shared_shop(request)
    yield from make_api(tmp_path_factory.mktemp("overview"), shop.store, models_dir=shop.models_dir)


def test_empty_store_answers_zeros_and_the_next_step(api) -> None:
    body = api.get("/v1/overview").json()
    assert body["series"] == []
    assert body["kpis"] == {
        "revenue": 0.0,
        "orders": 0,
        "aov": 0.0,
        "active_customers": 0,
        "repeat_rate": 0.0,
        "customers": 0,
        "customers_with_orders": 0,
        "products": 0,
        "returns_value": 0.0,
        "profiles": 0,
        "as_of": None,
    }
    assert "marketloop sim generate --load" in body["next_step"]


def test_known_answers_on_a_tiny_store(api) -> None:
    with api.store.begin() as conn:
        conn.execute(schema.customers.insert(), [{"customer_id": c} for c in "ABC"])
        conn.execute(
            schema.products.insert(),
            [
                {"product_id": "P1", "name": "Shirt", "is_product": True},
                {"product_id": "FEE", "name": "Postage", "is_product": False},
            ],
        )
        conn.execute(
            schema.orders.insert(),
            [
                {
                    "order_id": o,
                    "customer_id": c,
                    "ordered_at": when,
                    "total": total,
                    "is_return": ret,
                    "status": "returned" if ret else "completed",
                }
                for o, c, when, total, ret in ORDERS
            ],
        )
    body = api.get("/v1/overview").json()
    assert body["kpis"] == {
        "revenue": 220.0,
        "orders": 4,
        "aov": 55.0,
        "active_customers": 2,
        "repeat_rate": 0.5,
        "customers": 3,
        "customers_with_orders": 2,
        "products": 1,
        "returns_value": 10.0,
        "profiles": 0,
        "as_of": "2024-03-30T10:00:00",
    }
    assert [m["month"] for m in body["series"]] == ["2024-01", "2024-02", "2024-03"]
    assert body["series"][1] == {
        "month": "2024-02",
        "revenue": 0.0,
        "orders": 0,
        "aov": 0.0,
        "active_customers": 0,
        "new_customers": 0,
        "returning_customers": 0,
        "repeat_rate": 0.0,
    }
    assert body["series"][2] == {
        "month": "2024-03",
        "revenue": 120.0,
        "orders": 3,
        "aov": 40.0,
        "active_customers": 2,
        "new_customers": 1,
        "returning_customers": 1,
        "repeat_rate": 0.5,
    }
    assert "marketloop analyze" in body["next_step"]
    assert [m["month"] for m in api.get("/v1/overview", params={"months": 1}).json()["series"]] == ["2024-03"]


def test_analysed_and_trained_shop(shop_api, request) -> None:
    shop = shared_shop(request)
    body = shop_api.get("/v1/overview").json()
    sales = [o for o in shop.orders if not o["is_return"]]
    kpis = body["kpis"]
    assert kpis["revenue"] == pytest.approx(sum(o["total"] for o in sales), abs=0.01)
    assert kpis["orders"] == len(sales)
    assert kpis["customers"] == len({o["customer_id"] for o in shop.orders if o["customer_id"]}) + 1  # + prospect
    assert kpis["products"] == sum(p["is_product"] for p in shop.products) == len(shop.products) - 1
    assert kpis["profiles"] == kpis["customers_with_orders"] == kpis["customers"] - 1
    assert body["next_step"] is None  # data, profiles and models are all there
    months = [m["month"] for m in body["series"]]
    assert months[0] == "2023-01" and months[-1] == "2024-06" and len(months) == 18
    assert sum(m["revenue"] for m in body["series"]) == pytest.approx(kpis["revenue"], abs=0.05)
    assert sum(m["new_customers"] for m in body["series"]) == kpis["customers_with_orders"]


@pytest.mark.parametrize("role", ROLES)
def test_role_matrix(shop_api, role) -> None:
    r = shop_api.get("/v1/overview", role)
    if role == "ingest":
        assert_error(r, 403, "forbidden")
    else:
        assert r.status_code == 200, r.text


@pytest.mark.parametrize("value", ["0", "241", "many", "-3"])
def test_bad_months(shop_api, value) -> None:
    assert_error(shop_api.get("/v1/overview", params={"months": value}), 422, "invalid_input", field="months")


def test_needs_a_key(shop_api) -> None:
    assert_error(shop_api.client.get("/v1/overview"), 401, "unauthorized")
