"""The customer-service assistant: intent, entities, retrieval, order lookup, hand-off.

Every answer is built from something retrieved (a policy section, a catalogue row) or from the
store's own ``orders`` table, and says where it came from (``Reply.sources``). It hands the
conversation to a person when the customer asks for one, is angry, or when it is unsure twice in a row.
Orders are only disclosed to the customer they belong to (``Conversation.customer_id``).

:func:`answer` is the plain function the API exposes: (conversation, message) -> Reply.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from marketloop.content.assistant.entities import anger_score, extract_entities
from marketloop.content.assistant.intents import KeywordIntents
from marketloop.content.assistant.retrieval import Document, HybridRetriever, load_knowledge, product_documents
from marketloop.content.copy.brief import format_money
from marketloop.store import schema

log = logging.getLogger(__name__)

ORDER_INTENTS = {
    "track_order",
    "cancel_order",
    "change_order",
    "track_refund",
    "get_invoice",
    "change_shipping_address",
}
STATUS_TEXT = {
    "pending": "is being prepared and has not been dispatched yet",
    "completed": "has been completed and dispatched",
    "cancelled": "was cancelled",
    "returned": "was returned",
}
GREETING = re.compile(
    r"^(hi|hello|hey|good (morning|afternoon|evening)|thanks?( you)?|thank you( very much)?|cheers|你好|您好|谢谢)[\s!.,。！]*$",
    re.I,
)
THANKS = re.compile(r"thank|cheers|谢谢", re.I)
PRODUCT_WORDS = (
    "do you have",
    "do you sell",
    "looking for",
    "in stock",
    "price of",
    "how much",
    "recommend",
    "product",
)


@dataclass
class Turn:
    role: str
    text: str


@dataclass
class Conversation:
    """State of one chat: who (if signed in), history, what we are waiting for, known entities."""

    customer_id: str | None = None
    history: list[Turn] = field(default_factory=list)
    pending_intent: str | None = None
    order_id: str | None = None
    email: str | None = None
    unsure_turns: int = 0
    handed_off: bool = False


@dataclass
class Reply:
    text: str
    intent: str
    confidence: float
    handoff: bool = False
    reason: str | None = None
    sources: list[str] = field(default_factory=list)
    entities: dict[str, list[str]] = field(default_factory=dict)


class Assistant:
    def __init__(
        self,
        *,
        intents: Any = None,
        knowledge: list[Document] | None = None,
        store: Any = None,
        embedder: Any = None,
        min_confidence: float = 0.4,
        anger_threshold: float = 0.7,
        max_products: int = 5000,
    ) -> None:
        self.intents = intents if intents is not None else KeywordIntents()
        self.store = store
        self.min_confidence = min_confidence
        self.anger_threshold = anger_threshold
        docs = list(knowledge if knowledge is not None else load_knowledge())
        if store is not None:
            p = schema.products
            products = store.read_sql(
                sa.select(p.c.product_id, p.c.name, p.c.description, p.c.category, p.c.price, p.c.currency)
                .where(p.c.hidden.is_(False))
                .where(p.c.is_product.is_(True))
                .order_by(p.c.product_id)
                .limit(max_products)
            )
            docs += product_documents(products)
        self.retriever = HybridRetriever(docs, embedder=embedder)

    # --- the turn ---------------------------------------------------------------------------------
    def respond(self, conv: Conversation, text: str) -> Reply:
        conv.history.append(Turn("customer", text))
        reply = self._respond(conv, text)
        conv.history.append(Turn("assistant", reply.text))
        conv.handed_off = conv.handed_off or reply.handoff
        return reply

    def _respond(self, conv: Conversation, text: str) -> Reply:
        ents = extract_entities(text)
        entities = {"order_ids": ents.order_ids, "emails": ents.emails}
        if ents.order_ids:
            conv.order_id = ents.order_ids[0]
        if ents.emails:
            conv.email = ents.emails[0]
        if GREETING.match(text.strip()):
            return Reply(
                "Hello! I can help with orders, delivery, returns, payments and your account. What can I do for you?"
                if not THANKS.search(text)
                else "You are welcome. Is there anything else I can help with?",
                "greeting",
                1.0,
                entities=entities,
            )
        intent, conf = self.intents.top(text)
        if conv.pending_intent and (ents.order_ids or conf < self.min_confidence or len(text.split()) <= 3):
            intent, conf = conv.pending_intent, max(conf, self.min_confidence)
        anger = anger_score(text)
        if anger >= self.anger_threshold:
            return self._handoff(
                conv,
                intent,
                conf,
                "the customer is upset",
                entities,
                "I am sorry about this. I am passing you to a member of our team now; they can see this conversation.",
            )
        if intent == "contact_human_agent" and conf >= self.min_confidence:
            return self._handoff(
                conv,
                intent,
                conf,
                "the customer asked for a person",
                entities,
                "Of course. I am passing you to a member of our team; they can see this conversation.",
            )
        if intent in ORDER_INTENTS and conf >= self.min_confidence:
            return self._order_reply(conv, intent, conf, entities)
        conv.pending_intent = None
        wants_product = any(w in text.lower() for w in PRODUCT_WORDS)
        if wants_product:
            hits = self.retriever.search(text, k=3, kind="product")
            good = [h for h in hits if h.keyword > 0.15 or (h.semantic or 0) > 0.45]
            if good:
                conv.unsure_turns = 0
                lines = [
                    f"{h.doc.title} ({format_money(h.doc.meta['price'], h.doc.meta['currency'])})"
                    if h.doc.meta.get("price") is not None
                    else h.doc.title
                    for h in good
                ]
                return Reply(
                    "Here is what I found in our catalogue: " + "; ".join(lines) + ".",
                    "product_question",
                    conf,
                    sources=[h.doc.doc_id for h in good],
                    entities=entities,
                )
        hits = self.retriever.search(text, k=1, kind="policy", intent=intent if conf >= self.min_confidence else None)
        top = hits[0] if hits else None
        relevant = top is not None and (
            (conf >= self.min_confidence and intent in top.doc.intents)
            or top.keyword > 0.25
            or (top.semantic or 0) > 0.5
        )
        if not relevant:
            conv.unsure_turns += 1
            if conv.unsure_turns >= 2:
                return self._handoff(
                    conv,
                    intent,
                    conf,
                    "low confidence twice in a row",
                    entities,
                    "I am not sure I can help with this, so I am passing you to a member of our team.",
                )
            return Reply(
                "Sorry, I did not quite get that. Could you say it in other words, for example "
                "'where is my order 12345' or 'what is your returns policy'?",
                intent,
                conf,
                reason="low confidence",
                entities=entities,
            )
        conv.unsure_turns = 0
        return Reply(top.doc.text, intent, conf, sources=[top.doc.doc_id], entities=entities)

    def _handoff(self, conv: Conversation, intent: str, conf: float, reason: str, entities: dict, text: str) -> Reply:
        conv.pending_intent = None
        log.info("assistant hand-off: %s", reason)
        return Reply(text, intent, conf, handoff=True, reason=reason, entities=entities)

    def _order_reply(self, conv: Conversation, intent: str, conf: float, entities: dict) -> Reply:
        if not conv.order_id:
            conv.pending_intent = intent
            return Reply(
                "I can look that up. What is your order number?",
                intent,
                conf,
                reason="needs order number",
                entities=entities,
            )
        conv.pending_intent = None
        order = self.lookup_order(conv.order_id, conv.customer_id)
        policy = self.retriever.search(intent.replace("_", " "), k=1, kind="policy", intent=intent)
        policy_text = policy[0].doc.text if policy and intent in policy[0].doc.intents else ""
        sources = [policy[0].doc.doc_id] if policy_text else []
        if order is None:
            conv.order_id = None
            msg = (
                f"I could not find order {entities['order_ids'][0] if entities['order_ids'] else 'with that number'} "
                "on your account. Please check the number" + (" or sign in first." if conv.customer_id is None else ".")
            )
            return Reply(msg, intent, conf, reason="order not found", sources=sources, entities=entities)
        status = STATUS_TEXT.get(order["status"], f"has the status {order['status']}")
        placed = order["ordered_at"].strftime("%d %B %Y") if order["ordered_at"] is not None else "an unknown date"
        total = (
            f", total {format_money(order['total'], order['currency'] or 'GBP')}" if order["total"] is not None else ""
        )
        msg = f"Your order {order['order_id']} (placed {placed}{total}) {status}."
        if intent in ("cancel_order", "change_order", "change_shipping_address"):
            msg += (
                " It can still be changed or cancelled from your account."
                if order["status"] == "pending"
                else " It can no longer be changed or cancelled; you can return it instead."
            )
        if policy_text and intent != "track_order":
            msg += " " + policy_text
        else:
            sources = []
        return Reply(msg, intent, conf, sources=[f"orders:{order['order_id']}", *sources], entities=entities)

    def lookup_order(self, order_id: str, customer_id: str | None) -> dict | None:
        """The order, only if it belongs to `customer_id` (anonymous chats see no order data)."""
        if self.store is None or customer_id is None:
            return None
        o = schema.orders
        df = self.store.read_sql(
            sa.select(o.c.order_id, o.c.customer_id, o.c.ordered_at, o.c.status, o.c.total, o.c.currency)
            .where(o.c.order_id == order_id)
            .where(o.c.customer_id == customer_id)
        )
        if df.empty:
            return None
        row = df.iloc[0].to_dict()
        row["ordered_at"] = None if row["ordered_at"] is None else row["ordered_at"]
        row["total"] = None if row["total"] is None or row["total"] != row["total"] else float(row["total"])
        return row


def answer(assistant: Assistant, conversation: Conversation, message: str) -> Reply:
    """The plain function the API exposes: one customer message in, one grounded reply out."""
    return assistant.respond(conversation, message)
