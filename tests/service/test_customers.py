"""Customers, segments and products: lists with filters, sorting and paging, one customer's 360 view,
the RFM segment table, the catalogue; roles, bad inputs and the empty states before `marketloop analyze`."""

from __future__ import annotations

import json

import pytest

from marketloop.customers.profile import PROFILE_COLUMNS, load_profiles
from tests.service.conftest import ROLES, assert_error, make_api
from tests.service.shop import shared_shop

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:httpx.*")


@pytest.fixture(scope="module")
def shop(request):
    return shared_shop(request)


@pytest.fixture(scope="module")
def shop_api(shop, tmp_path_factory):
    yield from make_api(tmp_path_factory.mktemp("customers"), shop.store, models_dir=shop.models_dir)


@pytest.fixture(scope="module")
def profiles(shop):
    return load_profiles(shop.store).set_index("customer_id")


# -- the customer list ---------------------------------------------------------------------------
def test_list_pages_through_every_profile(shop_api, profiles) -> None:
    seen, offset = [], 0
    while True:
        page = shop_api.get("/v1/customers", params={"limit": 40, "offset": offset, "sort": "customer_id"}).json()
        assert page["total"] == len(profiles) and page["as_of"] == "2024-06-30" and page["next_step"] is None
        if not page["items"]:
            break
        seen += [row["customer_id"] for row in page["items"]]
        offset += 40
    assert seen == sorted(profiles.index)  # every profile once, in id order


def test_default_sort_is_value_descending_with_missing_last(shop_api, profiles) -> None:
    items = shop_api.get("/v1/customers", params={"limit": 500}).json()["items"]
    clv = [row["clv"] for row in items]
    known = [v for v in clv if v is not None]
    assert known == sorted(known, reverse=True) and clv[: len(known)] == known
    first = items[0]
    assert first["customer_id"] == profiles["clv"].idxmax()
    assert set(first) == {
        "customer_id",
        "segment",
        "orders",
        "revenue",
        "clv",
        "churn_probability",
        "churn_band",
        "propensity_30d",
        "high_value",
        "recency_days",
        "last_order_at",
        "next_order_at",
        "lifecycle_stage",
        "days_inactive",
    }


@pytest.mark.parametrize(
    "sort, column, reverse",
    [("revenue", "revenue", False), ("-orders", "orders", True), ("-churn_probability", "churn_probability", True)],
)
def test_sorting(shop_api, sort, column, reverse) -> None:
    values = [row[column] for row in shop_api.get("/v1/customers", params={"sort": sort, "limit": 500}).json()["items"]]
    assert values == sorted(values, reverse=reverse)


def test_filters(shop_api, profiles) -> None:
    champions = shop_api.get("/v1/customers", params={"segment": "Champions", "limit": 500}).json()
    assert champions["total"] == (profiles["segment"] == "Champions").sum() > 0
    assert {r["segment"] for r in champions["items"]} == {"Champions"} and "c0" in {
        r["customer_id"] for r in champions["items"]
    }
    found = shop_api.get("/v1/customers", params={"q": "C10", "sort": "customer_id"}).json()
    assert [r["customer_id"] for r in found["items"]] == sorted(c for c in profiles.index if "c10" in c)
    high = shop_api.get("/v1/customers", params={"high_value": "true", "churn_band": "low", "limit": 500}).json()
    expected = profiles[profiles["high_value"] & (profiles["churn_band"] == "low")]
    assert high["total"] == len(expected) and {r["customer_id"] for r in high["items"]} == set(expected.index)
    for stage in ("new", "active", "at_risk", "churned"):
        listed = shop_api.get("/v1/customers", params={"lifecycle_stage": stage, "limit": 500}).json()
        expected = profiles[profiles["lifecycle_stage"] == stage]
        assert listed["total"] == len(expected) and {r["customer_id"] for r in listed["items"]} == set(expected.index)
        assert {r["lifecycle_stage"] for r in listed["items"]} <= {stage}
    assert profiles["lifecycle_stage"].nunique() >= 2  # the filter is exercised on more than one stage
    none = shop_api.get("/v1/customers", params={"segment": "Nobody"}).json()
    assert none["total"] == 0 and none["items"] == [] and none["as_of"] == "2024-06-30" and none["next_step"] is None


def test_a_like_pattern_in_q_is_matched_literally(shop_api) -> None:
    assert shop_api.get("/v1/customers", params={"q": "c_0%"}).json()["total"] == 0


@pytest.mark.parametrize(
    "params, field",
    [
        ({"sort": "email"}, "sort"),
        ({"sort": "--clv"}, "sort"),
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"offset": -1}, "offset"),
        ({"limit": "ten"}, "limit"),
        ({"churn_band": "extreme"}, "churn_band"),
        ({"high_value": "perhaps"}, "high_value"),
        ({"q": "x" * 65}, "q"),
        ({"lifecycle_stage": "asleep"}, "lifecycle_stage"),
    ],
)
def test_bad_list_parameters(shop_api, params, field) -> None:
    assert_error(shop_api.get("/v1/customers", params=params), 422, "invalid_input", field=field)


# -- one customer ---------------------------------------------------------------------------------
def test_customer_360(shop_api, shop, profiles) -> None:
    body = shop_api.get("/v1/customers/c0").json()
    assert body["customer_id"] == "c0" and body["next_step"] is None
    assert body["customer"] == {
        "country": "FR",
        "language": "fr",
        "time_zone": "Europe/Berlin",
        "signup_at": "2023-01-01T00:00:00",
        "is_guest": False,
    }  # no name, e-mail or phone
    assert set(body["profile"]) == set(PROFILE_COLUMNS) - {
        "interests_json",
        "churn_reasons_json",
        "propensity_reasons_json",
    }
    assert body["profile"]["segment"] == "Champions" and body["profile"]["orders"] == profiles.loc["c0", "orders"]
    assert body["interests"]["category"][0] == {"value": "garden", "share": 1.0}
    assert [(c["channel"], c["status"]) for c in body["consents"]] == [("email", "granted"), ("sms", "revoked")]
    mine = sorted((o for o in shop.orders if o["customer_id"] == "c0"), key=lambda o: o["ordered_at"], reverse=True)
    assert [o["order_id"] for o in body["recent_orders"]] == [o["order_id"] for o in mine[:10]]
    last_sale = next(o for o in body["recent_orders"] if not o["is_return"])  # the final p0 order
    assert last_sale["status"] == "completed" and last_sale["ordered_at"].startswith("2024-06-30")
    quantity = next(ln["quantity"] for ln in shop.lines if ln["order_id"] == last_sale["order_id"])
    assert last_sale["lines"] == [
        {
            "line_no": 1,
            "product_id": "p0",
            "name": "Garden spade 0",
            "category": "garden",
            "quantity": quantity,
            "unit_price": 5.0,
            "discount": None,
        }
    ]
    assert len(shop_api.get("/v1/customers/c0", params={"orders": 3}).json()["recent_orders"]) == 3


def test_churn_reasons_come_from_the_stored_profile(shop_api, profiles) -> None:
    with_reasons = profiles[profiles["churn_reasons_json"] != "[]"]
    assert len(with_reasons) > 0
    cid = with_reasons.index[0]
    body = shop_api.get(f"/v1/customers/{cid}").json()
    assert body["churn_reasons"] == json.loads(with_reasons.loc[cid, "churn_reasons_json"])
    assert {"feature", "label", "value", "shap"} == set(body["churn_reasons"][0])


def test_known_customer_without_orders_has_no_profile(shop_api) -> None:
    body = shop_api.get("/v1/customers/prospect").json()
    assert body["profile"] is None and body["recent_orders"] == [] and body["interests"] == {}
    assert body["consents"][0]["channel"] == "email" and body["next_step"] is None


def test_unknown_customer_is_404(shop_api) -> None:
    err = assert_error(shop_api.get("/v1/customers/nobody"), 404, "not_found")
    assert "nobody" in err["message"]
    assert_error(shop_api.get("/v1/customers/c0", params={"orders": 101}), 422, "invalid_input", field="orders")


# -- segments -------------------------------------------------------------------------------------
def test_segments(shop_api, profiles) -> None:
    body = shop_api.get("/v1/segments").json()
    assert body["as_of"] == "2024-06-30" and body["customers"] == len(profiles) and body["next_step"] is None
    by = {s["segment"]: s for s in body["segments"]}
    counts = profiles["segment"].value_counts()
    assert {k: v["customers"] for k, v in by.items()} == counts.to_dict()
    assert sum(s["revenue_share"] for s in body["segments"]) == pytest.approx(1.0, abs=1e-3)
    champions = profiles[profiles["segment"] == "Champions"]
    assert by["Champions"]["avg_clv"] == pytest.approx(champions["clv"].mean(), abs=1e-3)
    assert by["Champions"]["churn_probability"] == pytest.approx(champions["churn_probability"].mean(), abs=1e-3)
    assert body["churn_bands"] == profiles["churn_band"].value_counts().to_dict()


# -- products -------------------------------------------------------------------------------------
def test_product_search(shop_api, shop) -> None:
    page = shop_api.get("/v1/products", params={"q": "GARDEN", "limit": 100}).json()
    assert {p["product_id"] for p in page["items"]} == {f"p{i}" for i in range(0, 24, 4)} | {"new1"}  # not hidden1
    assert page["total"] == len(page["items"])
    assert [p["name"] for p in page["items"]] == sorted(p["name"] for p in page["items"])
    hidden = shop_api.get("/v1/products", params={"q": "garden", "include_hidden": "true", "limit": 100}).json()
    assert "hidden1" in {p["product_id"] for p in hidden["items"]}
    everything = shop_api.get("/v1/products", params={"limit": 500}).json()
    assert "fee" not in {p["product_id"] for p in everything["items"]}  # postage is not a product
    assert everything["total"] == len(shop.products) - 2  # minus postage and the hidden product
    tools = shop_api.get("/v1/products", params={"category": "tools"}).json()
    assert [p["product_id"] for p in tools["items"]] == ["bt1", "bt2"]  # by name: hammer, nails
    assert shop_api.get("/v1/products", params={"q": "100%"}).json()["total"] == 0


def test_one_product_with_its_sales(shop_api, shop) -> None:
    body = shop_api.get("/v1/products/p0").json()
    sold = {o["order_id"] for o in shop.orders if not o["is_return"]}
    lines = [ln for ln in shop.lines if ln["product_id"] == "p0" and ln["order_id"] in sold]
    assert body["sales"]["units"] == sum(ln["quantity"] for ln in lines)
    assert body["sales"]["orders"] == len({ln["order_id"] for ln in lines})
    assert body["sales"]["revenue"] == pytest.approx(sum(ln["quantity"] * ln["unit_price"] for ln in lines), abs=0.01)
    assert body["sales"]["reviews"] == 0 and body["sales"]["mean_rating"] is None
    assert (body["name"], body["category"], body["price"], body["cost"], body["hidden"]) == (
        "Garden spade 0",
        "garden",
        5.0,
        2.0,
        False,
    )
    assert shop_api.get("/v1/products/new1").json()["sales"] == {
        "orders": 0,
        "units": 0,
        "revenue": 0.0,
        "last_ordered_at": None,
        "reviews": 0,
        "mean_rating": None,
    }
    assert_error(shop_api.get("/v1/products/nope"), 404, "not_found")


@pytest.mark.parametrize(
    "params, field",
    [({"limit": 0}, "limit"), ({"offset": "x"}, "offset"), ({"include_hidden": "maybe"}, "include_hidden")],
)
def test_bad_product_parameters(shop_api, params, field) -> None:
    assert_error(shop_api.get("/v1/products", params=params), 422, "invalid_input", field=field)


# -- roles and empty states -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "path", ["/v1/customers", "/v1/customers/c0", "/v1/segments", "/v1/products", "/v1/products/p0"]
)
@pytest.mark.parametrize("role", ROLES)
def test_role_matrix(shop_api, path, role) -> None:
    r = shop_api.get(path, role)
    if role == "ingest":
        assert_error(r, 403, "forbidden")
    else:
        assert r.status_code == 200, r.text


def test_before_analyze_lists_are_empty_and_say_what_to_do(api) -> None:
    from marketloop.store import schema

    with api.store.begin() as conn:
        conn.execute(schema.customers.insert(), [{"customer_id": "a"}])
    page = api.get("/v1/customers").json()
    assert page == {
        "total": 0,
        "limit": 50,
        "offset": 0,
        "as_of": None,
        "items": [],
        "next_step": "Run `marketloop analyze` to build the customer profiles.",
    }
    segments = api.get("/v1/segments").json()
    assert segments["segments"] == [] and "marketloop analyze" in segments["next_step"]
    assert api.get("/v1/customers/a").json()["profile"] is None  # known customer, no profile yet
    err = assert_error(api.get("/v1/customers/zz"), 404, "not_found")
    assert "GET /v1/customers" in err["hint"]
    assert api.get("/v1/products").json() == {"total": 0, "items": []}
