"""Erasure through the API: admin only, everything about the customer goes, audited without personal data."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from marketloop.service.conversations import ConversationStore
from marketloop.store import schema
from marketloop.store.privacy import customer_ref
from tests.service.conftest import assert_error
from tests.service.content_shop import shop_api

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:httpx.*")


@pytest.fixture
def fresh(tmp_path):
    yield from shop_api(tmp_path)


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    yield from shop_api(tmp_path_factory.mktemp("privacy"))


def _mentions(store, customer_id: str) -> dict[str, int]:
    """Rows naming the customer in any table with a customer_id column, or in the audit log."""
    found = {}
    with store.connect() as conn:
        for name, table in schema.metadata.tables.items():
            if "customer_id" in table.c:
                n = conn.execute(
                    sa.select(sa.func.count()).select_from(table).where(table.c.customer_id == customer_id)
                ).scalar()
                if n:
                    found[name] = n
        audit = schema.audit_log.c
        n = conn.execute(
            sa.select(sa.func.count())
            .select_from(schema.audit_log)
            .where(sa.or_(audit.target.contains(customer_id), audit.detail_json.contains(customer_id)))
        ).scalar()
        if n:
            found["audit_log"] = n
    return found


@pytest.mark.parametrize("role, status", [("admin", 200), ("marketer", 403), ("analyst", 403), ("ingest", 403)])
def test_only_admins_erase(fresh, role, status) -> None:
    r = fresh.delete("/v1/customers/C2", role)
    assert r.status_code == status, r.text
    if status == 403:
        assert_error(r, 403, "forbidden")
        assert _mentions(fresh.store, "C2")
    else:
        assert not _mentions(fresh.store, "C2")


def test_erasure_removes_everything_and_audits_by_keyed_hash(fresh) -> None:
    assert fresh.put("/v1/customers/C1/consents/sms", "marketer", json={"status": "granted"}).status_code == 200
    assert (
        fresh.client.post(
            fresh.post("/v1/customers/C1/unsubscribe-link", json={"channel": "email"})
            .json()["url"]
            .removeprefix("http://127.0.0.1:8000")
        ).status_code
        == 200
    )
    body = fresh.delete("/v1/customers/C1").json()
    ref = customer_ref("C1", fresh.client.app.state.ml.settings.pii_key())
    assert body["customer_ref"] == ref
    # C1: a profile, one order with two lines, four reviews, consents on e-mail and SMS, the unsubscribe
    assert body["deleted"] == {
        "customers": 1,
        "orders": 1,
        "order_lines": 2,
        "reviews": 4,
        "consents": 2,
        "suppressions": 1,
    }
    assert body["total"] == 11
    assert not _mentions(fresh.store, "C1")  # nothing names the customer, the audit log included
    audit = fresh.store.read_sql(
        "SELECT actor, action, target, detail_json FROM audit_log WHERE action = 'privacy.forget'"
    )
    [entry] = audit.to_dict("records")
    admin_id = fresh.keys["admin"].split("_")[1]
    assert entry["actor"] == f"key:{admin_id} (test-admin, admin)" and entry["target"] == ref
    assert "Anna" not in entry["detail_json"] and json.loads(entry["detail_json"])["rows_deleted"] == body["deleted"]
    # the earlier consent records name the customer by the same reference, so the trail still joins up
    assert set(fresh.store.read_sql("SELECT target FROM audit_log")["target"]) == {ref}
    assert_error(fresh.delete("/v1/customers/C1"), 404, "not_found")
    assert_error(fresh.get("/v1/customers/C1/consents"), 404, "not_found")
    assert fresh.store.count("customers") == 2  # the others stay


def test_erasure_drops_what_the_service_holds_in_memory(fresh) -> None:
    state = fresh.client.app.state.ml
    mine = fresh.post(
        "/v1/assistant/chat", "analyst", json={"message": "Hi, where is my order?", "customer_id": "C1"}
    ).json()
    theirs = fresh.post(
        "/v1/assistant/chat", "analyst", json={"message": "Hi, where is my order?", "customer_id": "C2"}
    ).json()
    state.cached("recs.service", lambda: object())  # stands for any object loaded from customer data
    state._cache["worker"] = marker = object()
    assert fresh.delete("/v1/customers/C1").status_code == 200
    assert set(state._cache) == {"worker", "assistant.conversations"}  # the rest is rebuilt from the store on next use
    assert state._cache["worker"] is marker and isinstance(state._cache["assistant.conversations"], ConversationStore)
    assert_error(
        fresh.post(
            "/v1/assistant/chat", "analyst", json={"message": "581234", "conversation_id": mine["conversation_id"]}
        ),
        404,
        "not_found",
    )
    assert (
        fresh.post(
            "/v1/assistant/chat", "analyst", json={"message": "581235", "conversation_id": theirs["conversation_id"]}
        ).status_code
        == 200
    )


@pytest.mark.parametrize(
    "customer_id, status, code, field",
    [
        ("C404", 404, "not_found", None),
        ("%20", 422, "invalid_input", "customer_id"),
        ("x" * 65, 422, "invalid_input", "customer_id"),
    ],
)
def test_bad_erasures_change_nothing(shop, customer_id, status, code, field) -> None:
    counts = shop.store.counts()
    assert_error(shop.delete(f"/v1/customers/{customer_id}"), status, code, field)
    assert shop.store.counts() == counts


def test_erasure_needs_a_key(shop) -> None:
    assert_error(shop.client.delete("/v1/customers/C1"), 401, "unauthorized")
    assert shop.store.count("customers") == 3
