"""The content part of the demo: sample messages with guardrail verdicts, review insights for the
top products, and a short assistant transcript, all from the store (``marketloop copy demo``; the
top-level ``marketloop demo`` can call :func:`content_demo`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import Any

import sqlalchemy as sa

from marketloop.content.assistant.bot import Assistant, Conversation
from marketloop.content.copy.brief import BrandVoice, Offer
from marketloop.content.copy.generate import CopyWriter
from marketloop.content.copy.store_facts import brief_from_store
from marketloop.content.reviews.insights import analyse_store_reviews, load_summaries
from marketloop.store import schema


def content_demo(store: Any, *, store_name: str = "MarketLoop Demo Shop", writer: CopyWriter | None = None) -> dict[str, Any]:
    o = schema.orders
    top = store.read_sql(
        sa.select(o.c.customer_id, sa.func.count().label("n")).where(o.c.customer_id.is_not(None))
        .group_by(o.c.customer_id).order_by(sa.desc("n"), o.c.customer_id).limit(2)
    )
    writer = writer or CopyWriter()
    offer = Offer(kind="percent", value=15, code="WELCOME15", expires=dt.date.today() + dt.timedelta(days=14))
    messages = []
    for i, cid in enumerate(top["customer_id"].astype(str)):
        for channel in ("email", "sms", "push"):
            brief = brief_from_store(store, cid, goal="winback", channel=channel, offer=offer, language="zh" if i == 1 else None,
                                     brand=BrandVoice(store_name=store_name), n_products=2)
            [result] = writer.write(brief)
            messages.append({"customer_id": cid, "channel": channel, "language": brief.language, "action": result.action,
                             "raw_verdict": result.raw_report.summary(), "final_verdict": result.final_report.summary(),
                             "message": None if result.message is None else result.message.model_dump()})
    insights: list[dict] = []
    if store.count("reviews"):
        analyse_store_reviews(store)
        insights = [asdict(s) for s in load_summaries(store, limit=3)]
    transcript = []
    if len(top):
        cid = str(top["customer_id"].iloc[0])
        last = store.read_sql(sa.select(o.c.order_id).where(o.c.customer_id == cid).order_by(o.c.ordered_at.desc()).limit(1))
        bot, conv = Assistant(store=store), Conversation(customer_id=cid)
        script = ["Hi, where is my order?", str(last["order_id"].iloc[0]), "What is your returns policy?", "I want to speak to a person"]
        for text in script:
            reply = bot.respond(conv, text)
            transcript.append({"customer": text, "assistant": reply.text, "intent": reply.intent, "handoff": reply.handoff})
    return {"messages": messages, "review_insights": insights, "assistant_transcript": transcript}
