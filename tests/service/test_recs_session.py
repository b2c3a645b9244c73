"""Session recommendations for anonymous visitors: `recs train` fits session-kNN on the visits in the
store, and `GET /v1/recommendations/session/{id}` ranks products from the events the tracking API has
stored for a live visit so far."""

from __future__ import annotations

import datetime as dt

import pytest

from marketloop.recs.registry import ModelRegistry
from marketloop.recs.training import train_from_store
from marketloop.store import open_store, schema
from tests.service.conftest import assert_error, make_api

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:httpx.*")

R = "/v1/recommendations/session"
START = dt.datetime(2025, 3, 1)
#: products come in bundles viewed together: (A_k, B_k, C_k)
BUNDLES = [[f"A{k}", f"B{k}", f"C{k}"] for k in range(6)]


def _store(path):
    store = open_store(f"duckdb:///{path / 'shop.duckdb'}")
    products = [p for b in BUNDLES for p in b]
    events, orders, lines = [], [], []
    n = 0
    for rep in range(25):
        for k, bundle in enumerate(BUNDLES):
            sid = f"S{rep}-{k}"
            start = START + dt.timedelta(hours=rep * 6 + k)
            for t, p in enumerate(bundle[rep % 3 :] + bundle[: rep % 3]):
                n += 1
                events.append(
                    {
                        "event_id": f"e{n}",
                        "customer_id": None if rep % 2 else f"c{k}",  # half the visits are anonymous
                        "session_id": sid,
                        "event_type": "view",
                        "product_id": p,
                        "ts": start + dt.timedelta(seconds=30 * t),
                    }
                )
            if rep % 2 == 0:
                orders.append(
                    {
                        "order_id": f"o{rep}-{k}",
                        "customer_id": f"c{k}",
                        "ordered_at": start,
                        "status": "completed",
                        "is_return": False,
                    }
                )
                lines.append(
                    {"order_id": f"o{rep}-{k}", "line_no": 1, "product_id": bundle[0], "quantity": 1, "unit_price": 5.0}
                )
    with store.begin() as conn:
        conn.execute(
            schema.products.insert(),
            [{"product_id": p, "name": f"product {p}", "category": p[0], "price": 5.0} for p in products],
        )
        conn.execute(schema.customers.insert(), [{"customer_id": f"c{k}", "is_guest": False} for k in range(6)])
        conn.execute(schema.orders.insert(), orders)
        conn.execute(schema.order_lines.insert(), lines)
        conn.execute(schema.events.insert(), events)
    return store


@pytest.fixture(scope="module")
def session_api(tmp_path_factory):
    root = tmp_path_factory.mktemp("sessions")
    store = _store(root)
    versions = train_from_store(store, root / "models", model="itemknn", encoder="hashing", cache_dir=None)
    assert "sknn" in {v.name for v in versions}
    yield from make_api(root, store, models_dir=root / "models")
    store.close()


def _track(api, session_id: str, products: list[str]) -> None:
    body = {
        "events": [
            {
                "event_id": f"{session_id}-{i}",
                "event_type": "view",
                "session_id": session_id,
                "product_id": p,
                "ts": (START + dt.timedelta(days=20, seconds=i)).isoformat(),
            }
            for i, p in enumerate(products)
        ]
    }
    r = api.post("/v1/events", "ingest", json=body)
    assert r.status_code == 200, r.text


def test_a_live_anonymous_visit_gets_its_bundle(session_api):
    _track(session_api, "live-1", ["A2"])
    body = session_api.get(f"{R}/live-1?n=2").json()
    assert body["kind"] == "session" and body["model"]["name"] == "sknn"
    assert {i["product_id"] for i in body["items"]} == {"B2", "C2"}  # what the visit has seen is left out
    _track(session_api, "live-2", ["B4", "A1"])  # the latest product weighs most
    top = session_api.get(f"{R}/live-2?n=1").json()["items"][0]["product_id"]
    assert top in {"B1", "C1"}


def test_a_visit_with_no_known_product_gets_trending(session_api):
    body = session_api.get(f"{R}/never-seen?n=3").json()
    assert len(body["items"]) == 3 and body["items"][0]["source"] == "trending (new session)"


def test_session_route_takes_the_business_rules(session_api):
    _track(session_api, "live-3", ["A3"])
    body = session_api.get(f"{R}/live-3?n=2&exclude=B3").json()
    assert "B3" not in {i["product_id"] for i in body["items"]}
    assert_error(session_api.get(f"{R}/live-3?include_bought=true"), 422, "invalid_input", "include_bought")


def test_without_a_session_model_the_route_says_how_to_train_one(tmp_path):
    store = _store(tmp_path)
    train_from_store(store, tmp_path / "models", model="itemknn", encoder="hashing", cache_dir=None, session_model=None)
    assert "sknn" not in {v.name for v in ModelRegistry(store, tmp_path / "models").versions()}
    for api in make_api(tmp_path, store, models_dir=tmp_path / "models"):
        err = assert_error(api.get(f"{R}/s1"), 404, "not_found")
        assert "session ids" in err["hint"]
    store.close()
