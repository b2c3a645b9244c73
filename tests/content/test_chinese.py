"""Chinese end to end: review sentiment and aspects, the assistant's intents, entities and replies in
Chinese, and each customer's language (declared, detected from what they wrote, by country)."""

from __future__ import annotations

import pandas as pd
import pytest

from marketloop.content.assistant.bot import Assistant, Conversation
from marketloop.content.assistant.intents import KeywordIntents
from marketloop.content.language import customer_languages, detect_language, normalise_language
from marketloop.content.reviews.aspects import extract_aspects
from marketloop.content.reviews.lexicon import lexicon_score
from marketloop.store import open_store, schema
from marketloop.store.bulk import insert_frame


@pytest.mark.parametrize(
    ("text", "sign"),
    [
        ("质量很差，非常失望", -1),
        ("非常满意，质量很好，物流也快", 1),
        ("不太好看", -1),  # negation flips the opinion word
        ("没有色差，很满意", 1),  # a negated complaint is not a complaint
        ("衣服不错，但是有点小", -1),  # after 但是 counts double
        ("物超所值", 1),  # a phrase jieba splits
    ],
)
def test_chinese_review_sentiment(text, sign) -> None:
    assert lexicon_score(text) * sign > 0.3


def test_chinese_aspects_per_clause() -> None:
    found = {(m.aspect, m.polarity) for m in extract_aspects("物流很快，但是质量很差，尺码有点小")}
    assert found == {("shipping", "positive"), ("quality", "negative"), ("size", "negative")}


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("我的订单在哪里？", "track_order"),
        ("我想取消订单", "cancel_order"),
        ("退款什么时候到账", "track_refund"),
        ("你们支持支付宝吗", "check_payment_methods"),
        ("收货地址填错了", "change_shipping_address"),
        ("转人工", "contact_human_agent"),
    ],
)
def test_chinese_intents(text, intent) -> None:
    assert KeywordIntents().top(text) == (intent, 0.6)


@pytest.fixture
def shop(tmp_path):
    import datetime as dt

    store = open_store(f"duckdb:///{tmp_path / 'zh.duckdb'}")
    with store.begin() as conn:
        insert_frame(
            conn,
            schema.customers,
            pd.DataFrame(
                {
                    "customer_id": ["wang", "smith", "li", "chen", "anon"],
                    "language": ["zh-CN", "en", None, None, None],
                    "country": ["China", "United Kingdom", "Germany", "Taiwan", "Germany"],
                    "is_guest": False,
                }
            ),
        )
        insert_frame(
            conn,
            schema.orders,
            pd.DataFrame(
                {
                    "order_id": ["A10001"],
                    "customer_id": ["wang"],
                    "ordered_at": [dt.datetime(2026, 3, 1, 10)],
                    "status": ["pending"],
                    "is_return": [False],
                    "total": [199.0],
                    "currency": ["CNY"],
                }
            ),
        )
        insert_frame(
            conn,
            schema.reviews,
            pd.DataFrame(
                {
                    "review_id": ["r1"],
                    "product_id": ["p1"],
                    "customer_id": ["li"],
                    "rating": [5],
                    "body": ["面料很舒服，很喜欢"],
                }
            ),
        )
    yield store
    store.close()


def test_the_assistant_answers_a_chinese_question_in_chinese(shop) -> None:
    bot, conv = Assistant(store=shop), Conversation(customer_id="wang")
    first = bot.respond(conv, "我的订单在哪里？")
    assert first.intent == "track_order" and first.text == "我可以帮您查询。请问您的订单号是多少？"
    second = bot.respond(conv, "订单号是 A10001")
    assert second.entities["order_ids"] == ["A10001"]
    assert second.text.startswith("您的订单A10001（下单时间2026年3月1日") and "正在备货" in second.text
    assert second.sources == ["orders:A10001"]
    policy = bot.respond(conv, "你们的退货政策是什么")
    assert policy.intent == "check_refund_policy" and "30天内退货" in policy.text
    assert policy.sources[0].startswith("default.zh#")
    english = bot.respond(Conversation(), "What is your returns policy?")
    assert "within 30 days" in english.text


def test_each_customer_gets_a_language(shop) -> None:
    langs = customer_languages(shop, ["wang", "smith", "li", "chen", "anon", "ghost"])
    # declared; declared; detected from the review li wrote; by country; the default; unknown id
    assert langs == {"wang": "zh", "smith": "en", "li": "zh", "chen": "zh", "anon": "en", "ghost": "en"}
    assert customer_languages(shop, ["anon"], default="zh") == {"anon": "zh"}


@pytest.mark.parametrize(
    ("value", "code"), [("zh-Hant", "zh"), ("Chinese", "zh"), ("en_GB", "en"), ("de", None), ("", None), (None, None)]
)
def test_declared_languages(value, code) -> None:
    assert normalise_language(value) == code


def test_detection() -> None:
    assert detect_language("Where is my parcel? It has been a week") == "en"
    assert detect_language("Nike 跑步鞋 42码") == "zh"
    assert detect_language("12345 !!") is None
