"""The content part of the demo: sample messages with guardrail verdicts, review insights for the
top products, and a short assistant transcript, all from the store (``marketloop copy demo``; the
top-level ``marketloop demo`` can call :func:`content_demo`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import Any

import sqlalchemy as sa

from marketloop.clock import utcnow
from marketloop.content.assistant.bot import Assistant, Conversation
from marketloop.content.copy.brief import BrandVoice, Offer
from marketloop.content.copy.generate import CopyWriter
from marketloop.content.copy.store_facts import brief_from_store
from marketloop.content.reviews.insights import analyse_store_reviews, load_summaries
from marketloop.store import schema


def content_demo(
    store: Any, *, store_name: str = "MarketLoop Demo Shop", writer: CopyWriter | None = None
) -> dict[str, Any]:
    o = schema.orders
    top = store.read_sql(
        sa.select(o.c.customer_id, sa.func.count().label("n"))
        .where(o.c.customer_id.is_not(None))
        .group_by(o.c.customer_id)
        .order_by(sa.desc("n"), o.c.customer_id)
        .limit(2)
    )
    writer = writer or CopyWriter()
    offer = Offer(kind="percent", value=15, code="WELCOME15", expires=utcnow().date() + dt.timedelta(days=14))
    messages = []
    for i, cid in enumerate(top["customer_id"].astype(str)):
        for channel in ("email", "sms", "push"):
            brief = brief_from_store(
                store,
                cid,
                goal="winback",
                channel=channel,
                offer=offer,
                language="zh" if i == 1 else None,
                brand=BrandVoice(store_name=store_name),
                n_products=2,
            )
            [result] = writer.write(brief)
            messages.append(
                {
                    "customer_id": cid,
                    "channel": channel,
                    "language": brief.language,
                    "action": result.action,
                    "raw_verdict": result.raw_report.summary(),
                    "final_verdict": result.final_report.summary(),
                    "message": None if result.message is None else result.message.model_dump(),
                }
            )
    insights: list[dict] = []
    if store.count("reviews"):
        analyse_store_reviews(store)
        insights = [asdict(s) for s in load_summaries(store, limit=3)]
    transcript = []
    if len(top):
        cid = str(top["customer_id"].iloc[0])
        last = store.read_sql(
            sa.select(o.c.order_id).where(o.c.customer_id == cid).order_by(o.c.ordered_at.desc()).limit(1)
        )
        bot, conv = Assistant(store=store), Conversation(customer_id=cid)
        script = [
            "Hi, where is my order?",
            str(last["order_id"].iloc[0]),
            "What is your returns policy?",
            "I want to speak to a person",
        ]
        for text in script:
            reply = bot.respond(conv, text)
            transcript.append(
                {"customer": text, "assistant": reply.text, "intent": reply.intent, "handoff": reply.handoff}
            )
    return {"messages": messages, "review_insights": insights, "assistant_transcript": transcript}


def _render_message(message: dict | None) -> str:
    if message is None:
        return "(nothing would be sent)"
    if "subject" in message:
        lines = [f"Subject: {message['subject']}", f"Preheader: {message['preheader']}", "", message["body"], ""]
        lines += [
            f"* {p['name']} - {p['currency']} {p['price']:,.2f}" + (f"  ({p['blurb']})" if p.get("blurb") else "")
            for p in message["products"]
        ]
        return "\n".join([*lines, "", message["footer"]])
    return "\n".join(f"{k}: {v}" for k, v in message.items())


def report_sections(demo: dict[str, Any]) -> list[dict[str, Any]]:
    """The demo output as report sections (keyword arguments of ``marketloop.report.Section``)."""
    import pandas as pd

    msgs = demo["messages"]
    sections = [
        {
            "title": "Personalised messages and their guardrail verdicts",
            "intro": "Written by the template writer (the built-in grounded provider) from store facts only; every message is "
            "checked for prices, discounts, codes, dates, product names, banned claims, length limits, opt-out text "
            "and other customers' data before it could be sent.",
            "figures": {
                "messages": str(len(msgs)),
                "passed guardrails": str(sum(m["final_verdict"] == "pass" for m in msgs)),
            },
            "blocks": [
                (
                    f"{m['channel']} ({m['language']}) for customer {m['customer_id']}: {m['action']}, verdict {m['final_verdict']}",
                    _render_message(m["message"]),
                )
                for m in msgs
            ],
        }
    ]
    if demo["review_insights"]:
        rows = [
            {
                "product": s["product_id"],
                "reviews": s["n_reviews"],
                "avg rating": s["avg_rating"],
                "positive share": s["positive_share"],
                "loved": ", ".join(x["aspect"] for x in s["loves"]),
                "complaints": ", ".join(x["aspect"] for x in s["complaints"]),
                "highlight": s["highlight"] or "",
            }
            for s in demo["review_insights"]
        ]
        sections.append(
            {
                "title": "What customers love and complain about",
                "intro": "Review sentiment and aspects (fit, size, quality, material, ...) per product.",
                "tables": [("Most-reviewed products", pd.DataFrame(rows))],
            }
        )
    if demo["assistant_transcript"]:
        text = "\n".join(
            f"customer> {t['customer']}\nassistant> {t['assistant']}" + ("  [hand-off]" if t["handoff"] else "")
            for t in demo["assistant_transcript"]
        )
        sections.append(
            {
                "title": "Customer-service assistant",
                "intro": "A short scripted conversation with a real order from the store.",
                "blocks": [("Transcript", text)],
            }
        )
    return sections


def demo_step(ctx: Any) -> None:
    """Step for ``marketloop.demo.STEPS``: adds the content sections to the demo report and summary."""
    from marketloop.report import Section

    demo = content_demo(ctx.store)
    ctx.report.add(*[Section(**kw) for kw in report_sections(demo)])
    passed = sum(m["final_verdict"] == "pass" for m in demo["messages"])
    ctx.summary.setdefault("highlights", []).append(
        f"Copy: {passed}/{len(demo['messages'])} sample messages passed the guardrails; "
        f"{len(demo['review_insights'])} products with review insights; assistant transcript of {len(demo['assistant_transcript'])} turns."
    )
