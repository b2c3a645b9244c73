"""Recommendation routes: every kind, the business rules as query parameters, cold start, roles, bad
inputs, no trained models, and reloading when the promoted version or the catalogue changes."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from marketloop.recs.base import load_model
from marketloop.recs.registry import ModelRegistry
from marketloop.recs.rules import Rules
from marketloop.recs.service import load_service
from marketloop.service.routes.recs import CATALOG_SECONDS, CHECK_SECONDS, ServedRecs, served
from marketloop.store import schema
from tests.service.conftest import ROLES, assert_error, make_api
from tests.service.shop import shared_shop

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:httpx.*")

R = "/v1/recommendations"
ROUTES = [f"{R}/for-you/c0", f"{R}/buy-again/c0", f"{R}/similar/p0", f"{R}/bought-together/bt1", f"{R}/trending"]


@pytest.fixture(scope="module")
def shop(request):
    return shared_shop(request)


@pytest.fixture(scope="module")
def shop_api(shop, tmp_path_factory):
    yield from make_api(tmp_path_factory.mktemp("recs"), shop.store, models_dir=shop.models_dir)


@pytest.fixture(scope="module")
def oracle(shop):
    """The recommendation service called directly, to check the routes against."""
    return load_service(shop.store, shop.models_dir)


@pytest.fixture(scope="module")
def catalogue(shop):
    return {p["product_id"]: p for p in shop.products}


def ids(body: dict) -> list[str]:
    return [item["product_id"] for item in body["items"]]


def bought_by(shop, customer: str) -> set[str]:
    orders = {o["order_id"] for o in shop.orders if o["customer_id"] == customer and not o["is_return"]}
    return {ln["product_id"] for ln in shop.lines if ln["order_id"] in orders}


# -- the kinds --------------------------------------------------------------------------------------
def test_for_you(shop_api, shop, oracle) -> None:
    body = shop_api.get(f"{R}/for-you/c0").json()
    assert body["kind"] == "for-you" and body["model"] == {"name": "hybrid", "version": 1}
    assert ids(body) == list(oracle.for_you("c0", 10)["product_id"])
    assert 0 < len(ids(body)) <= 10 and not set(ids(body)) & bought_by(shop, "c0")
    assert not {"hidden1", "nostock1", "fee"} & set(ids(body))
    assert all(item["source"] == "hybrid" and item["name"] for item in body["items"])
    # ranks, not the models' raw margins
    assert [item["rank"] for item in body["items"]] == list(range(1, len(body["items"]) + 1))
    assert all("score" not in item for item in body["items"])
    again = shop_api.get(f"{R}/for-you/c0", params={"include_bought": "true", "n": 20}).json()
    assert ids(again) == list(oracle.for_you("c0", 20, Rules(exclude_bought=False))["product_id"])
    assert set(ids(again)) & bought_by(shop, "c0")


@pytest.mark.parametrize(
    "rules",
    [
        Rules(),
        Rules(exclude_bought=False),
        Rules(max_per_category=1),
        Rules(categories=["garden"]),
        Rules(min_price=20.0),
        Rules(exclude_items=["p1", "p2", "p3"], max_per_category=2),
        Rules(margin_boost=2.0),
    ],
    ids=["default", "bought", "diverse", "category", "price", "exclude", "margin"],
)
def test_for_you_from_the_stored_list_equals_the_full_ranking(oracle, rules) -> None:
    """for-you answers from the customer's precomputed list when n of it pass the rules; that must be the
    answer of the full ranking (the list continued by trend), for every customer and list length."""
    from marketloop.recs.service import _POOL, _row

    main = oracle.main
    short = 0
    for u, customer in enumerate(main.users_.tolist()):
        for n in (1, 5, 10, 40):
            got = oracle.rank_for_you(customer, n, rules)
            full = oracle._finish(*main.top_for_user(u, _POOL + n), rules, n, _row(main.seen_, u), main.name, main)
            assert got.idx.tolist() == full.idx.tolist() and got.scores.tolist() == full.scores.tolist(), (customer, n)
            short += len(main.head_for_user(u, _POOL + n)[0]) < n
    assert short  # some lists are too short for n, so the continuation is exercised too


def test_cold_start(shop_api, oracle) -> None:
    new = shop_api.get(f"{R}/for-you/someone-new", params={"n": 5}).json()
    assert {i["source"] for i in new["items"]} == {"trending (cold start)"}
    assert new["model"] == {"name": "trending", "version": 1} and ids(new) == list(oracle.trending(5)["product_id"])
    clicked = shop_api.get(f"{R}/for-you/someone-new", params={"context_items": ["p4", "not-a-product"]}).json()
    assert {i["source"] for i in clicked["items"]} == {"content (cold start)"} and clicked["model"]["name"] == "content"
    assert "p4" not in ids(clicked)


def test_buy_again(shop_api, shop) -> None:
    body = shop_api.get(f"{R}/buy-again/c0", params={"n": 50}).json()
    assert body["kind"] == "buy-again" and {i["source"] for i in body["items"]} == {"buy again"}
    assert set(ids(body)) == bought_by(shop, "c0") - {"hidden1"}  # everything c0 bought that is still on sale
    assert_error(shop_api.get(f"{R}/buy-again/t0-unknown"), 404, "not_found")


def test_similar(shop_api, catalogue) -> None:
    known = shop_api.get(f"{R}/similar/p0").json()
    assert known["kind"] == "similar" and known["model"]["name"] == "hybrid" and "p0" not in ids(known)
    fresh = shop_api.get(f"{R}/similar/new1", params={"n": 3}).json()  # nobody bought it: served by its text
    assert {i["source"] for i in fresh["items"]} == {"content"} and fresh["model"] == {"name": "content", "version": 1}
    assert {catalogue[p]["category"] for p in ids(fresh)} == {"garden"}
    assert_error(shop_api.get(f"{R}/similar/no-such-product"), 404, "not_found")


def test_bought_together(shop_api) -> None:
    body = shop_api.get(f"{R}/bought-together/bt1").json()
    assert ids(body)[0] == "bt2" and body["model"] == {"name": "assoc", "version": 1}
    assert_error(shop_api.get(f"{R}/bought-together/no-such-product"), 404, "not_found")


def test_trending(shop_api, oracle) -> None:
    body = shop_api.get(f"{R}/trending", params={"n": 8}).json()
    assert body["kind"] == "trending" and ids(body) == list(oracle.trending(8)["product_id"]) and len(ids(body)) == 8
    assert not {"hidden1", "nostock1"} & set(ids(body))


# -- business rules ---------------------------------------------------------------------------------
@pytest.mark.parametrize("path", [f"{R}/for-you/c1", f"{R}/trending", f"{R}/similar/p1"])
def test_rules_as_query_parameters(shop_api, catalogue, path) -> None:
    def get(**params) -> list[str]:
        r = shop_api.get(path, params={"n": 20, **params})
        assert r.status_code == 200, r.text
        return ids(r.json())

    everything = get()
    assert len(get(n=3)) == min(3, len(everything))
    assert {catalogue[p]["category"] for p in get(category="toys")} <= {"toys"}
    assert {catalogue[p]["category"] for p in get(category=["toys", "books"])} <= {"toys", "books"}
    assert {catalogue[p]["brand"] for p in get(brand="brand1")} <= {"brand1"}
    assert all(catalogue[p]["price"] <= 10 for p in get(max_price=10))
    assert all(catalogue[p]["price"] >= 30 for p in get(min_price=30))
    assert everything[0] not in get(exclude=everything[0])
    capped = get(max_per_category=1)
    assert len({catalogue[p]["category"] for p in capped}) == len(capped)
    assert set(get(margin_boost=5)) <= set(get(n=100))


@pytest.mark.parametrize(
    "params, field",
    [
        ({"n": 0}, "n"),
        ({"n": 101}, "n"),
        ({"n": "ten"}, "n"),
        ({"max_price": -1}, "max_price"),
        ({"max_price": "nan"}, "max_price"),
        ({"max_per_category": 0}, "max_per_category"),
        ({"margin_boost": 11}, "margin_boost"),
        ({"min_price": 9, "max_price": 1}, "min_price"),
        ({"colour": "red"}, "colour"),
        ({"include_bought": "maybe"}, "include_bought"),
        ({"exclude": [f"p{i}" for i in range(501)]}, "exclude"),
    ],
)
def test_bad_parameters_name_the_field(shop_api, params, field) -> None:
    assert_error(shop_api.get(f"{R}/for-you/c0", params=params), 422, "invalid_input", field=field)


@pytest.mark.parametrize(
    "path, param",
    [
        (f"{R}/trending", "include_bought"),
        (f"{R}/similar/p0", "context_items"),
        (f"{R}/buy-again/c0", "include_bought"),
    ],
)
def test_options_of_another_kind_are_refused(shop_api, path, param) -> None:
    err = assert_error(
        shop_api.get(path, params={param: "p1" if param == "context_items" else "true"}),
        422,
        "invalid_input",
        field=param,
    )
    assert "does not apply" in err["message"]


def test_openapi_documents_the_query_parameters(shop_api) -> None:
    doc = shop_api.client.get("/v1/openapi.json").json()
    params = {p["name"]: p for p in doc["paths"][f"{R}/for-you/{{customer_id}}"]["get"]["parameters"]}
    assert {
        "customer_id",
        "n",
        "category",
        "exclude",
        "max_per_category",
        "max_price",
        "include_bought",
        "context_items",
    } <= set(params)
    assert params["n"]["schema"]["maximum"] == 100 and params["category"]["in"] == "query"
    trending = {p["name"] for p in doc["paths"][f"{R}/trending"]["get"]["parameters"]}
    assert "context_items" not in trending and "n" in trending


# -- roles and missing models -----------------------------------------------------------------------
@pytest.mark.parametrize("path", ROUTES)
@pytest.mark.parametrize("role", ROLES)
def test_role_matrix(shop_api, path, role) -> None:
    r = shop_api.get(path, role)
    if role == "ingest":
        assert_error(r, 403, "forbidden")
    else:
        assert r.status_code == 200, r.text
    assert_error(shop_api.client.get(path), 401, "unauthorized")


@pytest.mark.parametrize("path", ROUTES)
def test_without_trained_models_every_kind_is_404_with_the_command_to_run(api, path) -> None:
    err = assert_error(api.get(path), 404, "not_found")
    assert "marketloop recs train" in err["hint"]


# -- reloading --------------------------------------------------------------------------------------
def _settle(state, limit_s: float = 30.0) -> None:
    """Wait for the background registry check a request started (bounded poll of its flag)."""
    deadline = time.monotonic() + limit_s
    while served(state).refreshing:
        assert time.monotonic() < deadline, "the background check did not finish"
        time.sleep(0.01)


def test_promoting_a_version_or_changing_the_catalogue_is_picked_up(shop_api, shop) -> None:
    state = shop_api.client.app.state.ml
    now = [0.0]
    state.invalidate("recs")
    state.cached("recs", lambda: ServedRecs(shop.store, shop.models_dir, clock=lambda: now[0]))
    reg = ModelRegistry(shop.store, shop.models_dir)
    top = ids(shop_api.get(f"{R}/trending").json())[0]
    loaded = served(state).current()
    v2 = reg.register(load_model(reg.promoted("trending").path), {"events": 0})
    reg.promote("trending", v2.version)
    try:
        assert shop_api.get(f"{R}/trending").json()["model"]["version"] == 1  # checked less than CHECK_SECONDS ago
        now[0] += CHECK_SECONDS
        # the request that finds the check due still answers from memory and starts the check in the background
        assert shop_api.get(f"{R}/trending").json()["model"]["version"] == 1
        _settle(state)
        assert shop_api.get(f"{R}/trending").json()["model"]["version"] == v2.version
        assert served(state).current() is not loaded
        with shop.store.begin() as conn:
            conn.execute(schema.products.update().where(schema.products.c.product_id == top).values(stock=0))
        reloaded = served(state).current()
        now[0] += CHECK_SECONDS
        assert ids(shop_api.get(f"{R}/trending").json())[0] == top  # same versions: the models are kept ...
        _settle(state)
        assert served(state).current() is reloaded
        now[0] += CATALOG_SECONDS
        shop_api.get(f"{R}/trending")
        _settle(state)
        assert top not in ids(shop_api.get(f"{R}/trending").json())  # ... and the catalogue is re-read
    finally:
        with shop.store.begin() as conn:
            conn.execute(schema.products.update().where(schema.products.c.product_id == top).values(stock=50))
        reg.rollback("trending")
        with shop.store.begin() as conn:  # leave the registry as the other tests expect it
            conn.execute(
                sa.delete(schema.recs_models).where(
                    schema.recs_models.c.name == "trending", schema.recs_models.c.version == v2.version
                )
            )
        state.invalidate("recs")
    assert shop_api.get(f"{R}/trending").json()["model"]["version"] == 1


def test_a_cached_key_is_checked_without_the_store(shop_api) -> None:
    verifier = shop_api.client.app.state.ml.verifier
    key_id = shop_api.keys["analyst"].split("_")[1]
    verifier.forget(key_id)
    assert not verifier.cached(key_id)
    assert shop_api.get(f"{R}/trending", "analyst").status_code == 200  # first request reads the key's row ...
    assert verifier.cached(key_id)  # ... the next ones are answered on the event loop from the cache
    assert_error(
        shop_api.get(f"{R}/trending", headers={"Authorization": "Bearer mlk_" + key_id + "_wrong"}), 401, "unauthorized"
    )
