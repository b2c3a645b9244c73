"""Consents per channel, and the signed one-click unsubscribe link."""

from __future__ import annotations

import datetime as dt
import json
import logging
from urllib.parse import parse_qs, urlencode, urlsplit

import pandas as pd
import pytest

from marketloop.delivery.checks import SendPolicy, check_batch
from marketloop.delivery.unsubscribe import link_builder
from marketloop.service.auth import sign_value
from marketloop.store import schema
from marketloop.store.privacy import customer_ref
from tests.service.conftest import ROLES, assert_error
from tests.service.content_shop import shop_api

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:httpx.*")

READ = {"admin": 200, "marketer": 200, "analyst": 200, "ingest": 403}
WRITE = {"admin": 200, "marketer": 200, "analyst": 403, "ingest": 403}
ONE_CLICK = {"content": b"List-Unsubscribe=One-Click", "headers": {"Content-Type": "application/x-www-form-urlencoded"}}


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    yield from shop_api(tmp_path_factory.mktemp("consents"))


@pytest.fixture
def fresh(tmp_path):
    yield from shop_api(tmp_path)


def _state(api):
    return api.client.app.state.ml


def _link(api, customer_id: str, channel: str = "email") -> str:
    r = api.post(f"/v1/customers/{customer_id}/unsubscribe-link", "marketer", json={"channel": channel})
    assert r.status_code == 200, r.text
    return r.json()["url"]


def _path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def _consent_row(api, customer_id: str, channel: str) -> dict | None:
    rows = api.store.read_sql(
        f"SELECT status, updated_at, source FROM consents WHERE customer_id = '{customer_id}' AND channel = '{channel}'"
    )
    return None if rows.empty else rows.iloc[0].to_dict()


def _audit(api, action: str) -> pd.DataFrame:
    return api.store.read_sql(f"SELECT actor, target, detail_json FROM audit_log WHERE action = '{action}' ORDER BY ts")


# --- roles ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    "method, path, body, expected",
    [
        ("get", "/v1/customers/C3/consents", None, READ),
        ("put", "/v1/customers/C3/consents/push", {"status": "granted"}, WRITE),
        ("post", "/v1/customers/C3/unsubscribe-link", {"channel": "email"}, WRITE),
    ],
)
def test_role_matrix(shop, role, method, path, body, expected) -> None:
    r = getattr(shop, method)(path, role, **({"json": body} if body is not None else {}))
    assert r.status_code == expected[role], r.text
    if expected[role] == 403:
        assert_error(r, 403, "forbidden")


# --- reading and writing consents ----------------------------------------------------------------------
def test_consents_list_every_channel_with_what_a_send_would_do(shop) -> None:
    body = shop.get("/v1/customers/C2/consents", "analyst").json()
    assert body["customer_id"] == "C2"
    by_channel = {c["channel"]: c for c in body["consents"]}
    assert list(by_channel) == ["email", "sms", "push", "webhook"]
    assert by_channel["email"] | {"updated_at": None} == {
        "channel": "email",
        "status": "granted",
        "updated_at": None,
        "source": "customers.csv",
        "suppressed": False,
        "suppression_reason": None,
        "sendable": True,
    }
    assert by_channel["sms"]["status"] == "unknown" and by_channel["sms"]["sendable"] is False


def test_a_customer_known_only_by_consent_rows_is_found(fresh) -> None:
    with fresh.store.begin() as c:
        c.execute(
            schema.consents.insert().values(
                customer_id="X9",
                channel="sms",
                status="granted",
                updated_at=dt.datetime(2026, 1, 1),
                source="consents.csv",
            )
        )
    assert fresh.get("/v1/customers/X9/consents").json()["consents"][1]["status"] == "granted"


def test_revoking_writes_like_ingestion_is_audited_without_the_id_and_stops_sends(fresh) -> None:
    key_id = fresh.keys["marketer"].split("_")[1]
    before = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    r = fresh.put(
        "/v1/customers/C1/consents/email", "marketer", json={"status": "revoked", "source": "preference-centre"}
    )
    assert r.json() == {
        "customer_id": "C1",
        "channel": "email",
        "status": "revoked",
        "previous": "granted",
        "lifted_suppression": False,
    }
    row = _consent_row(fresh, "C1", "email")
    assert row["status"] == "revoked" and row["source"] == f"api:{key_id}:preference-centre"
    assert before <= row["updated_at"].to_pydatetime() <= dt.datetime.now(dt.UTC).replace(tzinfo=None)
    [entry] = _audit(fresh, "consent.update").to_dict("records")
    assert entry["actor"] == f"key:{key_id} (test-marketer, marketer)"
    assert entry["target"] == customer_ref("C1", _state(fresh).settings.pii_key()) and "C1" not in entry["target"]
    assert json.loads(entry["detail_json"]) == {
        "channel": "email",
        "status": "revoked",
        "previous": "granted",
        "lifted_suppression": False,
    }
    # the dispatcher's send-time check sees the change at once
    batch = pd.DataFrame(
        {
            "send_id": ["s1", "s2"],
            "campaign_id": "k",
            "customer_id": ["C1", "C2"],
            "channel": "email",
            "time_zone": "UTC",
        }
    )
    decided = check_batch(fresh.store, batch, dt.datetime(2026, 1, 7, 12), SendPolicy())
    assert list(decided["decision"]) == ["skip", "send"] and decided["reason"].iloc[0] == "no email consent"
    again = fresh.put("/v1/customers/C1/consents/email", json={"status": "granted"}).json()
    assert (
        again["previous"] == "revoked"
        and _consent_row(fresh, "C1", "email")["source"] == f"api:{fresh.keys['admin'].split('_')[1]}"
    )


@pytest.mark.parametrize(
    "path, body, status, code, field",
    [
        ("/v1/customers/C1/consents/fax", {"status": "granted"}, 422, "invalid_input", "channel"),
        ("/v1/customers/C1/consents/email", {"status": "maybe"}, 422, "invalid_input", "status"),
        ("/v1/customers/C1/consents/email", {"status": True}, 422, "invalid_input", "status"),
        ("/v1/customers/C1/consents/email", {}, 422, "invalid_input", "status"),
        (
            "/v1/customers/C1/consents/email",
            {"status": "granted", "source": "<script>"},
            422,
            "invalid_input",
            "source",
        ),
        ("/v1/customers/C1/consents/email", {"status": "granted", "source": "x" * 65}, 422, "invalid_input", "source"),
        ("/v1/customers/C1/consents/email", {"status": "granted", "by": "me"}, 422, "invalid_input", "by"),
        ("/v1/customers/C404/consents/email", {"status": "granted"}, 404, "not_found", None),
    ],
)
def test_bad_consent_changes_write_nothing(shop, path, body, status, code, field) -> None:
    counts = shop.store.counts()
    assert_error(shop.put(path, json=body), status, code, field)
    assert shop.store.counts() == counts


def test_malformed_json_and_unknown_customers(shop) -> None:
    r = shop.put("/v1/customers/C1/consents/email", content=b"{status", headers={"Content-Type": "application/json"})
    assert_error(r, 400, "malformed_json")
    assert_error(shop.get("/v1/customers/C404/consents"), 404, "not_found")
    assert_error(shop.post("/v1/customers/C404/unsubscribe-link", json={"channel": "email"}), 404, "not_found")
    assert_error(
        shop.post("/v1/customers/C1/unsubscribe-link", json={"channel": "fax"}), 422, "invalid_input", "channel"
    )
    assert_error(shop.post("/v1/customers/C1/unsubscribe-link", json={}), 422, "invalid_input", "channel")


# --- the signed link -----------------------------------------------------------------------------------
def test_the_link_is_signed_with_the_session_key_for_customer_and_channel(shop) -> None:
    url = _link(shop, "C1", "sms")
    assert url.startswith("http://127.0.0.1:8000/unsubscribe?")  # settings.public_url
    query = parse_qs(urlsplit(url).query)
    assert query["c"] == ["C1"] and query["ch"] == ["sms"]
    assert query["sig"] == [sign_value(_state(shop).session_secret, "unsubscribe", "sms:C1")]
    # the dispatcher's List-Unsubscribe header carries the very same link
    settings = _state(shop).settings
    assert link_builder(settings.public_url, settings.session_key())("C1", "sms") == url


def test_the_page_asks_first_and_changes_nothing(shop) -> None:
    counts = shop.store.counts()
    page = shop.client.get(_path(_link(shop, "C2")))
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<form method="post"' in page.text and "Unsubscribe</button>" in page.text and "e-mail" in page.text
    assert page.headers["cache-control"] == "no-store" and page.headers["referrer-policy"] == "no-referrer"
    assert shop.store.counts() == counts


def test_one_click_unsubscribes_once_and_is_audited(fresh) -> None:
    path = _path(_link(fresh, "C2"))
    r = fresh.client.post(path, **ONE_CLICK)  # what a mail client sends (RFC 8058), without any key
    assert r.status_code == 200 and r.json() == {"unsubscribed": True, "channel": "email", "changed": True}
    row = _consent_row(fresh, "C2", "email")
    assert row["status"] == "revoked" and row["source"] == "unsubscribe-link"
    supp = fresh.store.read_sql("SELECT customer_id, channel, reason FROM suppressions").to_dict("records")
    assert supp == [{"customer_id": "C2", "channel": "email", "reason": "unsubscribed"}]
    [entry] = _audit(fresh, "consent.unsubscribe").to_dict("records")
    assert entry["actor"] == "unsubscribe-link" and entry["target"] == customer_ref(
        "C2", _state(fresh).settings.pii_key()
    )
    assert json.loads(entry["detail_json"]) == {"channel": "email"}
    # idempotent: a second click changes nothing and is not audited again
    assert fresh.client.post(path, **ONE_CLICK).json()["changed"] is False
    assert len(_audit(fresh, "consent.unsubscribe")) == 1 and fresh.store.count("suppressions") == 1
    email = fresh.get("/v1/customers/C2/consents").json()["consents"][0]
    assert (email["status"], email["suppressed"], email["suppression_reason"], email["sendable"]) == (
        "revoked",
        True,
        "unsubscribed",
        False,
    )
    # a browser submitting the confirmation form gets a page back
    page = fresh.client.post(path, headers={"Accept": "text/html"})
    assert page.status_code == 200 and "You are unsubscribed" in page.text


def test_granting_again_lifts_an_unsubscribe_but_not_a_bounce(fresh) -> None:
    fresh.client.post(_path(_link(fresh, "C1")), **ONE_CLICK)
    with fresh.store.begin() as c:
        c.execute(
            schema.suppressions.insert().values(
                customer_id="C1", channel="sms", reason="bounced", created_at=dt.datetime(2026, 1, 1)
            )
        )
    assert fresh.put("/v1/customers/C1/consents/email", json={"status": "granted"}).json()["lifted_suppression"] is True
    assert fresh.put("/v1/customers/C1/consents/sms", json={"status": "granted"}).json()["lifted_suppression"] is False
    by_channel = {c["channel"]: c for c in fresh.get("/v1/customers/C1/consents").json()["consents"]}
    assert by_channel["email"]["sendable"] is True
    assert by_channel["sms"]["suppression_reason"] == "bounced" and by_channel["sms"]["sendable"] is False


def _tampered(api) -> list[str]:
    good = parse_qs(urlsplit(_link(api, "C1")).query)
    sig = good["sig"][0]
    flipped = ("A" if sig[0] != "A" else "B") + sig[1:]
    sms_sig = parse_qs(urlsplit(_link(api, "C1", "sms")).query)["sig"][0]
    return [
        "/unsubscribe?" + urlencode({"c": "C1", "ch": "email", "sig": flipped}),
        "/unsubscribe?" + urlencode({"c": "C1", "ch": "sms", "sig": sig}),  # email's signature, sms channel
        "/unsubscribe?" + urlencode({"c": "C1", "ch": "email", "sig": sms_sig}),  # sms's signature, email channel
        "/unsubscribe?" + urlencode({"c": "C2", "ch": "email", "sig": sig}),  # another customer
        "/unsubscribe?" + urlencode({"c": "C1", "ch": "fax", "sig": sig}),
        "/unsubscribe?" + urlencode({"c": "C1", "ch": "email"}),
        "/unsubscribe",
        "/unsubscribe?" + urlencode({"c": "C1", "ch": "email", "sig": "x" * 500}),
        "/unsubscribe?" + urlencode({"c": "C1", "ch": "email", "sig": "é" + sig[1:]}),  # not ASCII
    ]


def test_tampered_links_are_refused_and_change_nothing(shop) -> None:
    counts = shop.store.counts()
    for path in _tampered(shop):
        err = assert_error(shop.client.post(path, **ONE_CLICK), 403, "bad_signature")
        assert "exactly as it appears" in err["hint"], path
        page = shop.client.get(path)
        assert (
            page.status_code == 403
            and "Link not valid" in page.text
            and page.headers["content-type"].startswith("text/html")
        )
    assert shop.store.counts() == counts


def test_a_valid_link_for_an_erased_customer_writes_nothing(fresh) -> None:
    path = _path(_link(fresh, "C2"))
    assert fresh.delete("/v1/customers/C2").status_code == 200
    counts = fresh.store.counts()
    assert fresh.client.post(path, **ONE_CLICK).json() == {"unsubscribed": True, "channel": "email", "changed": False}
    assert fresh.store.counts() == counts


def test_the_page_escapes_what_the_link_holds(shop) -> None:
    settings = _state(shop).settings
    evil = '"><script>alert(1)</script>'
    url = link_builder(settings.public_url, settings.session_key())(evil, "email")
    page = shop.client.get(_path(url))
    assert page.status_code == 200 and "<script>" not in page.text


def test_the_access_log_never_holds_the_signature_or_the_customer(shop, caplog) -> None:
    caplog.set_level(logging.INFO, logger="marketloop.access")
    path = _path(_link(shop, "C3", "push"))
    shop.client.get(path)
    lines = [r.getMessage() for r in caplog.records if r.name == "marketloop.access"]
    assert any(line.startswith("GET /unsubscribe 200") for line in lines), lines
    text = "\n".join(lines)
    assert parse_qs(urlsplit(path).query)["sig"][0] not in text and "C3" not in text


def test_openapi_describes_the_consent_routes(shop) -> None:
    paths = shop.client.get("/v1/openapi.json").json()["paths"]
    assert {"get"} <= set(paths["/v1/customers/{customer_id}/consents"])
    assert {"put"} <= set(paths["/v1/customers/{customer_id}/consents/{channel}"])
    assert {"get", "post"} <= set(paths["/unsubscribe"])
