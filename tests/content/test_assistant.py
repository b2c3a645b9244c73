"""The customer-service assistant: entities, intents, retrieval, order lookup, multi-turn, hand-off."""

from __future__ import annotations

import pytest

from marketloop.content.assistant.bot import Assistant, Conversation
from marketloop.content.assistant.entities import anger_score, extract_entities
from marketloop.content.assistant.intents import IntentClassifier, KeywordIntents
from marketloop.content.assistant.retrieval import HybridRetriever, load_knowledge, parse_kb_markdown
from marketloop.errors import InputError, NotFoundError


@pytest.mark.parametrize(
    ("text", "orders", "emails"),
    [
        ("where is my order 581234?", ["581234"], []),
        ("Order #A-1234 hasn't arrived", ["A-1234"], []),
        ("my order number is 77123, email anna@example.com", ["77123"], ["anna@example.com"]),
        ("订单号 123456 还没到", ["123456"], []),
        ("it cost £12.50 and I ordered 2", [], []),
        ("contact me at x.y+z@mail.co.uk", [], ["x.y+z@mail.co.uk"]),
    ],
)
def test_entities(text: str, orders: list[str], emails: list[str]) -> None:
    e = extract_entities(text)
    assert e.order_ids == orders and e.emails == emails


@pytest.mark.parametrize(
    ("text", "angry"),
    [
        ("where is my parcel?", False),
        ("THIS IS RIDICULOUS, WHERE IS MY ORDER", True),
        ("worst shop ever, you are useless!!!", True),
        ("thanks!", False),
    ],
)
def test_anger(text: str, angry: bool) -> None:
    assert (anger_score(text) >= 0.7) is angry


UTTERANCES = {
    "track_order": [
        "where is my order",
        "track my package",
        "status of my order",
        "has my order shipped",
        "when will my order arrive",
    ],
    "check_refund_policy": [
        "what is your return policy",
        "can I return an item",
        "how do returns work",
        "refund policy please",
        "return rules",
    ],
    "contact_human_agent": [
        "talk to a human",
        "I want a real person",
        "connect me to an agent",
        "human agent please",
        "speak to someone",
    ],
    "recover_password": [
        "forgot my password",
        "reset password",
        "cannot log in",
        "lost my password",
        "password reset link",
    ],
}


@pytest.fixture
def intent_model() -> IntentClassifier:
    texts = [t for ts in UTTERANCES.values() for t in ts] * 3
    labels = [k for k, ts in UTTERANCES.items() for _ in ts] * 3
    return IntentClassifier().fit(texts, labels)


def test_intent_classifier_round_trip(intent_model: IntentClassifier, tmp_path) -> None:
    assert intent_model.top("where's my order??")[0] == "track_order"
    intent_model.save(tmp_path / "m")
    loaded = IntentClassifier.load(tmp_path / "m")
    assert loaded.top("pasword reset pls") == intent_model.top("pasword reset pls")
    with pytest.raises(NotFoundError, match="No intent model"):
        IntentClassifier.load(tmp_path / "nothing")
    with pytest.raises(InputError, match="need at least two intents"):
        IntentClassifier().fit(["a", "b"], ["x", "x"])


def test_knowledge_loading_and_hybrid_retrieval(tmp_path, hash_embedder) -> None:
    docs = load_knowledge()
    assert {"Returns policy", "Delivery time"} <= {d.title for d in docs}
    for embedder in (None, hash_embedder):
        r = HybridRetriever(docs, embedder=embedder)
        assert r.search("how many days do I have to return something", k=1)[0].doc.title == "Returns policy"
    # keyword search alone finds the payment section from one shared word
    assert HybridRetriever(docs).search("which cards do you accept", k=1)[0].doc.title == "Payment methods"
    (tmp_path / "kb").mkdir()
    (tmp_path / "kb" / "x.md").write_text("## Gift wrap\nintents: place_order\nWe gift-wrap any order for £2.\n")
    [doc] = load_knowledge(tmp_path / "kb")
    assert doc.doc_id == "x#gift-wrap" and doc.intents == ("place_order",)
    with pytest.raises(InputError, match="has no Markdown sections"):
        load_knowledge(tmp_path / "empty")
    assert parse_kb_markdown("no sections", "s") == []


def test_order_status_multi_turn_and_privacy(tiny_store, intent_model) -> None:
    bot = Assistant(intents=intent_model, store=tiny_store)
    conv = Conversation(customer_id="C1")
    first = bot.respond(conv, "where is my order?")
    assert first.intent == "track_order" and "order number" in first.text and conv.pending_intent == "track_order"
    second = bot.respond(conv, "581234")
    assert "Your order 581234" in second.text and "has not been dispatched" in second.text and "£68.50" in second.text
    assert second.sources[0] == "orders:581234"
    # another customer's order is never disclosed
    other = bot.respond(Conversation(customer_id="C1"), "where is my order 581235")
    assert "could not find order 581235" in other.text and "£3.25" not in other.text
    anonymous = bot.respond(Conversation(), "track my order 581234")
    assert "could not find" in anonymous.text and "sign in" in anonymous.text
    assert len(conv.history) == 4


def test_policy_answers_are_retrieved_text(tiny_store, intent_model) -> None:
    bot = Assistant(intents=intent_model, store=tiny_store)
    reply = bot.respond(Conversation(), "what is your return policy?")
    assert reply.intent == "check_refund_policy" and reply.sources == ["default#returns-policy"]
    assert reply.text.startswith("You can return unworn items")


def test_catalogue_questions(tiny_store) -> None:
    bot = Assistant(store=tiny_store)
    reply = bot.respond(Conversation(), "do you have a linen dress?")
    assert "Linen Summer Dress (£49.00)" in reply.text and reply.sources[0] == "product:P1"
    assert "POSTAGE" not in reply.text


@pytest.mark.parametrize(
    ("messages", "reason"),
    [
        (["I want to talk to a real person"], "the customer asked for a person"),
        (["THIS IS RIDICULOUS, WHERE IS MY REFUND??!!"], "the customer is upset"),
        (["blorp zzz", "qwx vvv"], "low confidence twice in a row"),
    ],
)
def test_hand_off(intent_model, messages: list[str], reason: str) -> None:
    bot = Assistant(intents=intent_model)
    conv = Conversation()
    replies = [bot.respond(conv, m) for m in messages]
    assert replies[-1].handoff and replies[-1].reason == reason and conv.handed_off
    assert not any(r.handoff for r in replies[:-1])


def test_keyword_rules_without_a_model() -> None:
    rules = KeywordIntents()
    assert rules.top("where is my order")[0] == "track_order"
    assert rules.top("hmm")[0] == "other"
    bot = Assistant()
    assert "order number" in bot.respond(Conversation(), "where is my order?").text


@pytest.mark.realdata
def test_bitext_intents_accuracy(content_data) -> None:
    import pandas as pd

    from marketloop.content.assistant.evaluation import evaluate_intents

    df = pd.read_csv(
        content_data / "bitext_customer_support" / "TrainingdatasetBitextsample_20k_utterances.csv",
        encoding="utf-8-sig",
    )
    df = df.sample(n=1500, random_state=0)
    result = evaluate_intents(df["utterance"], df["intent"], seed=0)
    assert result["accuracy"] >= 0.95


def test_greetings_are_answered_without_counting_as_unsure() -> None:
    bot, conv = Assistant(), Conversation()
    assert bot.respond(conv, "Hi!").intent == "greeting"
    assert "welcome" in bot.respond(conv, "thank you").text
    assert conv.unsure_turns == 0
