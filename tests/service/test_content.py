"""Copy generation and preview, the assistant's conversations, review insights."""

from __future__ import annotations

import json
from typing import ClassVar
from urllib.parse import parse_qs, urlsplit

import pytest

from marketloop.content.providers import registry as provider_registry
from marketloop.content.providers.base import TextProvider, TextRequest, TextResult
from marketloop.content.reviews.insights import analyse_store_reviews
from marketloop.service.conversations import ConversationStore
from tests.service.conftest import ROLES, assert_error
from tests.service.content_shop import shop_api

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:httpx.*")

READ = {"admin": 200, "marketer": 200, "analyst": 200, "ingest": 403}
WRITE = {"admin": 200, "marketer": 200, "analyst": 403, "ingest": 403}
EMAIL = {"customer_id": "C1", "channel": "email", "offer": {"kind": "percent", "value": 15, "code": "SAVE15"}}


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    yield from shop_api(tmp_path_factory.mktemp("content"))


@pytest.fixture
def fresh_shop(tmp_path):
    yield from shop_api(tmp_path)


# --- roles ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    "method, path, body, expected",
    [
        ("post", "/v1/copy", EMAIL, WRITE),
        ("post", "/v1/copy/preview", EMAIL, READ),
        ("post", "/v1/assistant/chat", {"message": "What is your returns policy?"}, READ),
        ("get", "/v1/reviews/insights", None, READ),
    ],
)
def test_role_matrix(shop, role, method, path, body, expected) -> None:
    r = getattr(shop, method)(path, role, **({"json": body} if body is not None else {}))
    assert r.status_code == expected[role], r.text
    if expected[role] == 403:
        assert_error(r, 403, "forbidden")


@pytest.mark.parametrize("path", ["/v1/copy", "/v1/copy/preview", "/v1/assistant/chat"])
def test_content_routes_need_a_key(shop, path) -> None:
    assert_error(shop.client.post(path, json=EMAIL), 401, "unauthorized")


# --- copy ----------------------------------------------------------------------------------------------
def test_copy_is_grounded_checked_signed_and_logged(shop) -> None:
    before = shop.store.count("llm_calls")
    body = shop.post("/v1/copy", "marketer", json=EMAIL).json()
    assert (body["customer_id"], body["channel"], body["language"], body["provider"], body["preview"]) == (
        "C1",
        "email",
        "en",
        "template",
        False,
    )
    # C1 bought P1 and P2: the best sellers it has not bought are featured
    assert [p["product_id"] for p in body["products"]] == ["P3", "P4"]
    [variant] = body["variants"]
    assert variant["action"] == "accepted" and variant["delivered"] is True
    assert variant["verdict"] == {"passed": True, "violations": []} == variant["raw_verdict"]
    message = variant["message"]
    assert set(message) == {"subject", "preheader", "body", "products", "footer"}
    assert "Anna" in message["subject"] and "15%" in message["subject"] and "SAVE15" in message["body"]
    # the footer carries the customer's own signed unsubscribe link
    link = body["unsubscribe_url"]
    assert link in message["footer"]
    query = parse_qs(urlsplit(link).query)
    assert query["c"] == ["C1"] and query["ch"] == ["email"] and query["sig"][0]
    assert body["llm_calls_logged"] == 1 and shop.store.count("llm_calls") == before + 1


def test_preview_writes_nothing_and_hands_out_no_working_link(shop) -> None:
    counts = shop.store.counts()
    body = shop.post("/v1/copy/preview", "analyst", json=EMAIL).json()
    assert body["preview"] is True and body["llm_calls_logged"] == 0
    assert body["unsubscribe_url"] == "http://127.0.0.1:8000/unsubscribe"  # unsigned placeholder
    assert body["variants"][0]["verdict"]["passed"]
    assert shop.store.counts() == counts


@pytest.mark.parametrize("channel, fields", [("sms", {"text"}), ("push", {"title", "body"})])
def test_each_channel_has_its_own_fields(shop, channel, fields) -> None:
    body = shop.post("/v1/copy/preview", json={"customer_id": "C2", "channel": channel}).json()
    assert set(body["variants"][0]["message"]) == fields and body["unsubscribe_url"] is None


def test_language_products_and_variants_follow_the_request(shop) -> None:
    body = shop.post(
        "/v1/copy/preview",
        json={"customer_id": "C3", "channel": "sms", "product_ids": ["P4", "P1", "P4"], "variants": 3},
    ).json()
    assert body["language"] == "zh"  # the customer's language
    assert [p["product_id"] for p in body["products"]] == ["P4", "P1"]  # in the order asked, duplicates dropped
    assert [v["variant"] for v in body["variants"]] == [0, 1, 2]
    assert all("回T退订" in v["message"]["text"] for v in body["variants"])
    english = shop.post("/v1/copy/preview", json={"customer_id": "C3", "channel": "push", "language": "en"}).json()
    assert english["language"] == "en"


class Boastful(TextProvider):
    """Writes e-mails with a banned claim and no unsubscribe link: the guardrails must catch both."""

    name: ClassVar[str] = "boastful"

    def generate(self, request: TextRequest) -> TextResult:
        facts = request.facts or {}
        copy = {
            "subject": "Guaranteed best price",
            "preheader": "Only today",
            "body": "This will change your life.",
            "products": [],
            "footer": "Bye",
        }
        assert facts["channel"] == "email"
        return TextResult(text=json.dumps(copy), model="boastful-1")


def test_guardrail_violations_are_reported_with_codes_and_the_template_replaces_the_text(tmp_path, monkeypatch) -> None:
    fresh = provider_registry.ProviderRegistry(load_entry_points=False)
    fresh.register(Boastful)
    monkeypatch.setattr(provider_registry, "_default_registry", fresh)
    for api in shop_api(tmp_path, copy_provider="boastful"):
        body = api.post("/v1/copy", json=EMAIL).json()
        [variant] = body["variants"]
        assert body["provider"] == "boastful" and variant["provider"] == "boastful"
        raw = variant["raw_verdict"]
        assert raw["passed"] is False
        codes = {v["code"] for v in raw["violations"]}
        assert {"banned_claim", "opt_out"} <= codes
        assert {v["field"] for v in raw["violations"] if v["code"] == "opt_out"} == {"footer"}
        assert variant["action"] == "replaced" and variant["final_provider"] == "template"
        assert variant["verdict"] == {"passed": True, "violations": []} and variant["delivered"]
        assert any(r.startswith("boastful:") for r in variant["reasons"])
        assert body["llm_calls_logged"] == 1
        logged = api.store.read_sql("SELECT provider, model, ok FROM llm_calls")
        assert logged.to_dict("records") == [{"provider": "boastful", "model": "boastful-1", "ok": True}]


def test_a_misconfigured_provider_is_a_server_configuration_error(tmp_path) -> None:
    for api in shop_api(tmp_path, copy_provider="nonesuch"):
        err = assert_error(api.post("/v1/copy/preview", json=EMAIL), 500, "not_configured")
        assert "MARKETLOOP_COPY_PROVIDER" in err["hint"]


@pytest.mark.parametrize(
    "body, status, code, field",
    [
        ({**EMAIL, "customer_id": "C404"}, 404, "not_found", None),
        ({**EMAIL, "product_ids": ["P1", "P999"]}, 404, "not_found", None),
        ({**EMAIL, "channel": "fax"}, 422, "invalid_input", "channel"),
        ({"customer_id": "C1"}, 422, "invalid_input", "channel"),
        ({**EMAIL, "customer_id": 7}, 422, "invalid_input", "customer_id"),
        ({**EMAIL, "customer_id": ""}, 422, "invalid_input", "customer_id"),
        ({**EMAIL, "variants": 0}, 422, "invalid_input", "variants"),
        ({**EMAIL, "variants": 9}, 422, "invalid_input", "variants"),
        ({**EMAIL, "offer": {"kind": "percent", "value": 150}}, 422, "invalid_input", "offer"),
        ({**EMAIL, "offer": {"kind": "percent", "value": 10, "code": "bad code"}}, 422, "invalid_input", "offer.code"),
        ({**EMAIL, "offer": {"kind": "bogof"}}, 422, "invalid_input", "offer.kind"),
        ({**EMAIL, "language": "fr"}, 422, "invalid_input", "language"),
        ({**EMAIL, "product_ids": [f"P{i}" for i in range(13)]}, 422, "invalid_input", "product_ids"),
        ({**EMAIL, "colour": "red"}, 422, "invalid_input", "colour"),
        ({**EMAIL, "goal": "   "}, 422, "invalid_input", "goal"),
        ({**EMAIL, "store_name": "Shop\nBcc: x"}, 422, "invalid_input", "store_name"),
    ],
)
@pytest.mark.parametrize("path", ["/v1/copy", "/v1/copy/preview"])
def test_bad_copy_requests(shop, path, body, status, code, field) -> None:
    counts = shop.store.counts()
    assert_error(shop.post(path, json=body), status, code, field)
    assert shop.store.counts() == counts


def test_malformed_json_is_400(shop) -> None:
    r = shop.post("/v1/copy", content=b'{"customer_id": "C1",', headers={"Content-Type": "application/json"})
    assert_error(r, 400, "malformed_json")


# --- assistant -----------------------------------------------------------------------------------------
def _chat(api, role: str = "analyst", **body):
    return api.post("/v1/assistant/chat", role, json=body)


def test_a_policy_question_is_answered_from_the_knowledge_base(shop) -> None:
    body = _chat(shop, message="What is your returns policy?").json()
    assert "30 days" in body["reply"] and body["sources"] == ["default#returns-policy"]
    assert body["turn"] == 1 and body["handoff"] is False and body["conversation_id"]


def test_a_conversation_spans_requests_and_shows_only_the_customers_own_orders(shop) -> None:
    first = _chat(shop, message="Hi, where is my order?", customer_id="C1").json()
    assert first["intent"] == "track_order" and "order number" in first["reply"]
    second = _chat(shop, message="581234", conversation_id=first["conversation_id"]).json()
    assert second["conversation_id"] == first["conversation_id"] and second["turn"] == 2
    assert "581234" in second["reply"] and "being prepared" in second["reply"]
    assert second["sources"][0] == "orders:581234" and second["entities"]["order_ids"] == ["581234"]
    other = _chat(shop, message="where is my order 581234", customer_id="C2").json()
    assert "could not find order 581234" in other["reply"] and "orders:581234" not in other["sources"]
    anonymous = _chat(shop, message="where is my order 581234").json()
    assert "sign in" in anonymous["reply"]


def test_a_handed_off_conversation_takes_no_more_messages(shop) -> None:
    body = _chat(shop, message="I want to speak to a person").json()
    assert body["handoff"] is True and body["handoff_reason"] == "the customer asked for a person"
    err = assert_error(
        _chat(shop, message="hello?", conversation_id=body["conversation_id"]), 409, "conflict", "conversation_id"
    )
    assert "new conversation" in err["hint"]


def test_conversations_belong_to_the_key_that_opened_them(shop) -> None:
    opened = _chat(shop, "marketer", message="Hi, where is my order?", customer_id="C1").json()
    assert_error(_chat(shop, "analyst", message="581234", conversation_id=opened["conversation_id"]), 404, "not_found")
    assert _chat(shop, "marketer", message="581234", conversation_id=opened["conversation_id"]).status_code == 200


@pytest.mark.parametrize(
    "body, status, code, field",
    [
        ({"message": "hi", "conversation_id": "nope"}, 404, "not_found", None),
        ({"message": "hi", "customer_id": "C404"}, 404, "not_found", None),
        ({"message": "   "}, 422, "invalid_input", "message"),
        ({"message": ""}, 422, "invalid_input", "message"),
        ({"message": "x" * 1001}, 422, "invalid_input", "message"),
        ({"message": 42}, 422, "invalid_input", "message"),
        ({}, 422, "invalid_input", "message"),
        ({"message": "hi", "mood": "angry"}, 422, "invalid_input", "mood"),
    ],
)
def test_bad_chat_requests(shop, body, status, code, field) -> None:
    assert_error(shop.post("/v1/assistant/chat", json=body), status, code, field)


def test_the_customer_of_a_conversation_cannot_be_switched(shop) -> None:
    opened = _chat(shop, message="Hi, where is my order?", customer_id="C1").json()
    err = assert_error(
        _chat(shop, message="581236", conversation_id=opened["conversation_id"], customer_id="C2"),
        422,
        "invalid_input",
        "customer_id",
    )
    assert "new one" in err["hint"]


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_conversation_store_is_bounded_expires_and_forgets_customers() -> None:
    clock = FakeClock()
    store = ConversationStore(max_items=2, ttl_s=3600, clock=clock)
    a, b = store.open("k1", "C1"), store.open("k1", None)
    assert store.get(a.conversation_id, "k1") is a  # a is now the most recently used
    c = store.open("k1", "C2")
    assert len(store) == 2 and store.get(b.conversation_id, "k1") is None  # the least recently used went
    assert store.get(a.conversation_id, "k2") is None  # another key sees nothing
    clock.now = 3599.0
    assert store.get(c.conversation_id, "k1") is c
    clock.now = 3600.0 + 1
    assert store.get(a.conversation_id, "k1") is None  # idle for an hour
    assert store.get(c.conversation_id, "k1") is c  # used at 3599: still alive
    assert store.forget_customer("C2") == 1 and len(store) == 0


def test_history_is_trimmed(shop) -> None:
    conversations = shop.client.app.state.ml.cached("assistant.conversations", ConversationStore)
    cid = _chat(shop, message="What is your returns policy?").json()["conversation_id"]
    for _ in range(15):
        _chat(shop, message="What is your returns policy?", conversation_id=cid)
    chat = conversations.get(cid, shop.keys["analyst"].split("_")[1])
    assert chat.turns == 16 and len(chat.conversation.history) == 20


# --- reviews -------------------------------------------------------------------------------------------
def test_insights_are_computed_when_none_are_stored(shop) -> None:
    body = shop.get("/v1/reviews/insights", "analyst").json()
    assert body["source"] == "computed" and body["model"] == "lexicon" and "marketloop reviews analyze" in body["hint"]
    assert sum(body["sentiment"].values()) == 10 and set(body["sentiment"]) == {"positive", "neutral", "negative"}
    p1, p4 = body["products"]
    assert (p1["product_id"], p1["name"], p1["n_reviews"], p1["avg_rating"]) == ("P1", "Linen Summer Dress", 6, 4.0)
    assert [a["aspect"] for a in p1["loves"]] == ["fit"] and p1["highlight"] == "Reviewers love the fit"
    assert [a["aspect"] for a in p4["complaints"]] == ["quality"] and p4["complaints"][0]["mentions"] == 3
    assert shop.store.count("review_summaries") == 0  # computing stores nothing
    one = shop.get("/v1/reviews/insights?product_id=P4&limit=1").json()
    assert [p["product_id"] for p in one["products"]] == ["P4"]
    top = shop.get("/v1/reviews/insights?limit=1").json()
    assert [p["product_id"] for p in top["products"]] == ["P1"]


def test_stored_insights_are_served_as_stored(fresh_shop) -> None:
    analyse_store_reviews(fresh_shop.store)
    body = fresh_shop.get("/v1/reviews/insights").json()
    assert body["source"] == "stored" and body["model"] == "lexicon" and body["updated_at"] and body["hint"] is None
    assert [p["product_id"] for p in body["products"]] == ["P1", "P4"]
    assert body["products"][0]["loves"][0]["aspect"] == "fit"
    assert sum(body["sentiment"].values()) == 10
    p4 = fresh_shop.get("/v1/reviews/insights?product_id=P4").json()
    assert [p["product_id"] for p in p4["products"]] == ["P4"] and sum(p4["sentiment"].values()) == 4


def test_a_product_without_reviews_and_an_empty_store_say_what_to_do(shop, api) -> None:
    body = shop.get("/v1/reviews/insights?product_id=P2").json()
    assert body["source"] == "none" and body["products"] == [] and "marketloop ingest" in body["hint"]
    empty = api.get("/v1/reviews/insights").json()
    assert empty["source"] == "none" and empty["sentiment"] == {"positive": 0, "neutral": 0, "negative": 0}


@pytest.mark.parametrize(
    "query, status, code, field",
    [
        ("product_id=P999", 404, "not_found", None),
        ("limit=0", 422, "invalid_input", "limit"),
        ("limit=101", 422, "invalid_input", "limit"),
        ("limit=many", 422, "invalid_input", "limit"),
        ("product_id=", 422, "invalid_input", "product_id"),
    ],
)
def test_bad_insight_queries(shop, query, status, code, field) -> None:
    assert_error(shop.get(f"/v1/reviews/insights?{query}"), status, code, field)


def test_openapi_describes_the_content_routes(shop) -> None:
    doc = shop.client.get("/v1/openapi.json").json()
    for path in ("/v1/copy", "/v1/copy/preview", "/v1/assistant/chat", "/v1/reviews/insights"):
        assert path in doc["paths"]
    schemas = doc["components"]["schemas"]
    assert {"CopyIn", "CopyOut", "ChatIn", "ChatOut", "InsightsOut"} <= set(schemas)
    assert schemas["CopyIn"]["properties"]["offer"]
